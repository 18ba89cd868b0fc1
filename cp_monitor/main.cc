// cp_monitor: sits beside its CP's engine, checks it every second, and is the
// only reporter of that CP's health to central.
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "common/flags.h"
#include "common/trust/transport_security.h"
#include "cp_monitor/cp_monitor.h"
#include "glog/logging.h"

ABSL_FLAG(std::string, cp_id, "CP-001", "id of the CP this monitor watches (env CP_ID)");
ABSL_FLAG(std::string, engine_address, "127.0.0.1:50061",
          "the CP's engine, on its local address (env ENGINE_ADDRESS)");
ABSL_FLAG(std::string, central_address, "127.0.0.1:50051", "central (env CENTRAL_ADDRESS)");
ABSL_FLAG(absl::Duration, check_interval, absl::Seconds(1),
          "how often the engine is checked (env CHECK_INTERVAL)");
ABSL_FLAG(absl::Duration, check_timeout, absl::Milliseconds(500),
          "deadline of one check (env CHECK_TIMEOUT)");
ABSL_FLAG(int, failure_threshold, 3,
          "failed checks in a row that make a fault (env FAILURE_THRESHOLD)");
ABSL_FLAG(absl::Duration, startup_grace, absl::Seconds(10),
          "until the engine first answers, failed checks are not counted for this long, so "
          "that a monitor started before its engine reports no fault (env STARTUP_GRACE)");
ABSL_FLAG(std::string, health_listen, "",
          "where to serve grpc.health.v1.Health for probes, e.g. 0.0.0.0:50071; empty: "
          "nowhere (env HEALTH_LISTEN)");
ABSL_FLAG(absl::Duration, recheck_interval, absl::Milliseconds(500),
          "after a failed check, the next comes this soon, so that a dead engine is "
          "confirmed quickly (env RECHECK_INTERVAL)");

namespace evnet {
namespace {

int Main() {
  CpMonitorOptions options;
  options.monitor.cp_id = absl::GetFlag(FLAGS_cp_id);
  options.monitor.check_timeout = absl::GetFlag(FLAGS_check_timeout);
  options.monitor.failure_threshold = absl::GetFlag(FLAGS_failure_threshold);
  options.monitor.startup_grace = absl::GetFlag(FLAGS_startup_grace);
  options.engine_address = absl::GetFlag(FLAGS_engine_address);
  options.central_address = absl::GetFlag(FLAGS_central_address);
  options.check_interval = absl::GetFlag(FLAGS_check_interval);
  options.recheck_interval = absl::GetFlag(FLAGS_recheck_interval);
  options.health_listen = absl::GetFlag(FLAGS_health_listen);
  const std::string tag = absl::StrCat("CP_M:", options.monitor.cp_id);
  absl::StatusOr<TransportSecurity> security = TransportSecurityFromFlags(tag);
  if (!security.ok()) {
    LOG(ERROR) << tag << " | " << security.status().message();
    return 2;
  }
  options.security = *security;
  absl::StatusOr<std::unique_ptr<CpMonitor>> monitor = CpMonitor::Start(std::move(options));
  if (!monitor.ok()) {
    LOG(ERROR) << tag << " | " << monitor.status().message();
    return 2;
  }
  WaitForShutdownSignal();
  monitor->reset();
  return 0;
}

}  // namespace
}  // namespace evnet

int main(int argc, char** argv) {
  evnet::InitProgram(argc, argv, "cp_monitor: health of one charging point, reported to central",
                     evnet::WithTransportSecurityEnv({{"cp_id", "CP_ID"},
                      {"engine_address", "ENGINE_ADDRESS"},
                      {"central_address", "CENTRAL_ADDRESS"},
                      {"check_interval", "CHECK_INTERVAL"},
                      {"check_timeout", "CHECK_TIMEOUT"},
                      {"failure_threshold", "FAILURE_THRESHOLD"},
                      {"recheck_interval", "RECHECK_INTERVAL"},
                      {"startup_grace", "STARTUP_GRACE"},
                      {"health_listen", "HEALTH_LISTEN"}}));
  return evnet::Main();
}
