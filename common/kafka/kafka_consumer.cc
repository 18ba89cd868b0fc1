#include "common/kafka/kafka_consumer.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "glog/logging.h"
#include "librdkafka/rdkafka.h"

namespace evnet {

absl::StatusOr<std::unique_ptr<KafkaConsumer>> KafkaConsumer::Create(
    const KafkaConsumerOptions& options) {
  if (options.group_id.empty()) {
    return absl::InvalidArgumentError("a Kafka consumer needs a group id");
  }
  if (options.topics.empty() == options.partitions.empty()) {
    return absl::InvalidArgumentError(
        "a Kafka consumer takes either topics to subscribe to or partitions to read");
  }
  absl::StatusOr<KafkaClientConf> client = MakeKafkaClientConf(
      options.bootstrap_servers, options.client_id,
      {
          {"group.id", options.group_id},
          {"enable.auto.commit", "true"},
          {"enable.auto.offset.store", "false"},
          {"auto.commit.interval.ms",
           std::to_string(absl::ToInt64Milliseconds(options.auto_commit_interval))},
          {"auto.offset.reset", options.start_from_beginning ? "earliest" : "latest"},
          {"enable.partition.eof", "true"},
      },
      options.properties);
  if (!client.ok()) return client.status();
  std::string error;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(client->conf.get(), error));
  if (consumer == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("cannot create Kafka consumer: ", error));
  }

  RdKafka::ErrorCode err;
  if (!options.topics.empty()) {
    err = consumer->subscribe(options.topics);
  } else {
    TopicPartitions partitions;
    for (const KafkaTopicPartition& tp : options.partitions) {
      // OFFSET_INVALID: start from the committed offset, else auto.offset.reset.
      partitions.Add(tp.topic, tp.partition, RdKafka::Topic::OFFSET_INVALID);
    }
    err = consumer->assign(partitions.list());
  }
  if (err != RdKafka::ERR_NO_ERROR) {
    consumer->close();
    return KafkaStatus(err, "cannot subscribe the Kafka consumer");
  }
  std::unique_ptr<KafkaConsumer> created(new KafkaConsumer(
      std::move(client->event_logger), std::move(consumer), options.partitions.size()));
  created->partitions_ = options.partitions;
  created->start_from_beginning_ = options.start_from_beginning;
  return created;
}

KafkaConsumer::KafkaConsumer(std::unique_ptr<KafkaEventLogger> event_logger,
                             std::unique_ptr<RdKafka::KafkaConsumer> consumer, size_t assigned)
    : event_logger_(std::move(event_logger)),
      consumer_(std::move(consumer)),
      assigned_(assigned) {}

KafkaConsumer::~KafkaConsumer() {
  absl::Status closed = Close();
  if (!closed.ok()) LOG(WARNING) << "closing the Kafka consumer: " << closed;
}

void KafkaConsumer::Wake() {
  // The queue consume() waits on (the consumer group's); yielding it ends
  // that wait, where rd_kafka_yield works only from inside a callback.
  rd_kafka_queue_t* queue = rd_kafka_queue_get_consumer(consumer_->c_ptr());
  if (queue == nullptr) return;
  rd_kafka_queue_yield(queue);
  rd_kafka_queue_destroy(queue);
}

absl::StatusOr<PollResult> KafkaConsumer::Poll(absl::Duration timeout,
                                               const KafkaMessageHandler& handler) {
  if (closed_) return absl::FailedPreconditionError("the Kafka consumer is closed");
  std::unique_ptr<RdKafka::Message> message(
      consumer_->consume(static_cast<int>(absl::ToInt64Milliseconds(timeout))));
  return Handle(*message, handler);
}

absl::StatusOr<std::optional<KafkaMessage>> KafkaConsumer::Next(absl::Duration timeout) {
  if (closed_) return absl::FailedPreconditionError("the Kafka consumer is closed");
  std::unique_ptr<RdKafka::Message> message(
      consumer_->consume(static_cast<int>(absl::ToInt64Milliseconds(timeout))));
  switch (message->err()) {
    case RdKafka::ERR_NO_ERROR:
      return ToKafkaMessage(*message->c_ptr());
    case RdKafka::ERR__FATAL:
    case RdKafka::ERR_GROUP_AUTHORIZATION_FAILED:
    case RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED:
      return KafkaStatus(message->err(), "Kafka consumer");
    default:
      // Timeouts, partition ends, transport errors librdkafka retries itself.
      return std::nullopt;
  }
}

absl::Status KafkaConsumer::StoreOffset(const std::string& topic, int32_t partition,
                                        int64_t next_offset) {
  TopicPartitions next;
  next.Add(topic, partition, next_offset);
  return KafkaStatus(consumer_->offsets_store(next.list()),
                     absl::StrCat("storing offset ", next_offset, " of ", topic, "/", partition));
}

absl::StatusOr<PollResult> KafkaConsumer::Handle(RdKafka::Message& message_ref,
                                                 const KafkaMessageHandler& handler) {
  RdKafka::Message* message = &message_ref;
  switch (message->err()) {
    case RdKafka::ERR_NO_ERROR:
      break;
    case RdKafka::ERR__TIMED_OUT:
      return PollResult::kIdle;
    case RdKafka::ERR__PARTITION_EOF:
      return PollResult::kEndOfPartition;
    case RdKafka::ERR__FATAL:
    case RdKafka::ERR_GROUP_AUTHORIZATION_FAILED:
    case RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED:
      return KafkaStatus(message->err(), "Kafka consumer");
    default:
      // Transport errors and the like: librdkafka retries by itself, and the
      // event logger has told the operator.
      VLOG(1) << "Kafka consumer: " << message->errstr();
      return PollResult::kIdle;
  }

  absl::Status handled = handler(ToKafkaMessage(*message->c_ptr()));
  if (!handled.ok()) {
    absl::Status seek = SeekBack(*message);
    if (!seek.ok()) LOG(WARNING) << seek;
    return handled;
  }
  absl::Status stored = StoreOffset(*message);
  if (!stored.ok()) return stored;
  return PollResult::kHandled;
}

absl::Status KafkaConsumer::ReadToEnd(absl::Duration timeout,
                                      const KafkaMessageHandler& handler) {
  if (assigned_ == 0) {
    return absl::FailedPreconditionError("ReadToEnd needs partitions assigned by hand");
  }
  const absl::Time deadline = SystemClock::Get().Steady() + timeout;
  std::set<std::pair<std::string, int32_t>> at_end;
  while (at_end.size() < assigned_) {
    if (SystemClock::Get().Steady() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "reached the end of ", at_end.size(), " of ", assigned_, " partitions within ",
          absl::FormatDuration(timeout)));
    }
    std::unique_ptr<RdKafka::Message> message(consumer_->consume(200));
    if (message->err() == RdKafka::ERR__PARTITION_EOF) {
      at_end.insert({message->topic_name(), message->partition()});
      continue;
    }
    absl::StatusOr<PollResult> handled = Handle(*message, handler);
    if (!handled.ok()) return handled.status();
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> KafkaConsumer::Lag() {
  if (partitions_.empty()) return absl::FailedPreconditionError("no partitions assigned by hand");
  TopicPartitions positions;
  for (const KafkaTopicPartition& tp : partitions_) {
    positions.Add(tp.topic, tp.partition, RdKafka::Topic::OFFSET_INVALID);
  }
  RdKafka::ErrorCode err = consumer_->position(positions.list());
  if (err != RdKafka::ERR_NO_ERROR) return KafkaStatus(err, "Kafka consumer position");
  bool unread = false;
  for (RdKafka::TopicPartition* tp : positions.list()) unread |= tp->offset() < 0;
  if (unread && committed_.empty()) {
    TopicPartitions committed;
    for (const KafkaTopicPartition& tp : partitions_) {
      committed.Add(tp.topic, tp.partition, RdKafka::Topic::OFFSET_INVALID);
    }
    err = consumer_->committed(committed.list(), /*timeout_ms=*/5000);
    if (err != RdKafka::ERR_NO_ERROR) return KafkaStatus(err, "Kafka committed offsets");
    for (RdKafka::TopicPartition* tp : committed.list()) {
      committed_[{tp->topic(), tp->partition()}] = tp->offset();
    }
  }
  int64_t lag = 0;
  for (RdKafka::TopicPartition* tp : positions.list()) {
    int64_t low = 0, high = 0;
    if (consumer_->get_watermark_offsets(tp->topic(), tp->partition(), &low, &high) !=
            RdKafka::ERR_NO_ERROR ||
        high < 0) {
      return absl::UnavailableError("watermarks not known yet");
    }
    int64_t at = tp->offset();
    if (at < 0) {  // nothing read from it yet: it resumes where the group left it
      auto committed = committed_.find({tp->topic(), tp->partition()});
      const int64_t resume = committed == committed_.end() ? -1 : committed->second;
      at = resume >= 0 ? resume : start_from_beginning_ ? low : high;
    }
    lag += std::max<int64_t>(0, high - std::max(at, low));
  }
  return lag;
}

absl::Status KafkaConsumer::StoreOffset(const RdKafka::Message& message) {
  return StoreOffset(message.topic_name(), message.partition(), message.offset() + 1);
}

absl::Status KafkaConsumer::SeekBack(const RdKafka::Message& message) {
  std::unique_ptr<RdKafka::TopicPartition> at(RdKafka::TopicPartition::create(
      message.topic_name(), message.partition(), message.offset()));
  return KafkaStatus(consumer_->seek(*at, /*timeout_ms=*/5000),
                     absl::StrCat("seeking back to offset ", message.offset(), " of ",
                                  message.topic_name(), "/", message.partition()));
}

absl::Status KafkaConsumer::Commit() {
  if (closed_) return absl::FailedPreconditionError("the Kafka consumer is closed");
  RdKafka::ErrorCode err = consumer_->commitSync();
  // Nothing stored since the last commit is not an error.
  if (err == RdKafka::ERR__NO_OFFSET) return absl::OkStatus();
  return KafkaStatus(err, "committing Kafka offsets");
}

absl::Status KafkaConsumer::Close() {
  if (closed_) return absl::OkStatus();
  closed_ = true;
  return KafkaStatus(consumer_->close(), "closing the Kafka consumer");
}

}  // namespace evnet
