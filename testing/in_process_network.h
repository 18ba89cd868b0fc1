// A whole evnet network in the test's own process: central, an engine and
// a monitor per CP, each started with its program's Start on port 0, over
// librdkafka's in-process mock cluster, in plaintext. For tests of the
// request walk (accept, refuse, stop, fault, reconnect, ticket) that need no
// real broker: a network starts in about a quarter of a second and stops in
// about a fifth, and its tests run under ThreadSanitizer. What needs a real
// broker or real processes (durability, ACLs, kills, the fault table) stays
// on testing/network.h.
//
// Timings are short (checks every 100 ms, a monitor silent for 600 ms is
// disconnected, sessions of 300 ms), so that each step is observed within a
// second.
#ifndef EVNET_TESTING_IN_PROCESS_NETWORK_H_
#define EVNET_TESTING_IN_PROCESS_NETWORK_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "central/central.h"
#include "common/kafka/kafka_producer.h"
#include "cp_engine/cp_engine.h"
#include "cp_monitor/cp_monitor.h"
#include "evnet/v1/books.grpc.pb.h"
#include "evnet/v1/central.grpc.pb.h"
#include "testing/mock_kafka.h"
#include "testing/update_log.h"

namespace evnet::test {

struct InProcessNetworkOptions {
  std::vector<std::string> cps = {"CP-001", "CP-002"};
  // The most central registers (0.28 kWh a second): a short session bills cents.
  double power_kw = 1000;
  double price_eur_per_kwh = 0.30;
  // When the driver unplugs, unless Simulate(UNPLUG) says so before.
  absl::Duration session_duration = absl::Milliseconds(300);
};

class InProcessNetwork {
 public:
  // Starts everything and waits until central shows every CP ACTIVE.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<InProcessNetwork>> Start(
      InProcessNetworkOptions options = {});
  ~InProcessNetwork();

  Central& central() { return *central_; }
  UpdateLog& updates() { return *updates_; }
  // Central's books (in the network's folder), as an operator asks them.
  v1::BooksService::Stub& books() { return *books_; }
  const std::string& bootstrap() const { return bootstrap_; }
  // Null while stopped.
  CpEngine* engine(const std::string& cp_id);

  // A program stops as its main does on SIGTERM, and starts again with the
  // same options (an engine on the same port, with the same journal).
  absl::Status StopEngine(const std::string& cp_id);
  absl::Status StartEngine(const std::string& cp_id);
  absl::Status StopMonitor(const std::string& cp_id);
  absl::Status StartMonitor(const std::string& cp_id);

  // A driver's request, as the driver program writes it (unsigned: the
  // network is plaintext), with `request_id` or a new id. Returns its id.
  absl::StatusOr<std::string> RequestCharge(const std::string& driver_id,
                                            const std::string& cp_id,
                                            const std::string& request_id = "");

  // Central's view, through its gRPC API as an operator sees it.
  v1::CpStatus Status(const std::string& cp_id);
  bool WaitForStatus(const std::string& cp_id, v1::CpStatus status, absl::Duration timeout);
  std::vector<v1::Session> Sessions();
  absl::Status StopCp(const std::string& cp_id);
  absl::Status ResumeCp(const std::string& cp_id);
  absl::Status Simulate(const std::string& cp_id, v1::SimulateAction action);

 private:
  explicit InProcessNetwork(InProcessNetworkOptions options);

  const InProcessNetworkOptions options_;
  std::string dir_;
  std::string bootstrap_;
  std::unique_ptr<MockKafkaCluster> kafka_;
  std::unique_ptr<Central> central_;
  std::unique_ptr<v1::CentralService::Stub> api_;
  std::unique_ptr<v1::BooksService::Stub> books_;
  std::map<std::string, int> engine_ports_;
  std::map<std::string, std::unique_ptr<CpEngine>> engines_;
  std::map<std::string, std::unique_ptr<CpMonitor>> monitors_;
  std::unique_ptr<KafkaProducer> producer_;
  std::unique_ptr<UpdateLog> updates_;
  int requests_ = 0;
};

}  // namespace evnet::test

#endif  // EVNET_TESTING_IN_PROCESS_NETWORK_H_
