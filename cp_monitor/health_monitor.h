// The monitor of one CP: checks its engine, counts failures, reports health
// to central, and relays central's supply commands to the engine. It is the
// only reporter of the CP's health. The logic lives here; the links to the
// engine and to central are interfaces, so tests drive it with fakes and a
// fake clock.
#ifndef EVNET_CP_MONITOR_HEALTH_MONITOR_H_
#define EVNET_CP_MONITOR_HEALTH_MONITOR_H_

#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "cp_monitor/health_tracker.h"
#include "evnet/v1/central.pb.h"
#include "evnet/v1/engine.pb.h"

namespace evnet {

// The engine, as its monitor reaches it.
class EngineClient {
 public:
  virtual ~EngineClient() = default;
  virtual absl::StatusOr<v1::CheckResponse> Check(absl::Duration timeout) = 0;
  virtual absl::Status StartSupply(const v1::StartSupplyRequest& request,
                                   absl::Duration timeout) = 0;
  virtual absl::Status StopSupply(const v1::StopSupplyRequest& request,
                                  absl::Duration timeout) = 0;
};

// Central, as the monitor reaches it.
class CentralUplink {
 public:
  virtual ~CentralUplink() = default;
  // False when the link is down; the next report will carry the news.
  virtual bool Send(const v1::MonitorMessage& message) = 0;
};

struct MonitorOptions {
  std::string cp_id;
  absl::Duration check_timeout = absl::Milliseconds(500);
  int failure_threshold = 3;
  absl::Duration command_timeout = absl::Seconds(3);
  // From the monitor's start until its engine first answers, at most this
  // long: failed checks are not counted, so that a CP whose monitor starts
  // before its engine listens is not reported broken for a fault that never
  // happened. An engine that never comes up is a fault after it.
  absl::Duration startup_grace = absl::ZeroDuration();
};

class Monitor {
 public:
  Monitor(MonitorOptions options, Clock& clock, EngineClient& engine);

  // Where reports go; set before the first check.
  void set_uplink(CentralUplink* uplink) { uplink_ = uplink; }

  // One health check of the engine, logged and reported to central.
  void CheckOnce();

  // What the link sends first on every (re)connection.
  v1::MonitorMessage Registration() const;
  // The latest health report (sent right after registering).
  v1::MonitorMessage LastReport() const;

  // Relays one of central's commands to the engine; returns its outcome.
  v1::CommandResult HandleCommand(const v1::CentralCommand& command);

  bool engine_faulty() const;
  // Whether the last check failed (a fault may be on its way).
  bool checks_failing() const;
  // Whether the engine has answered a check since the monitor started.
  bool engine_known() const;

 private:
  std::string Tag() const;
  v1::MonitorMessage ReportLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const MonitorOptions options_;
  Clock& clock_;
  EngineClient& engine_;
  CentralUplink* uplink_ = nullptr;

  mutable absl::Mutex mu_;
  HealthTracker tracker_ ABSL_GUARDED_BY(mu_);
  v1::ChargingPointInfo info_ ABSL_GUARDED_BY(mu_);
  v1::CheckResponse last_check_ ABSL_GUARDED_BY(mu_);
  absl::Time last_check_at_ ABSL_GUARDED_BY(mu_);  // wall time, for central's people
  // Results the engine last said Kafka has not acknowledged. Kept while it
  // does not answer: its journal still holds them, and they are sent when it
  // is back, so central must not close those sessions as lost meanwhile.
  std::vector<std::string> pending_results_ ABSL_GUARDED_BY(mu_);
  bool engine_known_ ABSL_GUARDED_BY(mu_) = false;
  const absl::Time started_;  // steady: the startup grace is measured on it
  bool waiting_logged_ ABSL_GUARDED_BY(mu_) = false;
  // A fault or a restoration that central has not been told of yet.
  bool fault_unsent_ ABSL_GUARDED_BY(mu_) = false;
  bool restoration_unsent_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace evnet

#endif  // EVNET_CP_MONITOR_HEALTH_MONITOR_H_
