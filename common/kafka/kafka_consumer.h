// The one Kafka consumer every evnet program uses. A message's offset is
// stored only after its handler succeeded, and only stored offsets are
// committed; a handler that fails makes the consumer seek back, so the message
// comes again. Handlers must therefore be idempotent (DESIGN.md: every effect
// is idempotent by the message's id).
#ifndef EVNET_COMMON_KAFKA_CONSUMER_H_
#define EVNET_COMMON_KAFKA_CONSUMER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/kafka/kafka_conf.h"
#include "librdkafka/rdkafkacpp.h"

namespace evnet {

struct KafkaConsumerOptions {
  std::string bootstrap_servers;
  std::string group_id;
  std::string client_id = "evnet";
  // Either subscribe to whole topics (the group assigns partitions) ...
  std::vector<std::string> topics;
  // ... or read exactly these partitions, resuming from the group's
  // committed offsets.
  std::vector<KafkaTopicPartition> partitions;
  // Where a partition with no committed offset starts.
  bool start_from_beginning = true;
  absl::Duration auto_commit_interval = absl::Seconds(1);
  // Further librdkafka properties; they override the defaults above.
  KafkaProperties properties;
};

// Returns OK when the message's effect is done (or the message is to be
// skipped for good, e.g. malformed); any other status makes it come again.
using KafkaMessageHandler = std::function<absl::Status(const KafkaMessage&)>;

enum class PollResult {
  kHandled,         // one message went to the handler, which succeeded
  kIdle,            // nothing arrived within the timeout
  kEndOfPartition,  // caught up with the end of a partition
};

class KafkaConsumer {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<KafkaConsumer>> Create(
      const KafkaConsumerOptions& options);

  // Closes the consumer if Close() was not called.
  ~KafkaConsumer();

  KafkaConsumer(const KafkaConsumer&) = delete;
  KafkaConsumer& operator=(const KafkaConsumer&) = delete;

  // Waits up to `timeout` for one message and hands it to `handler`. Returns
  // the handler's error if it failed, or a broker error that will not go away
  // by itself; broker outages are logged and reported as kIdle.
  [[nodiscard]] absl::StatusOr<PollResult> Poll(absl::Duration timeout,
                                                const KafkaMessageHandler& handler);

  // Waits up to `timeout` for one message and returns it without storing its
  // offset (nullopt when nothing arrived): for handlers that finish later,
  // which store offsets themselves with StoreOffset (see KafkaDispatcher).
  [[nodiscard]] absl::StatusOr<std::optional<KafkaMessage>> Next(absl::Duration timeout);

  // Marks every message of `topic`/`partition` before `next_offset` as done.
  [[nodiscard]] absl::Status StoreOffset(const std::string& topic, int32_t partition,
                                         int64_t next_offset);

  // Handles every message up to the end of each assigned partition (as it
  // was when this was called), within `timeout`. For `partitions` consumers.
  [[nodiscard]] absl::Status ReadToEnd(absl::Duration timeout,
                                       const KafkaMessageHandler& handler);

  // Messages between the consumer's position and the end of its assigned
  // partitions, from what the last fetches said. A partition nothing was
  // read from since the start counts from where the consumer resumes (the
  // group's committed offset, asked of the broker once), not from its first
  // message: a quiet partition with a long history is not a backlog.
  [[nodiscard]] absl::StatusOr<int64_t> Lag();

  // Commits the stored offsets now and waits for the broker to confirm.
  [[nodiscard]] absl::Status Commit();

  // Commits the stored offsets and leaves the group. Safe to call twice.
  [[nodiscard]] absl::Status Close();

  // From any thread: the Poll or Next waiting now returns at once with
  // nothing (kIdle), so that a thread told to stop does not first wait out
  // its poll's timeout. If none waits, the next poll that finds no message
  // queued returns at once. ReadToEnd polls on until its end or deadline.
  // Not while Close() runs: it would cut the close (and its commit) short.
  void Wake();

 private:
  KafkaConsumer(std::unique_ptr<KafkaEventLogger> event_logger,
                std::unique_ptr<RdKafka::KafkaConsumer> consumer, size_t assigned);
  absl::StatusOr<PollResult> Handle(RdKafka::Message& message,
                                    const KafkaMessageHandler& handler);
  absl::Status StoreOffset(const RdKafka::Message& message);
  absl::Status SeekBack(const RdKafka::Message& message);

  std::unique_ptr<KafkaEventLogger> event_logger_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::vector<KafkaTopicPartition> partitions_;  // when assigned by hand
  bool start_from_beginning_ = true;
  // The group's committed offsets of `partitions_` (or -1001: none), asked
  // of the broker once, for Lag() on partitions nothing was read from yet.
  std::map<std::pair<std::string, int32_t>, int64_t> committed_;
  const size_t assigned_;  // partitions assigned by hand; 0 when subscribed
  bool closed_ = false;
};

}  // namespace evnet

#endif  // EVNET_COMMON_KAFKA_CONSUMER_H_
