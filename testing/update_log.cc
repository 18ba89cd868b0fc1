#include "testing/update_log.h"

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/json_codec.h"
#include "common/kafka/kafka_admin.h"
#include "common/kafka/topics.h"
#include "driver/update_view.h"
#include "testing/process.h"
#include "glog/logging.h"

namespace evnet::test {

absl::StatusOr<std::unique_ptr<UpdateLog>> UpdateLog::Start(const std::string& bootstrap,
                                                            const std::string& pki_dir) {
  absl::StatusOr<std::unique_ptr<KafkaAdmin>> admin = KafkaAdmin::Create(bootstrap);
  if (!admin.ok()) return admin.status();
  absl::Status topics =
      (*admin)->EnsureTopics({{kDriverUpdatesTopic, kTopicPartitions, false}}, absl::Seconds(20));
  if (!topics.ok()) return topics;
  // A topic just made may not be in the broker's metadata yet: asked again
  // until it is (or something else is wrong), for at most 20 s.
  absl::StatusOr<std::vector<KafkaTopicPartition>> partitions;
  ::evnet::test::WaitFor(
      [&] {
        partitions = (*admin)->Partitions({kDriverUpdatesTopic}, absl::Seconds(5));
        return !absl::IsNotFound(partitions.status());
      },
      absl::Seconds(20));
  if (!partitions.ok()) return partitions.status();
  KafkaReaderOptions options;
  options.bootstrap_servers = bootstrap;
  options.client_id = "evnet-test-observer";
  options.partitions = *partitions;
  absl::StatusOr<std::unique_ptr<KafkaReader>> consumer = KafkaReader::Create(options);
  if (!consumer.ok()) return consumer.status();
  std::unique_ptr<UpdateLog> log(new UpdateLog());
  log->pki_dir_ = pki_dir;
  log->thread_ = std::thread([log = log.get(), c = std::move(*consumer)]() mutable {
    log->Run(std::move(c));
  });
  return log;
}

UpdateLog::~UpdateLog() {
  stop_.Notify();
  wake_.WakeAll();
  if (thread_.joinable()) thread_.join();
}

void UpdateLog::Run(std::unique_ptr<KafkaReader> consumer) {
  const KafkaWakeList::Entry polling = wake_.Add(*consumer);
  while (!stop_.HasBeenNotified()) {
    (void)consumer->Poll(absl::Milliseconds(100), [this](const KafkaMessage& m) {
      absl::StatusOr<v1::DriverUpdate> update = FromJson<v1::DriverUpdate>(m.value);
      if (update.ok() && !update->sealed().empty()) {
        absl::StatusOr<std::string> key =
            ReadFile(absl::StrCat(pki_dir_, "/driver/", update->driver_id(), ".key"));
        std::unique_ptr<Opener>& opener = openers_[update->driver_id()];
        if (opener == nullptr) opener = std::make_unique<Opener>();
        update = key.ok() ? OpenUpdate(*update, *key, *opener) : key.status();
        if (!update.ok()) LOG(WARNING) << "an update the test cannot open: " << update.status();
      }
      if (update.ok()) {
        absl::MutexLock lock(&mu_);
        updates_.push_back(*std::move(update));
      }
      return absl::OkStatus();
    });
  }
}

std::vector<v1::DriverUpdate> UpdateLog::All() const {
  absl::MutexLock lock(&mu_);
  return updates_;
}

std::vector<v1::DriverUpdate> UpdateLog::For(const std::string& driver_id) const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::DriverUpdate> out;
  for (const auto& u : updates_) {
    if (u.driver_id() == driver_id) out.push_back(u);
  }
  return out;
}

std::vector<v1::DriverUpdate> UpdateLog::WaitFor(const std::string& driver_id,
                                                 v1::UpdateKind kind, size_t count,
                                                 absl::Duration timeout) const {
  std::vector<v1::DriverUpdate> matching;
  auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    matching.clear();
    for (const auto& u : updates_) {
      if (u.driver_id() == driver_id && u.kind() == kind) matching.push_back(u);
    }
    return matching.size() >= count;
  };
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  enough();
  return matching;
}

}  // namespace evnet::test
