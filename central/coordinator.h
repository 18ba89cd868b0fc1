// The session coordinator: turns drivers' requests into sessions (or
// rejections a person understands), keeps drivers informed, and records each
// session's result once, sending one ticket. Every effect is idempotent by
// the message's id, so Kafka's at-least-once delivery bills nothing twice.
#ifndef EVNET_CENTRAL_COORDINATOR_H_
#define EVNET_CENTRAL_COORDINATOR_H_

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "central/metrics.h"
#include "central/registry.h"
#include "common/clock.h"
#include "common/kafka_consumer.h"
#include "evnet/v1/central.pb.h"
#include "evnet/v1/events.pb.h"

namespace evnet {

// Sends a command down a CP's monitor link and waits for its outcome.
class CommandSender {
 public:
  virtual ~CommandSender() = default;
  [[nodiscard]] virtual absl::Status SendCommand(const std::string& cp_id,
                                                 v1::CentralCommand command,
                                                 absl::Duration timeout) = 0;
};

// Publishes to evnet.driver.updates; OK once Kafka has it.
class UpdatePublisher {
 public:
  virtual ~UpdatePublisher() = default;
  [[nodiscard]] virtual absl::Status Publish(const v1::DriverUpdate& update) = 0;
};

struct CoordinatorOptions {
  // Requests that waited longer in Kafka are rejected as expired.
  absl::Duration request_ttl = absl::Seconds(60);
  // At most one progress update per session this often.
  absl::Duration progress_interval = absl::Seconds(2);
  absl::Duration command_timeout = absl::Seconds(5);
};

class SessionCoordinator {
 public:
  SessionCoordinator(CoordinatorOptions options, Clock& clock, Registry& registry,
                     CommandSender& sender, UpdatePublisher& publisher, Metrics& metrics);

  // Rebuilding state at start, from central's own past updates and from the
  // engines' results.
  void RestoreUpdate(const v1::DriverUpdate& update);
  void RestoreResult(const v1::SessionResult& result);
  // Tickets for results that central recorded no ticket for.
  [[nodiscard]] absl::Status SendMissingTickets();

  // Kafka handlers. A non-OK status means "not done": the message comes again.
  [[nodiscard]] absl::Status HandleRequest(const v1::DriverRequest& request,
                                           const KafkaMessage& message);
  [[nodiscard]] absl::Status HandleResult(const v1::SessionResult& result);
  [[nodiscard]] absl::Status HandleTelemetry(const v1::SupplyTelemetry& telemetry);

  // A CP's status changed (from the registry's sweep): log lines of
  // DESIGN.md, and drivers told when their CP failed under them.
  void OnStatusChange(const StatusChange& change);

  // Ends the session running at `cp_id`, if any, as stopped by the operator.
  [[nodiscard]] absl::Status StopSessionAt(const std::string& cp_id);

  std::vector<v1::Session> Sessions(const v1::ListSessionsRequest& filter) const;
  // Sessions started and not yet ended.
  int RunningSessions() const;

 private:
  // `label` names the kind of refusal in metrics; `reason` is for the driver.
  absl::Status Reject(const v1::DriverRequest& request, absl::string_view label,
                      const std::string& reason);
  absl::Status PublishAccepted(const v1::Session& session);
  std::optional<v1::Session> OpenSessionWhereLocked(const std::string& cp_id,
                                                    const std::string& driver_id) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  v1::DriverUpdate NewUpdate(const v1::Session& session, v1::UpdateKind kind,
                             const std::string& suffix) const;

  const CoordinatorOptions options_;
  Clock& clock_;
  Registry& registry_;
  CommandSender& sender_;
  UpdatePublisher& publisher_;
  Metrics& metrics_;

  mutable absl::Mutex mu_;
  std::map<std::string, v1::Session> sessions_ ABSL_GUARDED_BY(mu_);  // by session id
  std::set<std::string> answered_requests_ ABSL_GUARDED_BY(mu_);      // outcome published
  std::set<std::string> ticketed_ ABSL_GUARDED_BY(mu_);               // session ids
  std::set<std::string> interrupted_ ABSL_GUARDED_BY(mu_);            // session ids
  std::map<std::string, v1::SessionResult> unticketed_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::Time> last_progress_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> progress_count_ ABSL_GUARDED_BY(mu_);
};

}  // namespace evnet

#endif  // EVNET_CENTRAL_COORDINATOR_H_
