// A topic a program keeps in memory (a compacted one: the OCPP gateways'
// charger journals, drivers' id tokens): read to its end before Start
// returns, then followed on a thread of its own until the follower is
// destroyed. Each message goes to `take`, first on the caller's thread (the
// history), then on the follower's, one at a time; destroying the follower
// waits for the message being taken, so that `take` may refer to its owner
// when the follower is the owner's last member.
#ifndef EVNET_COMMON_KAFKA_KAFKA_FOLLOWER_H_
#define EVNET_COMMON_KAFKA_KAFKA_FOLLOWER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/kafka/kafka_reader.h"

namespace evnet {

class KafkaFollower {
 public:
  using Take = std::function<void(const KafkaMessage&)>;

  // UNAVAILABLE, naming the topics, when they cannot be read to their end
  // within `timeout`; INVALID_ARGUMENT when the reader's options are wrong.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<KafkaFollower>> Start(
      const KafkaReaderOptions& options, absl::Duration timeout, Take take);
  ~KafkaFollower();
  KafkaFollower(const KafkaFollower&) = delete;
  KafkaFollower& operator=(const KafkaFollower&) = delete;

 private:
  KafkaFollower(std::unique_ptr<KafkaReader> reader, Take take)
      : reader_(std::move(reader)), take_(std::move(take)) {}
  void Follow();

  const std::unique_ptr<KafkaReader> reader_;  // the follower thread's, once started
  const Take take_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace evnet

#endif  // EVNET_COMMON_KAFKA_KAFKA_FOLLOWER_H_
