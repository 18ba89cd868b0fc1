#include "common/kafka/kafka_reader.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "glog/logging.h"

namespace evnet {

absl::StatusOr<std::unique_ptr<KafkaReader>> KafkaReader::Create(
    const KafkaReaderOptions& options) {
  if (options.partitions.empty()) return absl::InvalidArgumentError("nothing to read");
  absl::StatusOr<KafkaClientConf> client = MakeKafkaClientConf(
      options.bootstrap_servers, options.client_id,
      {
          {"enable.partition.eof", "true"},
          // The end of a partition is known only from an empty fetch, which the
          // broker holds for fetch.wait.max.ms (500 ms by default).
          {"fetch.wait.max.ms", "10"},
          // An offset no longer kept (deleted by retention) starts at the
          // first that is, never past what was not read.
          {"auto.offset.reset", "earliest"},
      },
      options.properties);
  if (!client.ok()) return client.status();
  std::string error;
  std::unique_ptr<RdKafka::Consumer> consumer(
      RdKafka::Consumer::create(client->conf.get(), error));
  if (consumer == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("cannot create Kafka reader: ", error));
  }
  std::unique_ptr<KafkaReader> reader(
      new KafkaReader(std::move(client->event_logger), std::move(consumer)));

  TopicPartitions by_time;
  for (const KafkaTopicPartition& tp : options.partitions) {
    if (tp.offset < 0 && tp.since != absl::InfinitePast() && tp.since != absl::InfiniteFuture()) {
      by_time.Add(tp.topic, tp.partition, absl::ToUnixMillis(tp.since));
    }
  }
  if (!by_time.list().empty()) {
    absl::Status found = KafkaStatus(reader->consumer_->offsetsForTimes(by_time.list(), 10000),
                                     "finding where to start reading Kafka");
    if (!found.ok()) return found;
  }
  std::map<std::string, RdKafka::Topic*> topics;
  for (const KafkaTopicPartition& tp : options.partitions) {
    RdKafka::Topic*& topic = topics[tp.topic];
    if (topic != nullptr) continue;
    topic = RdKafka::Topic::create(reader->consumer_.get(), tp.topic, nullptr, error);
    if (topic == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("Kafka topic ", tp.topic, ": ", error));
    }
    reader->topics_.emplace_back(topic);
  }
  // Know each partition's leader before starting: a partition started
  // without one waits for librdkafka's offset query retry (500 ms). One
  // request for the topics this reader opened (all_topics false and no
  // topic: those the handle knows), rather than a round trip for each.
  RdKafka::Metadata* metadata = nullptr;
  absl::Status known = KafkaStatus(
      reader->consumer_->metadata(/*all_topics=*/false, nullptr, &metadata, 10000),
      "Kafka metadata");
  delete metadata;
  if (!known.ok()) return known;
  for (const KafkaTopicPartition& tp : options.partitions) {
    int64_t offset = tp.offset >= 0                         ? tp.offset
                     : tp.since == absl::InfiniteFuture() ? RdKafka::Topic::OFFSET_END
                                                          : RdKafka::Topic::OFFSET_BEGINNING;
    for (RdKafka::TopicPartition* found : by_time.list()) {
      if (found->topic() != tp.topic || found->partition() != tp.partition) continue;
      // No message since then: start at the end.
      offset = found->offset() >= 0 ? found->offset() : RdKafka::Topic::OFFSET_END;
    }
    RdKafka::Topic* topic = topics.at(tp.topic);
    if (rd_kafka_consume_start_queue(topic->c_ptr(), tp.partition, offset,
                                     reader->queue_.get()) == -1) {
      return KafkaStatus(static_cast<RdKafka::ErrorCode>(rd_kafka_last_error()),
                         absl::StrCat("reading ", tp.topic, "/", tp.partition));
    }
    reader->started_.emplace_back(topic, tp.partition);
  }
  return reader;
}

KafkaReader::KafkaReader(std::unique_ptr<KafkaEventLogger> event_logger,
                         std::unique_ptr<RdKafka::Consumer> consumer)
    : event_logger_(std::move(event_logger)),
      consumer_(std::move(consumer)),
      queue_(rd_kafka_queue_new(consumer_->c_ptr())) {}

KafkaReader::~KafkaReader() {
  for (const auto& [topic, partition] : started_) consumer_->stop(topic, partition);
  // Topics and the queue go before the handle that made them.
  queue_.reset();
  topics_.clear();
  consumer_.reset();
}

void KafkaReader::Wake() { rd_kafka_queue_yield(queue_.get()); }

absl::StatusOr<PollResult> KafkaReader::Poll(absl::Duration timeout,
                                             const KafkaMessageHandler& handler) {
  Partition ignored;
  return Next(timeout, handler, ignored);
}

absl::StatusOr<PollResult> KafkaReader::Next(absl::Duration timeout,
                                             const KafkaMessageHandler& handler, Partition& from) {
  consumer_->poll(0);  // the event logger's callbacks
  std::unique_ptr<rd_kafka_message_t, void (*)(rd_kafka_message_t*)> message(
      rd_kafka_consume_queue(queue_.get(), static_cast<int>(absl::ToInt64Milliseconds(timeout))),
      rd_kafka_message_destroy);
  if (message == nullptr) return PollResult::kIdle;  // timed out, or woken
  const rd_kafka_message_t& m = *message;
  from = {m.rkt != nullptr ? rd_kafka_topic_name(m.rkt) : "", m.partition};
  const auto err = static_cast<RdKafka::ErrorCode>(m.err);
  switch (err) {
    case RdKafka::ERR_NO_ERROR: {
      absl::Status handled = handler(ToKafkaMessage(m));
      if (!handled.ok()) return handled;
      positions_[from] = m.offset + 1;
      return PollResult::kHandled;
    }
    case RdKafka::ERR__PARTITION_EOF:
      positions_[from] = m.offset;
      return PollResult::kEndOfPartition;
    case RdKafka::ERR__FATAL:
    case RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED:
    case RdKafka::ERR__UNKNOWN_PARTITION:
    case RdKafka::ERR__UNKNOWN_TOPIC:
      return KafkaStatus(err, absl::StrCat("reading ", from.first));
    default:
      VLOG(1) << "Kafka reader: " << rd_kafka_message_errstr(&m);  // librdkafka retries by itself
      return PollResult::kIdle;
  }
}

int64_t KafkaReader::Position(const std::string& topic, int32_t partition) const {
  auto at = positions_.find({topic, partition});
  return at == positions_.end() ? -1 : at->second;
}

absl::StatusOr<int64_t> KafkaReader::FirstOffset(const std::string& topic, int32_t partition,
                                                 absl::Duration timeout) {
  int64_t low = -1, high = -1;
  absl::Status asked = KafkaStatus(
      consumer_->query_watermark_offsets(topic, partition, &low, &high,
                                         static_cast<int>(absl::ToInt64Milliseconds(timeout))),
      absl::StrCat("asking where ", topic, "/", partition, " begins"));
  if (!asked.ok()) return asked;
  return low;
}

absl::Status KafkaReader::ReadToEnd(absl::Duration timeout, const KafkaMessageHandler& handler) {
  const absl::Time deadline = SystemClock::Get().Steady() + timeout;
  std::set<Partition> at_end;
  while (at_end.size() < started_.size()) {
    if (SystemClock::Get().Steady() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat("reached the end of ", at_end.size(), " of ",
                                                      started_.size(), " partitions within ",
                                                      absl::FormatDuration(timeout)));
    }
    Partition from;
    absl::StatusOr<PollResult> next = Next(absl::Milliseconds(200), handler, from);
    if (!next.ok()) return next.status();
    if (*next == PollResult::kEndOfPartition) at_end.insert(from);
  }
  return absl::OkStatus();
}

}  // namespace evnet
