// evload: plays N charging points and M drivers against a real central and
// a real Kafka broker, and prints what it saw. Uses only the public gRPC API
// and the topics, nothing of central's code.
//
//   evload --cps=10000 --seconds=60                    hold 10,000 CPs
//   evload --cps=10000 --rate=500 --drivers=2000       ... and drive requests
//   evload --echo_rate=500 --seconds=20                the bare Kafka echo
//   evload --cps=10000 --pki_dir=DIR --enrol           enrol 10,000 CPs' certificates
//
// Each figure is one line of JSON, {"figure": NAME, "value": NUMBER}, for scripts.
#include <sys/resource.h>

#include <atomic>
#include <iostream>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/strings/str_format.h"
#include "common/flags.h"
#include "common/kafka/kafka_conf.h"
#include "common/kafka/kafka_producer.h"
#include "common/trust/transport_security.h"
#include "glog/logging.h"
#include "tools/evload/drivers.h"
#include "tools/evload/fleet.h"

ABSL_FLAG(std::string, central_address, "127.0.0.1:50051", "central's gRPC address");
ABSL_FLAG(std::string, pki_dir, "",
          "mutual TLS: the CA folder of tools/pki/evpki, where CP LOAD-00001 has "
          "cp/LOAD-00001.crt and the watch uses operator/evload.crt; empty: plaintext");
ABSL_FLAG(bool, enrol, false,
          "only enrol the certificates of --cps CPs from --first_cp in --pki_dir with central, "
          "as the operator of operator/evload.crt, then exit");
ABSL_FLAG(std::string, kafka_bootstrap, "127.0.0.1:9092", "Kafka bootstrap servers");
ABSL_FLAG(int, cps, 0, "simulated CPs (each a monitor link and an engine)");
ABSL_FLAG(int, first_cp, 1, "the first CP's number: LOAD-00001, ...");
ABSL_FLAG(int, channels, 0, "HTTP/2 connections the CPs share; 0: one per CP, as real CPs");
ABSL_FLAG(int, drivers, 0, "simulated drivers");
ABSL_FLAG(double, rate, 0, "driver requests per second, all drivers together");
ABSL_FLAG(int, session_seconds, 10, "how long each session supplies");
ABSL_FLAG(int, seconds, 30, "how long to run (after every CP registered); 0: until SIGTERM");
ABSL_FLAG(double, fault_share, 0, "share of CPs turning BROKEN every 10 s, for 3 s");
ABSL_FLAG(double, reconnect_share, 0, "share of monitor links dropped every 10 s");
ABSL_FLAG(int, max_connecting, 100,
          "at most this many monitor links attempting at once (0: any number): as that many "
          "machines, where a real fleet's handshakes each have a machine of their own");
ABSL_FLAG(int64_t, history, 0,
          "only write this many records of history, two hours old, to the updates and the "
          "ledger (as a network running for months leaves), then exit");
ABSL_FLAG(double, echo_rate, 0, "run only the bare Kafka echo, at this many messages a second");
ABSL_FLAG(bool, kafka_tls, false,
          "speak TLS to Kafka with --pki_dir's central certificate (a super user of a broker "
          "started with --tls): for the echo over TLS");

namespace {

// `value` is a number as text ("12.5", "300").
void Figure(const std::string& name, const std::string& value) {
  std::cout << "{\"figure\":\"" << name << "\",\"value\":" << value << "}" << std::endl;
}

std::string Ms(absl::Duration d) { return absl::StrFormat("%.1f", absl::ToDoubleMilliseconds(d)); }

}  // namespace

int main(int argc, char** argv) {
  evnet::InitProgram(argc, argv, "evload: load for a central, and what it saw",
                     {{"central_address", "CENTRAL_ADDRESS"}, {"kafka_bootstrap", "KAFKA_BOOTSTRAP"}});
  using namespace evnet;
  const absl::Duration duration = absl::Seconds(absl::GetFlag(FLAGS_seconds));
  // A connection per CP, and old ones still closing while a restarted
  // central is reached again: as many descriptors as the system allows.
  if (rlimit files; getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &files);
  }

  if (absl::GetFlag(FLAGS_kafka_tls)) {
    const std::string pki = absl::GetFlag(FLAGS_pki_dir);
    if (pki.empty()) {
      std::cerr << "evload: --kafka_tls needs --pki_dir" << std::endl;
      return 2;
    }
    const TransportSecurity central = TransportSecurity::FromDir(pki, kRoleCentral, kCentralName);
    SetKafkaTls({central.ca_file, central.cert_file, central.key_file});
  }
  if (absl::GetFlag(FLAGS_echo_rate) > 0) {
    evload::Samples trips;
    absl::Status echoed = evload::RunKafkaEcho(absl::GetFlag(FLAGS_kafka_bootstrap),
                                               absl::GetFlag(FLAGS_echo_rate), duration, trips);
    if (!echoed.ok()) {
      std::cerr << "evload: Kafka echo failed: " << echoed << std::endl;
      return 1;
    }
    Figure("echo_samples", std::to_string(trips.size()));
    Figure("echo_p50_ms", Ms(trips.Percentile(50)));
    Figure("echo_p99_ms", Ms(trips.Percentile(99)));
    return 0;
  }

  KafkaProducerOptions producer_options;
  producer_options.bootstrap_servers = absl::GetFlag(FLAGS_kafka_bootstrap);
  producer_options.client_id = "evload";
  absl::StatusOr<std::unique_ptr<KafkaProducer>> producer = KafkaProducer::Create(producer_options);
  if (!producer.ok()) {
    std::cerr << "evload: " << producer.status() << std::endl;
    return 2;
  }
  if (const int64_t history = absl::GetFlag(FLAGS_history); history > 0) {
    const absl::Time started = absl::Now();
    absl::Status written = evload::WriteHistory(**producer, history, absl::Hours(2));
    if (!written.ok()) {
      std::cerr << "evload: writing history failed: " << written << std::endl;
      return 1;
    }
    Figure("history_records", std::to_string(history * 2));
    Figure("history_write_ms", Ms(absl::Now() - started));
    return 0;
  }
  evload::FleetOptions fleet_options;
  fleet_options.central_address = absl::GetFlag(FLAGS_central_address);
  fleet_options.pki_dir = absl::GetFlag(FLAGS_pki_dir);
  const TransportSecurity operator_security =
      fleet_options.pki_dir.empty()
          ? TransportSecurity::Insecure()
          : TransportSecurity::FromDir(fleet_options.pki_dir, kRoleOperator, "evload");
  fleet_options.cps = absl::GetFlag(FLAGS_cps);
  fleet_options.first_cp = absl::GetFlag(FLAGS_first_cp);
  fleet_options.channels = absl::GetFlag(FLAGS_channels);
  fleet_options.session_length = absl::Seconds(absl::GetFlag(FLAGS_session_seconds));
  fleet_options.fault_share = absl::GetFlag(FLAGS_fault_share);
  fleet_options.reconnect_share = absl::GetFlag(FLAGS_reconnect_share);
  fleet_options.max_connecting = absl::GetFlag(FLAGS_max_connecting);
  if (fleet_options.max_connecting < 0) {
    std::cerr << "evload: --max_connecting must be 0 (no limit) or more" << std::endl;
    return 2;
  }

  if (absl::GetFlag(FLAGS_enrol)) {
    if (fleet_options.pki_dir.empty()) {
      std::cerr << "evload: --enrol needs --pki_dir" << std::endl;
      return 2;
    }
    const absl::Time enrolling = absl::Now();
    if (absl::Status enrolled = evload::EnrolFleet(fleet_options, operator_security);
        !enrolled.ok()) {
      std::cerr << "evload: " << enrolled << std::endl;
      return 1;
    }
    Figure("enrol_all_ms", Ms(absl::Now() - enrolling));
    return 0;
  }
  const absl::Time started = absl::Now();
  evload::Fleet fleet(fleet_options, **producer);
  while (fleet.counts().connected < fleet_options.cps) {
    if (absl::Now() - started > absl::Seconds(300)) {
      std::cerr << "evload: only " << fleet.counts().connected << " of " << fleet_options.cps
                << " CPs registered within 300 s; is central at "
                << fleet_options.central_address << "?" << std::endl;
      return 1;
    }
    absl::SleepFor(absl::Milliseconds(50));  // polling our own fleet's counts
  }
  Figure("cps_registered", std::to_string(fleet_options.cps));
  Figure("register_all_ms", Ms(absl::Now() - started));

  std::atomic<bool> stop{false};
  evload::Samples visible;
  std::thread watcher;
  if (fleet_options.fault_share > 0) {
    watcher = std::thread(
        [&] { evload::WatchFaults(fleet_options.central_address, operator_security, fleet, stop,
                              visible); });
  }
  evload::DriverLoadResult drivers;
  if (absl::GetFlag(FLAGS_rate) > 0 && absl::GetFlag(FLAGS_drivers) > 0) {
    evload::DriverLoadOptions options;
    options.kafka_bootstrap = absl::GetFlag(FLAGS_kafka_bootstrap);
    options.drivers = absl::GetFlag(FLAGS_drivers);
    options.rate = absl::GetFlag(FLAGS_rate);
    options.duration = duration;
    // The drivers' own client, as each real driver has, not the one that
    // carries the fleet's telemetry.
    producer_options.client_id = "evload-drivers";
    absl::StatusOr<std::unique_ptr<KafkaProducer>> driver_producer =
        KafkaProducer::Create(producer_options);
    if (!driver_producer.ok()) {
      std::cerr << "evload: " << driver_producer.status() << std::endl;
      return 2;
    }
    absl::Status ran = evload::RunDrivers(options, fleet, **driver_producer, drivers);
    if (!ran.ok()) std::cerr << "evload: drivers: " << ran << std::endl;
  } else if (duration > absl::ZeroDuration()) {
    absl::SleepFor(duration);  // holding the CPs is the load
  } else {
    WaitForShutdownSignal();
  }
  stop = true;
  if (watcher.joinable()) watcher.join();

  const evload::Fleet::Counts counts = fleet.counts();
  Figure("cps_connected", std::to_string(counts.connected));
  Figure("health_reports", std::to_string(counts.reports));
  Figure("reconnects", std::to_string(counts.reconnects));
  Figure("requests_sent", std::to_string(drivers.sent));
  Figure("accepted", std::to_string(drivers.accepted));
  Figure("rejected", std::to_string(drivers.rejected));
  Figure("tickets", std::to_string(drivers.tickets));
  Figure("accept_p50_ms", Ms(drivers.accept_latency.Percentile(50)));
  Figure("accept_p99_ms", Ms(drivers.accept_latency.Percentile(99)));
  Figure("visible_samples", std::to_string(visible.size()));
  Figure("visible_p50_ms", Ms(visible.Percentile(50)));
  Figure("visible_p99_ms", Ms(visible.Percentile(99)));
  return 0;
}
