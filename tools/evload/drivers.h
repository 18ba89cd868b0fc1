// evload's drivers and baselines: drivers that ask for charges at idle
// simulated CPs at a fixed rate over Kafka and time each request until
// ACCEPTED; a watcher that times a health report until it is visible on
// WatchChargingPoints; and the bare Kafka echo (produce -> consume ->
// produce -> consume, the same two hops as request -> central -> update)
// that the request latency is compared with.
#ifndef EVNET_TOOLS_EVLOAD_DRIVERS_H_
#define EVNET_TOOLS_EVLOAD_DRIVERS_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/trust/transport_security.h"
#include "tools/evload/fleet.h"
#include "tools/evload/samples.h"

namespace evnet::evload {

struct DriverLoadOptions {
  std::string kafka_bootstrap;
  int drivers = 100;
  double rate = 10;  // requests per second, all drivers together
  absl::Duration duration = absl::Seconds(30);
};

struct DriverLoadResult {
  int64_t sent = 0;
  int64_t accepted = 0;
  int64_t rejected = 0;
  int64_t tickets = 0;
  Samples accept_latency;
};

// Runs the drivers for the options' duration, then waits a little for the
// answers still on their way.
absl::Status RunDrivers(const DriverLoadOptions& options, Fleet& fleet, KafkaProducer& producer,
                        DriverLoadResult& result);

// Writes `records` of past history, stamped `age` ago: ended sessions on
// evnet.driver.updates and central's ledger, as a long-running network
// leaves behind. For measuring a restart; returns when Kafka has them all.
absl::Status WriteHistory(KafkaProducer& producer, int64_t records, absl::Duration age);

// The bare Kafka echo at `rate` messages a second for `duration`.
absl::Status RunKafkaEcho(const std::string& bootstrap, double rate, absl::Duration duration,
                          Samples& round_trips);

// Watches central; for each CP the fleet broke, the time from its report to
// the BROKEN state on the watch stream. Runs until `stop`.
void WatchFaults(const std::string& central_address, const TransportSecurity& security,
                 Fleet& fleet, std::atomic<bool>& stop,
                 Samples& visible);

}  // namespace evnet::evload

#endif  // EVNET_TOOLS_EVLOAD_DRIVERS_H_
