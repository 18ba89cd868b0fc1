// The simulated charging points of evload: each one a monitor with its own
// MonitorLink stream to central (gRPC's callback client API, so thousands
// of streams cost no thread each) that registers, reports health every
// second and answers commands, and an engine that publishes telemetry every
// second and one session result per session to Kafka, like cp_engine.
// Uses only the public gRPC API and the Kafka topics, nothing of central.
#ifndef EVNET_TOOLS_EVLOAD_FLEET_H_
#define EVNET_TOOLS_EVLOAD_FLEET_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/kafka/kafka_producer.h"
#include "common/trust/transport_security.h"
#include "evnet/v1/central.grpc.pb.h"

namespace evnet::evload {

struct FleetOptions {
  std::string central_address;
  // With mutual TLS: each CP presents DIR/cp/<its id>.crt (tools/pki/evpki)
  // on a connection of its own. Empty: plaintext (central runs --insecure).
  std::string pki_dir;
  int cps = 1000;
  int first_cp = 1;  // ids LOAD-<first_cp>...
  int channels = 8;  // CPs share this many HTTP/2 connections... unless 0:
                     // 0 gives every CP its own connection, as real ones have
  absl::Duration session_length = absl::Seconds(10);
  // Faults: this share of CPs turns BROKEN for fault_length, every fault_every.
  double fault_share = 0;
  absl::Duration fault_every = absl::Seconds(10);
  absl::Duration fault_length = absl::Seconds(3);
  // Monitors reconnecting: this share of links is dropped every fault_every.
  double reconnect_share = 0;
  // At most this many links attempting at once (0: no limit). Real monitors
  // each shake hands on a machine of their own; 10,000 handshakes at once in
  // this one process, on the cores central runs on, take longer than the
  // 30 s a monitor gives one, so evload itself would be what never gets in.
  int max_connecting = 0;
};

class SimulatedCp;

// Enrols the CPs of `options` (its pki_dir holds their certificates) with
// central, as an operator holding `operator_security` would one by one
// with `evctl enrol`: 8 calls at a time over one connection.
absl::Status EnrolFleet(const FleetOptions& options, const TransportSecurity& operator_security);

class Fleet {
 public:
  Fleet(FleetOptions options, KafkaProducer& producer);
  ~Fleet();

  struct Counts {
    int connected = 0;     // links registered with central now
    int supplying = 0;
    int64_t reports = 0;   // health reports sent
    int64_t sessions = 0;  // started
    int64_t results = 0;   // published
    int64_t reconnects = 0;
  };
  Counts counts() const;
  // Ids of CPs that are registered, healthy and idle, for the drivers.
  std::vector<std::string> IdleCps(size_t max) const;
  // When the CP last turned broken (InfinitePast if not broken now).
  absl::Time BrokenSince(const std::string& cp_id) const;

 private:
  // One shard of the CPs (index % kShards == shard); shard 0 also plays faults.
  void Tick(int shard);

  const FleetOptions options_;
  KafkaProducer& producer_;
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<v1::CentralService::Stub>> stubs_;
  std::vector<std::shared_ptr<SimulatedCp>> cps_;
  // Links attempting, of max_connecting; shared with the CPs, whose links
  // may end after the fleet is gone.
  std::shared_ptr<std::atomic<int>> connecting_ = std::make_shared<std::atomic<int>>(0);
  std::atomic<int> next_channel_id_{0};
  absl::Notification stop_;
  // Health, telemetry, session ends, reconnects: a write on a link costs its
  // syscall on the calling thread, so the CPs are shared among threads.
  std::vector<std::thread> tickers_;
};

}  // namespace evnet::evload

#endif  // EVNET_TOOLS_EVLOAD_FLEET_H_
