// cp_monitor: sits beside its CP's engine, checks it every second, and is the
// only reporter of that CP's health to central.
#include <algorithm>
#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/flags.h"
#include "common/grpc_server.h"
#include "common/peer_identity.h"
#include "common/transport_security.h"
#include "cp_monitor/central_link.h"
#include "cp_monitor/engine_client.h"
#include "cp_monitor/health_monitor.h"
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
  MonitorOptions options;
  options.cp_id = absl::GetFlag(FLAGS_cp_id);
  options.check_timeout = absl::GetFlag(FLAGS_check_timeout);
  options.failure_threshold = absl::GetFlag(FLAGS_failure_threshold);
  options.startup_grace = absl::GetFlag(FLAGS_startup_grace);
  const absl::Duration interval = absl::GetFlag(FLAGS_check_interval);
  if (options.cp_id.empty() || options.failure_threshold < 1 ||
      options.startup_grace < absl::ZeroDuration() ||
      interval <= absl::ZeroDuration() || options.check_timeout <= absl::ZeroDuration()) {
    LOG(ERROR) << "--cp_id must be set, --failure_threshold at least 1, --startup_grace not "
                  "negative, and --check_interval and --check_timeout positive";
    return 2;
  }
  if (options.check_timeout >= interval) {
    LOG(WARNING) << "CP_M:" << options.cp_id << " | --check_timeout "
                 << options.check_timeout << " is not shorter than --check_interval "
                 << interval << "; checks may run late";
  }

  absl::StatusOr<TransportSecurity> security =
      TransportSecurityFromFlags(absl::StrCat("CP_M:", options.cp_id));
  if (!security.ok()) {
    LOG(ERROR) << "CP_M:" << options.cp_id << " | " << security.status().message();
    return 2;
  }
  if (!security->insecure) {
    absl::Status own = CheckOwnCertificate(security->cert_file, kRoleCp, options.cp_id);
    if (!own.ok()) {
      LOG(ERROR) << "CP_M:" << options.cp_id << " | " << own.message();
      return 2;
    }
  }

  // The monitor serves nothing but, when asked, the standard health service.
  std::unique_ptr<GrpcServer> health;
  if (!absl::GetFlag(FLAGS_health_listen).empty()) {
    absl::StatusOr<std::unique_ptr<GrpcServer>> started =
        GrpcServer::Start({absl::GetFlag(FLAGS_health_listen), {}, TransportSecurity::Insecure()});
    if (!started.ok()) {
      LOG(ERROR) << "CP_M:" << options.cp_id << " | " << started.status();
      return 2;
    }
    health = *std::move(started);
  }

  GrpcEngineClient engine(absl::GetFlag(FLAGS_engine_address), *security, options.cp_id);
  Monitor monitor(options, SystemClock::Get(), engine);
  // Check before registering, so central learns the CP's location, price
  // and power with its registration: until the engine answers, or until it
  // is declared faulty (then central shows the CP BROKEN).
  const absl::Duration recheck = std::min(interval, absl::GetFlag(FLAGS_recheck_interval));
  absl::Notification stop;
  monitor.CheckOnce();
  while (!monitor.engine_known() && !monitor.engine_faulty() &&
         !stop.WaitForNotificationWithTimeout(recheck)) {
    monitor.CheckOnce();
  }
  CentralLink link(absl::GetFlag(FLAGS_central_address), *security, monitor, SystemClock::Get());
  monitor.set_uplink(&link);
  LOG(INFO) << "CP_M:" << options.cp_id << " | Monitoring engine at "
            << absl::GetFlag(FLAGS_engine_address) << " every " << interval
            << ", reporting to Central at " << absl::GetFlag(FLAGS_central_address);
  // Checks every --check_interval, or every --recheck_interval while the
  // engine is failing, until a shutdown signal.
  std::thread checker([&] {
    while (!stop.WaitForNotificationWithTimeout(monitor.checks_failing() ? recheck : interval)) {
      monitor.CheckOnce();
    }
  });
  WaitForShutdownSignal();
  stop.Notify();
  checker.join();
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
