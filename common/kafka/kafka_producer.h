// The one Kafka producer every evnet program uses: idempotent, acks=all,
// delivery reports turned into absl::Status. A message counts as sent only
// when its delivery callback reports OK.
#ifndef EVNET_COMMON_KAFKA_PRODUCER_H_
#define EVNET_COMMON_KAFKA_PRODUCER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/kafka/kafka_conf.h"
#include "librdkafka/rdkafkacpp.h"

namespace evnet {

struct KafkaProducerOptions {
  std::string bootstrap_servers;
  std::string client_id = "evnet";
  // How long librdkafka keeps retrying a message (through a broker outage)
  // before its delivery is reported as failed.
  absl::Duration delivery_timeout = absl::Minutes(5);
  // How long Produce waits for room when librdkafka's queue is full (a
  // broker that is down or slow) before it returns RESOURCE_EXHAUSTED.
  absl::Duration queue_full_wait = absl::Seconds(1);
  // Further librdkafka properties; they override the defaults above.
  KafkaProperties properties;
  // When librdkafka fails the producer for good (a broker that refused its
  // idempotence id, e.g. before central granted the network's ACLs, or a
  // broken sequence), a new one replaces it: what was queued on the old one
  // is reported as failed, and later messages go out on the new one. The
  // first replacement is a second after the failure, then at most every 30 s.
  // Off, every later Produce fails and Fatal() says why: for a program that
  // starts again instead (central).
  bool replace_when_fatal = true;
};

// Called once per message, on the producer's own thread: OK once the broker
// acknowledged it, or the reason it was not delivered.
using DeliveryCallback = std::function<void(absl::Status)>;

// The partition the producer writes a message with `key` to, of a topic
// with `partitions` partitions: murmur2, as Kafka's Java clients, so that a
// reader can consume only the partition of its own key.
int32_t PartitionForKey(absl::string_view key, int32_t partitions);

class KafkaProducer {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<KafkaProducer>> Create(
      const KafkaProducerOptions& options);

  // Flushes what is still queued (up to 10 s, logging what is left) and stops.
  ~KafkaProducer();

  KafkaProducer(const KafkaProducer&) = delete;
  KafkaProducer& operator=(const KafkaProducer&) = delete;

  // Queues one message. An error here means it was not queued (and
  // `on_delivery` will not run); OK means `on_delivery` will run exactly once.
  // A full queue is waited on, at most `queue_full_wait`.
  // `created` stamps the message (InfinitePast: now), e.g. to replay history.
  [[nodiscard]] absl::Status Produce(absl::string_view topic, absl::string_view key,
                                     absl::string_view value,
                                     DeliveryCallback on_delivery,
                                     absl::Time created = absl::InfinitePast());

  // Produces and waits for the delivery report, at most `timeout`.
  [[nodiscard]] absl::Status ProduceAndWait(absl::string_view topic,
                                            absl::string_view key,
                                            absl::string_view value,
                                            absl::Duration timeout);

  // Waits until every queued message has a delivery report, at most `timeout`.
  [[nodiscard]] absl::Status Flush(absl::Duration timeout);

  // Messages queued and not yet reported.
  int OutstandingMessages() const;
  // Messages Kafka did not take (their delivery reports failed) since start.
  int64_t FailedDeliveries() const;

  // OK, or why this producer failed for good (e.g. the idempotent
  // producer's sequence broke): until it is replaced (replace_when_fatal)
  // every Produce fails.
  absl::Status Fatal() const;

  // Makes this producer fail for good, as librdkafka would: for tests.
  void InjectFatalErrorForTesting(const std::string& reason);

 private:
  class DeliveryReporter;

  KafkaProducer(std::unique_ptr<KafkaEventLogger> event_logger,
                std::unique_ptr<DeliveryReporter> reporter, std::unique_ptr<RdKafka::Conf> conf,
                std::unique_ptr<RdKafka::Producer> producer, const KafkaProducerOptions& options);
  // The handle messages go out on now; it may be replaced at any time.
  std::shared_ptr<RdKafka::Producer> Current() const;
  void PollLoop();
  // On the poll thread: swaps a failed handle for a new one, then fails
  // what was left on the old one.
  void Replace(std::shared_ptr<RdKafka::Producer> failed);

  // Declared in this order so that the handles die before their callbacks.
  std::unique_ptr<KafkaEventLogger> event_logger_;
  std::unique_ptr<DeliveryReporter> reporter_;
  const std::unique_ptr<RdKafka::Conf> conf_;  // to create a replacement
  mutable absl::Mutex mu_;
  std::shared_ptr<RdKafka::Producer> producer_ ABSL_GUARDED_BY(mu_);
  KafkaTopicLookups lookups_;
  const absl::Duration queue_full_wait_;
  const bool replace_when_fatal_;
  // Owned by the poll thread: when the failed handle may be replaced
  // (InfinitePast: none failed), the wait after a failure, the last time.
  absl::Time next_replacement_ = absl::InfinitePast();
  absl::Duration replacement_backoff_ = absl::Seconds(1);
  absl::Time last_replacement_ = absl::InfinitePast();
  std::atomic<bool> stopping_{false};
  std::thread poll_thread_;
};

}  // namespace evnet

#endif  // EVNET_COMMON_KAFKA_PRODUCER_H_
