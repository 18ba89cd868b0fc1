#include "testing/kafka_broker.h"

#include <signal.h>
#include <stdlib.h>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/kafka/kafka_conf.h"
#include "glog/logging.h"
#include "librdkafka/rdkafkacpp.h"

namespace evnet::test {

// The broker runner, from the test's runfiles (data dep //tools/kafka:broker).
constexpr char kBrokerScript[] = "tools/kafka/broker";

bool KafkaAnswers(const std::string& bootstrap_servers, absl::Duration timeout) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string error;
  for (const auto& [name, value] : KafkaClientProperties(bootstrap_servers, "evnet-probe")) {
    conf->set(name, value, error);
  }
  conf->set("log_level", "0", error);
  std::unique_ptr<RdKafka::Producer> probe(RdKafka::Producer::create(conf.get(), error));
  if (probe == nullptr) return false;
  RdKafka::Metadata* metadata = nullptr;
  RdKafka::ErrorCode err = probe->metadata(
      /*all_topics=*/false, nullptr, &metadata,
      static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  delete metadata;
  return err == RdKafka::ERR_NO_ERROR;
}

absl::StatusOr<std::unique_ptr<KafkaBroker>> KafkaBroker::Start(absl::Duration timeout,
                                                                const std::string& tls_dir) {
  std::unique_ptr<KafkaBroker> broker(new KafkaBroker());
  const char* external = getenv("KAFKA_BOOTSTRAP");
  if (external != nullptr && *external != '\0') {
    broker->bootstrap_servers_ = external;
    if (!KafkaAnswers(broker->bootstrap_servers_, timeout)) {
      return absl::UnavailableError(absl::StrCat(
          "KAFKA_BOOTSTRAP=", external, " does not answer: is the broker running?"));
    }
    return broker;
  }
  broker->owned_ = true;
  broker->data_dir_ = MakeTempDir("kafka");
  broker->tls_dir_ = tls_dir;
  broker->port_ = PickFreePort();
  broker->controller_port_ = PickFreePort();
  broker->bootstrap_servers_ = absl::StrCat("127.0.0.1:", broker->port_);
  absl::Status launched = broker->Launch(timeout);
  if (!launched.ok()) return launched;
  return broker;
}

KafkaBroker::~KafkaBroker() {
  if (process_ == nullptr) return;
  // A clean stop keeps the test's shutdown short and its log tidy.
  if (process_->Signal(SIGTERM).ok() && !process_->Wait(absl::Seconds(20)).ok()) {
    LOG(WARNING) << "Kafka broker ignored SIGTERM; killing it";
  }
  process_->Kill();
}

absl::Status KafkaBroker::Launch(absl::Duration timeout) {
  ProcessOptions options;
  options.argv = {kBrokerScript, "--port", absl::StrCat(port_), "--controller-port",
                  absl::StrCat(controller_port_), "--data-dir", data_dir_ + "/data"};
  if (!tls_dir_.empty()) {
    options.argv.push_back("--tls");
    options.argv.push_back(tls_dir_);
  }
  options.log_path = data_dir_ + "/broker.log";
  const absl::Time started = absl::Now();
  absl::StatusOr<std::unique_ptr<Process>> process = Process::Start(options);
  if (!process.ok()) return process.status();
  process_ = *std::move(process);
  bool up = WaitFor(
      [&] {
        return !process_->Running() || KafkaAnswers(bootstrap_servers_, absl::Milliseconds(500));
      },
      timeout);
  if (!process_->Running()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the Kafka broker exited while starting:\n", process_->LogTail()));
  }
  if (!up) {
    return absl::DeadlineExceededError(absl::StrCat(
        "the Kafka broker did not answer within ", absl::FormatDuration(timeout), ":\n",
        process_->LogTail()));
  }
  last_start_time_ = absl::Now() - started;
  LOG(INFO) << "Kafka broker up at " << bootstrap_servers_ << " in "
            << absl::FormatDuration(last_start_time_);
  return absl::OkStatus();
}

std::string KafkaBroker::Log() const {
  if (!owned_) return "";
  absl::StatusOr<std::string> log = ReadFile(data_dir_ + "/broker.log");
  return log.ok() ? *log : "";
}

absl::Status KafkaBroker::Kill() {
  if (!owned_) return absl::FailedPreconditionError("an external broker cannot be killed here");
  if (process_ == nullptr) return absl::FailedPreconditionError("the broker is not running");
  process_->Kill();
  process_.reset();
  return absl::OkStatus();
}

absl::Status KafkaBroker::Restart(absl::Duration timeout) {
  if (!owned_) return absl::FailedPreconditionError("an external broker cannot be restarted here");
  if (process_ != nullptr) process_->Kill();
  return Launch(timeout);
}

}  // namespace evnet::test
