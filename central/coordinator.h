// The session coordinator: turns drivers' requests into sessions (or
// rejections a person understands), keeps drivers informed, and records each
// session's result once, sending one ticket. Every effect is idempotent by
// the message's id, so Kafka's at-least-once delivery bills nothing twice.
//
// Nothing here waits: a request that needs its CP's answer is parked until
// the answer (or its timeout) comes, so a slow CP delays only its own
// drivers. Memory is bounded: open sessions, the last `keep_ended` ended
// ones, and ids remembered for their dedupe window only.
#ifndef EVNET_CENTRAL_COORDINATOR_H_
#define EVNET_CENTRAL_COORDINATOR_H_

#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "central/id_window.h"
#include "central/metrics.h"
#include "central/outbound.h"
#include "central/registry.h"
#include "common/trust/audit_log.h"
#include "common/clock.h"
#include "common/kafka/kafka_consumer.h"
#include "evnet/v1/central.pb.h"
#include "evnet/v1/events.pb.h"

namespace evnet {

struct CoordinatorOptions {
  // Requests that waited longer in Kafka are rejected as expired.
  absl::Duration request_ttl = absl::Seconds(60);
  // How far a driver's clock may be from central's: a request stamped more
  // than request_ttl + clock_skew ago is expired, one stamped more than
  // clock_skew ahead is refused. Request ids are remembered for
  // request_ttl + 2 * clock_skew after their answer (and as long again
  // after a restart), which covers every copy that can still arrive in time.
  absl::Duration clock_skew = absl::Minutes(2);
  // At most one progress update per session this often.
  absl::Duration progress_interval = absl::Seconds(2);
  absl::Duration command_timeout = absl::Seconds(5);
  // How long a ticketed (or refused) session id is remembered, so that a
  // result delivered again is recognised as a copy (never billed twice
  // either way: a ticketed session is no longer held open).
  absl::Duration result_dedupe_window = absl::Minutes(10);
  // A session held open that its CP, reporting and healthy, no longer runs
  // and holds no result for, is closed with an explicit zero ticket after
  // this long (the engine lost its journal).
  absl::Duration orphan_timeout = absl::Minutes(2);
  // A session a CP runs that central did not open is stopped once it was
  // reported this long (a request redelivered after a crash may still
  // claim it first).
  absl::Duration unasked_grace = absl::Seconds(10);
  // Stops of refused and unasked sessions are sent again this often until
  // their CP no longer runs them.
  absl::Duration stop_retry = absl::Seconds(5);
  // Ended sessions kept for ListSessions and the dashboard's tickets.
  size_t keep_ended = 1000;
  // Where refused requests and closed or unasked sessions are audited (not
  // owned); none: not.
  AuditLog* audit = nullptr;
};

class SessionCoordinator {
 public:
  SessionCoordinator(CoordinatorOptions options, Clock& clock, Registry& registry,
                     CommandSender& sender, UpdatePublisher& publisher, Metrics& metrics);

  // Rebuilding state at start: the sessions central holds open, whole
  // (evnet.central.sessions; a tombstone closes one), and its recent
  // decisions (the ledger), for its dedupe windows.
  void RestoreOpenSession(const v1::OpenSession& open);
  void RestoreClosedSession(const std::string& session_id);
  void RestoreUpdate(const v1::DriverUpdate& update);
  // The rebuild read everything.
  void FinishRestore();
  // The record of a session an earlier version's ledger says it accepted
  // (`accepted`, UPDATE_KIND_ACCEPTED), as this version would have held it:
  // opened when it was accepted, at its CP's registered price.
  v1::OpenSession RecordOfAccepted(const v1::DriverUpdate& accepted) const;

  // Reconciles what central holds open with what the CPs report (called
  // every few seconds with Registry::Reports): a session a CP runs that
  // central did not open, or refused, is stopped there (again, until it is
  // gone); a session central holds open that its healthy CP no longer runs
  // nor holds a result for is closed after `orphan_timeout` with a zero
  // ticket, audited. `results_caught_up`: no backlog of results waits in
  // Kafka, so a missing result is really missing.
  void Reconcile(const std::vector<CpReport>& reports, bool results_caught_up);

  // Kafka handlers: `done` gets OK once the effect is done; INVALID_ARGUMENT
  // when the message is refused for good (it is set aside with that
  // reason); anything else means "not done": the message comes again.
  void HandleRequest(const v1::DriverRequest& request, const KafkaMessage& message, Done done);
  void HandleResult(const v1::SessionResult& result, Done done);
  // Progress is best effort; only a refusal is returned.
  absl::Status HandleTelemetry(const v1::SupplyTelemetry& telemetry);

  // A CP's status changed (from the registry's sweep): log lines of
  // DESIGN.md, and drivers told when their CP failed under them.
  void OnStatusChange(const StatusChange& change);

  // A transaction a charger began by itself, with an id token of
  // `request.driver_id()`'s (checked by the caller): opened as that
  // driver's session and accepted at once, since the CP already supplies
  // it; the driver is told as for any session. `request.request_id()` names
  // the charger's transaction for good: asked again, the same session is
  // answered. `done` gets the session as a StartSupply would have begun it;
  // FAILED_PRECONDITION saying why it may not run (ALREADY_EXISTS: its
  // driver charges elsewhere); UNAVAILABLE: not recorded, to be asked again.
  using OpenedDone = std::function<void(absl::StatusOr<v1::StartSupplyRequest>)>;
  void OpenChargerSession(const v1::DriverRequest& request, OpenedDone done);

  // Ends the session running at `cp_id`, if any, as stopped by the operator.
  void StopSessionAt(const std::string& cp_id, Done done);
  // Tells the CP's monitor that the operator stopped or resumed it, for a
  // charger that keeps its own availability (an OCPP charger's).
  void TellAvailability(const std::string& cp_id, bool operative);

  // Forgets ids past their dedupe window; called now and then.
  void Prune();

  // Open sessions and the latest ended ones, by session id.
  std::vector<v1::Session> Sessions(const v1::ListSessionsRequest& filter) const;
  // Sessions started and not yet ended.
  int RunningSessions() const;
  // Ids remembered for deduplication, for the memory figures.
  size_t RememberedIds() const;

 private:
  struct Open {
    v1::Session session;  // STARTING (in memory only) or SUPPLYING (accepted)
    v1::OpenSession record;  // as held in evnet.central.sessions once accepted
    // The CP answered its start: the acceptance may be said (again).
    bool started = false;
    absl::Time last_progress = absl::InfinitePast();
    int progress_count = 0;
    // Since when its CP, reporting and healthy, no longer runs it.
    absl::Time missing_since = absl::InfiniteFuture();
    // Sent to its CP with the start: its telemetry must carry its MAC.
    std::string telemetry_key;
    bool forged_telemetry_seen = false;  // said (log, audit) once per session
    // The price its start told the CP to bill at; its record holds the same.
    std::optional<double> price_eur_per_kwh;
  };
  // A session refused to its driver that its CP may still run.
  struct Refused {
    v1::OpenSession record;
    absl::Time last_stop = absl::InfinitePast();
    absl::Time missing_since = absl::InfiniteFuture();
  };
  // A session a CP runs that central never opened.
  struct Unasked {
    std::string cp_id;
    absl::Time first_seen;
    absl::Time last_stop = absl::InfinitePast();
  };

  // What a request's first copy finds when it claims its id.
  struct Claim {
    // kBeingClosed: its session's ticket is being written; it comes again.
    enum Kind { kNew, kDuplicate, kAcceptedBefore, kBeingClosed } kind;
    // kAcceptedBefore: the session, to announce again; its record only if
    // Kafka may not have it yet.
    std::optional<Open> accepted;
  };

  // HandleRequest's steps, in order. Check: the request as central serves
  // it (driver, id and time filled from the message), or why it is set
  // aside. Claim: its id, once. AcceptRunning: a session its CP already
  // runs (central died between starting it and saying so). Reserve: its CP
  // and driver, unless busy. SendStart: the command, answered
  // in Started.
  absl::StatusOr<v1::DriverRequest> CheckRequest(const v1::DriverRequest& original,
                                                 const KafkaMessage& message) const;
  Claim ClaimRequest(const v1::DriverRequest& request, const std::string& session_id);
  // The CP's status for a new session: ACTIVE also while its monitor still
  // reports the supply of a session whose ticket is written (or being
  // written). Takes mu_: called outside it, or in a start's precondition
  // under LinkHub's command order (the coordinator never sends a command
  // while it holds mu_, so the two are always taken in that order).
  v1::CpStatus StatusForStart(const v1::ChargingPoint& cp) const ABSL_LOCKS_EXCLUDED(mu_);
  void AcceptRunning(const v1::DriverRequest& request, const std::string& session_id,
                     const v1::ChargingPoint& cp, Done done);
  // OK: reserved; FAILED_PRECONDITION: its CP is busy, ALREADY_EXISTS: its
  // driver is, saying why; UNAVAILABLE: the
  // session in the way is being ticketed, and the request is to come again.
  absl::Status Reserve(const v1::DriverRequest& request, const std::string& session_id,
                       const std::string& telemetry_key);
  // `price_eur_per_kwh`: its CP's as the request found it, told to the CP.
  void SendStart(const v1::DriverRequest& request, const std::string& session_id,
                 const std::string& telemetry_key, double price_eur_per_kwh, Done done);
  // `label` names the kind of refusal in metrics; `reason` is for the driver.
  // `refused`: a start that may have reached the CP, held open as refused
  // (stopped there, never billed) in the same transaction as the answer.
  void Reject(const v1::DriverRequest& request, absl::string_view label,
              const std::string& reason, std::optional<v1::OpenSession> refused, Done done);
  // What HandleRequest checks before a request may start a session: the
  // rejection, if any, and its label.
  std::optional<std::pair<std::string, std::string>> Refusal(const v1::DriverRequest& request,
                                                             const KafkaMessage& message) const;
  void PublishAccepted(const v1::Session& session, const v1::OpenSession& record, Done done);
  void Started(const v1::DriverRequest& request, const std::string& session_id,
               absl::Status started, Done done);
  void AddOpenLocked(const v1::Session& session, const std::string& telemetry_key)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Closes `session` if open; with a ticket, keeps it among the ended ones.
  void EndLocked(const v1::Session& session, const v1::SessionResult* ticket)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  const Open* OpenAtLocked(const std::string& cp_id) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  v1::DriverUpdate NewUpdate(const v1::Session& session, v1::UpdateKind kind,
                             const std::string& suffix) const;
  v1::OpenSession RecordOf(const v1::Session& session, v1::OpenSessionState state,
                           const std::string& telemetry_key = "") const;
  // Sends a stop for `session_id` to `cp_id`, for a session not billed.
  void SendStop(const std::string& cp_id, const std::string& session_id);
  // Closes an accepted session whose result never came: a zero ticket.
  void CloseUnconfirmed(const v1::Session& session);
  void Audit(const std::string& action, const std::string& target, const std::string& result,
             const std::string& reason);

  const CoordinatorOptions options_;
  Clock& clock_;
  Registry& registry_;
  CommandSender& sender_;
  UpdatePublisher& publisher_;
  Metrics& metrics_;

  mutable absl::Mutex mu_;
  std::map<std::string, Open> open_ ABSL_GUARDED_BY(mu_);  // by session id
  absl::flat_hash_map<std::string, std::string> open_by_cp_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::string> open_by_driver_ ABSL_GUARDED_BY(mu_);
  // Refused to their driver, possibly still running at their CP.
  std::map<std::string, Refused> refused_open_ ABSL_GUARDED_BY(mu_);  // by session id
  std::map<std::string, Unasked> unasked_ ABSL_GUARDED_BY(mu_);       // by session id
  std::set<std::string> closing_ ABSL_GUARDED_BY(mu_);  // zero tickets in flight
  std::deque<v1::Session> ended_ ABSL_GUARDED_BY(mu_);  // newest last
  IdWindow answered_requests_ ABSL_GUARDED_BY(mu_);     // outcome published
  std::set<std::string> requests_in_flight_ ABSL_GUARDED_BY(mu_);
  IdWindow ticketed_ ABSL_GUARDED_BY(mu_);  // session ids
  std::set<std::string> tickets_in_flight_ ABSL_GUARDED_BY(mu_);
  // Sessions whose start the driver was told failed, no longer held open:
  // a late result is recognised (and never billed).
  IdWindow refused_ ABSL_GUARDED_BY(mu_);
};

}  // namespace evnet

#endif  // EVNET_CENTRAL_COORDINATOR_H_
