#include "cp_monitor/cp_monitor.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/trust/peer_identity.h"
#include "glog/logging.h"

namespace evnet {

absl::StatusOr<std::unique_ptr<CpMonitor>> CpMonitor::Start(CpMonitorOptions options) {
  const MonitorOptions& m = options.monitor;
  if (m.cp_id.empty() || m.failure_threshold < 1 || m.startup_grace < absl::ZeroDuration() ||
      options.check_interval <= absl::ZeroDuration() ||
      options.recheck_interval <= absl::ZeroDuration() ||
      m.check_timeout <= absl::ZeroDuration() || options.clock == nullptr) {
    return absl::InvalidArgumentError(
        "the CP's id must be set, the failure threshold at least 1, the startup grace not "
        "negative, and the check interval, recheck interval and check timeout positive");
  }
  if (m.check_timeout >= options.check_interval) {
    LOG(WARNING) << "CP_M:" << m.cp_id << " | the check timeout " << m.check_timeout
                 << " is not shorter than the check interval " << options.check_interval
                 << "; checks may run late";
  }
  if (!options.security.insecure) {
    absl::Status own = CheckOwnCertificate(options.security.cert_file, kRoleCp, m.cp_id);
    if (!own.ok()) return own;
  }
  std::unique_ptr<CpMonitor> cp(new CpMonitor(std::move(options)));
  const CpMonitorOptions& o = cp->options_;
  // The monitor serves nothing but, when asked, the standard health service.
  if (!o.health_listen.empty()) {
    absl::StatusOr<std::unique_ptr<GrpcServer>> health =
        GrpcServer::Start({o.health_listen, {}, TransportSecurity::Insecure()});
    if (!health.ok()) return health.status();
    cp->health_ = *std::move(health);
  }
  cp->engine_ =
      std::make_unique<GrpcEngineClient>(o.engine_address, o.security, o.monitor.cp_id);
  cp->monitor_ = std::make_unique<Monitor>(o.monitor, *o.clock, *cp->engine_);
  cp->checker_ = std::thread([self = cp.get()] { self->Run(); });
  return cp;
}

void CpMonitor::Run() {
  const CpMonitorOptions& o = options_;
  const absl::Duration recheck = std::min(o.check_interval, o.recheck_interval);
  // Check before registering: until the engine answers, or until it is
  // declared faulty (then central shows the CP BROKEN).
  monitor_->CheckOnce();
  while (!monitor_->engine_known() && !monitor_->engine_faulty() &&
         !stop_.WaitForNotificationWithTimeout(recheck)) {
    monitor_->CheckOnce();
  }
  if (stop_.HasBeenNotified()) return;
  link_ = std::make_unique<CentralLink>(o.central_address, o.security, *monitor_, *o.clock);
  monitor_->set_uplink(link_.get());
  LOG(INFO) << "CP_M:" << o.monitor.cp_id << " | Monitoring engine at " << o.engine_address
            << " every " << o.check_interval << ", reporting to Central at "
            << o.central_address;
  while (!stop_.WaitForNotificationWithTimeout(monitor_->checks_failing() ? recheck
                                                                           : o.check_interval)) {
    monitor_->CheckOnce();
  }
}

CpMonitor::~CpMonitor() {
  stop_.Notify();
  if (checker_.joinable()) checker_.join();
  link_.reset();  // its thread relays commands to the monitor: gone first
}

}  // namespace evnet
