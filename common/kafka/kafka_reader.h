// Reads partitions without a consumer group: from their start, or from a
// point in time, and commits nothing. For rebuilding state from a topic's
// history, where KafkaConsumer's group coordination would only cost time
// (librdkafka's group consumer serves an assignment only once it has found
// the group's coordinator, about half a second on a fresh start).
#ifndef EVNET_COMMON_KAFKA_READER_H_
#define EVNET_COMMON_KAFKA_READER_H_

#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/kafka/kafka_conf.h"
#include "common/kafka/kafka_consumer.h"
#include "librdkafka/rdkafka.h"
#include "librdkafka/rdkafkacpp.h"

namespace evnet {

struct KafkaReaderOptions {
  std::string bootstrap_servers;
  std::string client_id = "evnet";
  // Each partition is read from its start, or from its first message
  // produced at or after `since`.
  std::vector<KafkaTopicPartition> partitions;
  KafkaProperties properties;  // override the defaults
};

// Used by one thread at a time; Wake from any.
class KafkaReader {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<KafkaReader>> Create(
      const KafkaReaderOptions& options);
  ~KafkaReader();

  KafkaReader(const KafkaReader&) = delete;
  KafkaReader& operator=(const KafkaReader&) = delete;

  // Hands every message up to the end of each partition (as the broker
  // reports it when reached) to `handler`, within `timeout`. The first
  // error of the handler ends the read and is returned.
  [[nodiscard]] absl::Status ReadToEnd(absl::Duration timeout, const KafkaMessageHandler& handler);

  // Waits up to `timeout` for one message and hands it to `handler`: for
  // following a topic after its history.
  [[nodiscard]] absl::StatusOr<PollResult> Poll(absl::Duration timeout,
                                                const KafkaMessageHandler& handler);

  // Where reading `topic`/`partition` goes on from: the offset after the
  // last message handled, or the end's once reached; -1 before either. A
  // reader started there (KafkaTopicPartition::offset) misses nothing.
  int64_t Position(const std::string& topic, int32_t partition) const;

  // The first offset `topic`/`partition` still holds (its low watermark,
  // which retention moves on), asked of the broker within `timeout`.
  [[nodiscard]] absl::StatusOr<int64_t> FirstOffset(const std::string& topic, int32_t partition,
                                                    absl::Duration timeout);

  // From any thread: the Poll waiting now returns at once with nothing
  // (kIdle), so that a thread told to stop does not first wait out its
  // poll's timeout. If none waits, the next poll that finds no message
  // queued returns at once. ReadToEnd polls on until its end or deadline.
  void Wake();

 private:
  using Partition = std::pair<std::string, int32_t>;

  struct QueueDeleter {
    void operator()(rd_kafka_queue_t* queue) const { rd_kafka_queue_destroy(queue); }
  };

  KafkaReader(std::unique_ptr<KafkaEventLogger> event_logger,
              std::unique_ptr<RdKafka::Consumer> consumer);

  // One message or event into `handler`; `from` names its partition.
  absl::StatusOr<PollResult> Next(absl::Duration timeout, const KafkaMessageHandler& handler,
                                  Partition& from);

  std::unique_ptr<KafkaEventLogger> event_logger_;
  std::unique_ptr<RdKafka::Consumer> consumer_;
  // librdkafka's C queue: its C++ Queue cannot be woken from another thread.
  std::unique_ptr<rd_kafka_queue_t, QueueDeleter> queue_;
  std::vector<std::unique_ptr<RdKafka::Topic>> topics_;
  std::vector<std::pair<RdKafka::Topic*, int32_t>> started_;
  std::map<Partition, int64_t> positions_;
};

}  // namespace evnet

#endif  // EVNET_COMMON_KAFKA_READER_H_
