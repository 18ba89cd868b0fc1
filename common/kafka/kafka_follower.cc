#include "common/kafka/kafka_follower.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace evnet {

absl::StatusOr<std::unique_ptr<KafkaFollower>> KafkaFollower::Start(
    const KafkaReaderOptions& options, absl::Duration timeout, Take take) {
  absl::StatusOr<std::unique_ptr<KafkaReader>> reader = KafkaReader::Create(options);
  if (!reader.ok()) return reader.status();
  std::unique_ptr<KafkaFollower> follower(new KafkaFollower(*std::move(reader), std::move(take)));
  absl::Status read = follower->reader_->ReadToEnd(timeout, [&](const KafkaMessage& m) {
    follower->take_(m);
    return absl::OkStatus();
  });
  if (!read.ok()) {
    std::string topics;
    for (const KafkaTopicPartition& tp : options.partitions) {
      if (topics.find(tp.topic) == std::string::npos) {
        absl::StrAppend(&topics, topics.empty() ? "" : ", ", tp.topic);
      }
    }
    return absl::UnavailableError(absl::StrCat("cannot read ", topics, ": ", read.message()));
  }
  follower->thread_ = std::thread([f = follower.get()] { f->Follow(); });
  return follower;
}

KafkaFollower::~KafkaFollower() {
  stop_.Notify();
  reader_->Wake();
  if (thread_.joinable()) thread_.join();
}

void KafkaFollower::Follow() {
  while (!stop_.HasBeenNotified()) {
    absl::StatusOr<PollResult> polled =
        reader_->Poll(absl::Milliseconds(200), [this](const KafkaMessage& m) {
          take_(m);
          return absl::OkStatus();
        });
    if (!polled.ok()) VLOG(1) << "following " << polled.status();  // the reader retries
  }
}

}  // namespace evnet
