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
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "central/id_window.h"
#include "central/metrics.h"
#include "central/outbound.h"
#include "central/registry.h"
#include "common/audit_log.h"
#include "common/clock.h"
#include "common/kafka_consumer.h"
#include "evnet/v1/central.pb.h"
#include "evnet/v1/events.pb.h"

namespace evnet {

struct CoordinatorOptions {
  // Requests that waited longer in Kafka are rejected as expired; request
  // ids are remembered this long.
  absl::Duration request_ttl = absl::Seconds(60);
  // At most one progress update per session this often.
  absl::Duration progress_interval = absl::Seconds(2);
  absl::Duration command_timeout = absl::Seconds(5);
  // How long a ticketed (or refused) session id is remembered, so that a
  // result delivered again is not billed twice.
  absl::Duration result_dedupe_window = absl::Minutes(10);
  // Ended sessions kept for ListSessions and the dashboard's tickets.
  size_t keep_ended = 1000;
  // Where requests refused as invalid are audited (not owned); none: not.
  AuditLog* audit = nullptr;
};

class SessionCoordinator {
 public:
  SessionCoordinator(CoordinatorOptions options, Clock& clock, Registry& registry,
                     CommandSender& sender, UpdatePublisher& publisher, Metrics& metrics);

  // Rebuilding state at start, from central's ledger (its own decisions).
  void RestoreUpdate(const v1::DriverUpdate& update);
  // The rebuild read everything.
  void FinishRestore();
  // Sessions the CPs report running that central has no record of (started
  // before the ledger's window): open again, by CP id.
  void AdoptRunning(const std::vector<std::pair<std::string, v1::SupplySnapshot>>& running);

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
    v1::Session session;
    absl::Time last_progress = absl::InfinitePast();
    int progress_count = 0;
    bool interrupted = false;
  };

  // `label` names the kind of refusal in metrics; `reason` is for the driver.
  void Reject(const v1::DriverRequest& request, absl::string_view label,
              const std::string& reason, const std::string& session_id, Done done);
  void PublishAccepted(const v1::Session& session, Done done);
  void Started(const v1::DriverRequest& request, const std::string& session_id,
               absl::Status started, Done done);
  void AddOpenLocked(const v1::Session& session) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Closes `session` if open; with a ticket, keeps it among the ended ones.
  void EndLocked(const v1::Session& session, const v1::SessionResult* ticket)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  const Open* OpenAtLocked(const std::string& cp_id) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  v1::DriverUpdate NewUpdate(const v1::Session& session, v1::UpdateKind kind,
                             const std::string& suffix) const;

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
  std::deque<v1::Session> ended_ ABSL_GUARDED_BY(mu_);  // newest last
  IdWindow answered_requests_ ABSL_GUARDED_BY(mu_);     // outcome published
  std::set<std::string> requests_in_flight_ ABSL_GUARDED_BY(mu_);
  IdWindow ticketed_ ABSL_GUARDED_BY(mu_);  // session ids
  std::set<std::string> tickets_in_flight_ ABSL_GUARDED_BY(mu_);
  // Sessions whose start the driver was told failed: never billed.
  IdWindow refused_ ABSL_GUARDED_BY(mu_);
};

}  // namespace evnet

#endif  // EVNET_CENTRAL_COORDINATOR_H_
