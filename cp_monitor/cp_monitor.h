// The cp_monitor program, assembled: the Monitor of one CP, its gRPC client
// of the engine, its link to central, the standard health service for
// probes, and the thread that checks the engine. main.cc turns flags into
// CpMonitorOptions and waits for a signal; tests start as many as they like
// in one process.
//
// Threads: the checker's (the first checks, then the link's creation, then
// a check every interval, or every recheck interval while checks fail) and
// the link's own (CentralLink). The destructor stops and joins the checker,
// then closes the link, before the monitor goes.
#ifndef EVNET_CP_MONITOR_CP_MONITOR_H_
#define EVNET_CP_MONITOR_CP_MONITOR_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/grpc/grpc_server.h"
#include "common/trust/transport_security.h"
#include "cp_monitor/central_link.h"
#include "cp_monitor/engine_client.h"
#include "cp_monitor/health_monitor.h"

namespace evnet {

struct CpMonitorOptions {
  // The CP, its check's deadline, failures that make a fault, startup grace.
  MonitorOptions monitor;
  std::string engine_address = "127.0.0.1:50061";
  std::string central_address = "127.0.0.1:50051";
  TransportSecurity security = TransportSecurity::Insecure();
  absl::Duration check_interval = absl::Seconds(1);
  // After a failed check the next comes this soon (at most check_interval).
  absl::Duration recheck_interval = absl::Milliseconds(500);
  // grpc.health.v1.Health alone, in plaintext, for probes; empty: nowhere.
  std::string health_listen;
  // Never null.
  Clock* clock = &SystemClock::Get();
};

class CpMonitor {
 public:
  // Starts checking at once and links to central once the engine has
  // answered or is declared faulty, so that central learns the CP's
  // location, price and power with its registration. Fails on bad options
  // or a certificate that is not the CP's.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<CpMonitor>> Start(CpMonitorOptions options);
  ~CpMonitor();

  Monitor& monitor() { return *monitor_; }
  const std::string& cp_id() const { return options_.monitor.cp_id; }

 private:
  explicit CpMonitor(CpMonitorOptions options) : options_(std::move(options)) {}
  void Run();

  const CpMonitorOptions options_;
  std::unique_ptr<GrpcServer> health_;
  std::unique_ptr<GrpcEngineClient> engine_;
  std::unique_ptr<Monitor> monitor_;
  std::unique_ptr<CentralLink> link_;  // made by checker_, read only by it and the destructor
  absl::Notification stop_;
  std::thread checker_;
};

}  // namespace evnet

#endif  // EVNET_CP_MONITOR_CP_MONITOR_H_
