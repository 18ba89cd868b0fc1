// A real Apache Kafka broker for system tests: started on free ports with its
// data in the test's temp dir, killed (SIGKILL) and restarted on the same
// data, stopped at the end. When KAFKA_BOOTSTRAP is set, that broker is used
// instead and this fixture neither starts nor kills it.
#ifndef EVNET_TESTING_KAFKA_BROKER_H_
#define EVNET_TESTING_KAFKA_BROKER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "testing/process.h"

namespace evnet::test {

class KafkaBroker {
 public:
  // Starts a broker (or adopts KAFKA_BOOTSTRAP) and waits until it answers.
  // With `tls_dir` (a CA made by tools/pki/evpki) it listens with TLS only
  // and authorizes by role; the test's own clients then need SetKafkaTls.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<KafkaBroker>> Start(
      absl::Duration timeout = absl::Seconds(60), const std::string& tls_dir = "");
  ~KafkaBroker();

  const std::string& bootstrap_servers() const { return bootstrap_servers_; }
  // False for an external broker (KAFKA_BOOTSTRAP): it cannot be killed here.
  bool owned() const { return owned_; }
  // How long the last (re)start took until the broker answered.
  absl::Duration last_start_time() const { return last_start_time_; }

  // What the broker logged (warnings, and with TLS each denied operation);
  // empty for an external broker.
  std::string Log() const;

  // SIGKILL, as in a crash; the data dir is kept.
  [[nodiscard]] absl::Status Kill();
  // Starts again on the same ports and data, and waits until it answers.
  [[nodiscard]] absl::Status Restart(absl::Duration timeout = absl::Seconds(60));

 private:
  KafkaBroker() = default;
  absl::Status Launch(absl::Duration timeout);

  bool owned_ = false;
  std::string bootstrap_servers_;
  std::string data_dir_;
  std::string tls_dir_;
  int port_ = 0;
  int controller_port_ = 0;
  std::unique_ptr<Process> process_;
  absl::Duration last_start_time_;
};

// Whether a Kafka broker at `bootstrap_servers` answers a metadata request.
bool KafkaAnswers(const std::string& bootstrap_servers, absl::Duration timeout);

}  // namespace evnet::test

#endif  // EVNET_TESTING_KAFKA_BROKER_H_
