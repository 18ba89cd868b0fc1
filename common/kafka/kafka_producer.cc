#include "common/kafka/kafka_producer.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/clock.h"
#include "glog/logging.h"
#include "librdkafka/rdkafka.h"

namespace evnet {

// Runs each message's callback, which travels as the message's opaque.
class KafkaProducer::DeliveryReporter : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& message) override {
    std::unique_ptr<DeliveryCallback> callback(
        static_cast<DeliveryCallback*>(message.msg_opaque()));
    if (message.err() != RdKafka::ERR_NO_ERROR) failed_.fetch_add(1, std::memory_order_relaxed);
    if (callback == nullptr) return;
    (*callback)(KafkaStatus(message.err(),
                            absl::StrCat("delivery to ", message.topic_name())));
  }
  int64_t failed() const { return failed_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> failed_{0};
};

int64_t KafkaProducer::FailedDeliveries() const { return reporter_->failed(); }

int32_t PartitionForKey(absl::string_view key, int32_t partitions) {
  // The partitioner librdkafka runs for "murmur2_random" on a non-empty key;
  // it reads neither the topic handle nor the opaques.
  return rd_kafka_msg_partitioner_murmur2(nullptr, key.data(), key.size(), partitions, nullptr,
                                          nullptr);
}

absl::StatusOr<std::unique_ptr<KafkaProducer>> KafkaProducer::Create(
    const KafkaProducerOptions& options) {
  absl::StatusOr<KafkaClientConf> client = MakeKafkaClientConf(
      options.bootstrap_servers, options.client_id,
      {
          {"enable.idempotence", "true"},
          {"acks", "all"},
          {"message.timeout.ms",
           std::to_string(absl::ToInt64Milliseconds(options.delivery_timeout))},
          {"linger.ms", "5"},
          // Keys map to partitions as in Kafka's Java clients (PartitionForKey).
          {"partitioner", "murmur2_random"},
      },
      options.properties);
  if (!client.ok()) return client.status();
  auto reporter = std::make_unique<DeliveryReporter>();
  std::string error;
  if (client->conf->set("dr_cb", reporter.get(), error) != RdKafka::Conf::CONF_OK) {
    return absl::InternalError(absl::StrCat("Kafka dr_cb: ", error));
  }
  std::unique_ptr<RdKafka::Producer> producer(
      RdKafka::Producer::create(client->conf.get(), error));
  if (producer == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("cannot create Kafka producer: ", error));
  }
  return std::unique_ptr<KafkaProducer>(
      new KafkaProducer(std::move(client->event_logger), std::move(reporter),
                        std::move(client->conf), std::move(producer), options));
}

KafkaProducer::KafkaProducer(std::unique_ptr<KafkaEventLogger> event_logger,
                             std::unique_ptr<DeliveryReporter> reporter,
                             std::unique_ptr<RdKafka::Conf> conf,
                             std::unique_ptr<RdKafka::Producer> producer,
                             const KafkaProducerOptions& options)
    : event_logger_(std::move(event_logger)),
      reporter_(std::move(reporter)),
      conf_(std::move(conf)),
      producer_(std::move(producer)),
      queue_full_wait_(options.queue_full_wait),
      replace_when_fatal_(options.replace_when_fatal),
      poll_thread_([this] { PollLoop(); }) {}

namespace {

// Reports every message left on `producer` as failed, so that no callback
// is silently dropped.
void FailWhatIsLeft(RdKafka::Producer& producer) {
  producer.purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
  const absl::Time give_up = SystemClock::Get().Steady() + absl::Seconds(5);
  producer.poll(0);
  while (producer.outq_len() > 0 && SystemClock::Get().Steady() < give_up) producer.poll(10);
}

}  // namespace

KafkaProducer::~KafkaProducer() {
  absl::Status flushed = Flush(absl::Seconds(10));
  if (!flushed.ok()) LOG(WARNING) << "closing the Kafka producer: " << flushed;
  stopping_ = true;
  {
    // Ends the poll thread's wait (or its next) at once.
    rd_kafka_queue_t* reports = rd_kafka_queue_get_main(Current()->c_ptr());
    rd_kafka_queue_yield(reports);
    rd_kafka_queue_destroy(reports);
  }
  poll_thread_.join();
  FailWhatIsLeft(*Current());
}

std::shared_ptr<RdKafka::Producer> KafkaProducer::Current() const {
  absl::ReaderMutexLock lock(&mu_);
  return producer_;
}

void KafkaProducer::PollLoop() {
  while (!stopping_) {
    std::shared_ptr<RdKafka::Producer> producer = Current();
    producer->poll(100);
    if (!replace_when_fatal_) continue;
    std::string reason;
    if (producer->fatal_error(reason) != RdKafka::ERR_NO_ERROR) Replace(std::move(producer));
  }
}

void KafkaProducer::Replace(std::shared_ptr<RdKafka::Producer> failed) {
  const absl::Time now = SystemClock::Get().Steady();
  if (next_replacement_ == absl::InfinitePast()) {  // it has just failed
    // A producer that lasted a while starts the waits over at a second.
    if (now - last_replacement_ > absl::Minutes(1)) replacement_backoff_ = absl::Seconds(1);
    next_replacement_ = now + replacement_backoff_;
  }
  if (now < next_replacement_) return;
  const absl::Status why = Fatal();
  std::string error;
  std::shared_ptr<RdKafka::Producer> fresh(RdKafka::Producer::create(conf_.get(), error));
  if (fresh == nullptr) {
    LOG(ERROR) << why.message() << "; cannot create a new one yet: " << error;
    next_replacement_ = now + replacement_backoff_;
    return;
  }
  {
    absl::WriterMutexLock lock(&mu_);
    producer_ = fresh;
  }
  const int left = failed->outq_len();
  LOG(WARNING) << why.message() << "; replaced by a new producer, and the " << left
               << " message(s) left on the old one are reported as failed";
  FailWhatIsLeft(*failed);
  // Should the new one fail too, it waits longer, up to 30 s.
  next_replacement_ = absl::InfinitePast();
  replacement_backoff_ = std::min(replacement_backoff_ * 2, absl::Seconds(30));
  last_replacement_ = now;
}

absl::Status KafkaProducer::Produce(absl::string_view topic, absl::string_view key,
                                    absl::string_view value,
                                    DeliveryCallback on_delivery, absl::Time created) {
  auto callback = std::make_unique<DeliveryCallback>(std::move(on_delivery));
  const std::string topic_name(topic);
  const absl::Time give_up = SystemClock::Get().Steady() + queue_full_wait_;
  std::shared_ptr<RdKafka::Producer> producer = Current();
  RdKafka::ErrorCode err;
  while (true) {
    lookups_.Ask(*producer, topic_name);
    err = producer->produce(
        topic_name, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
        const_cast<char*>(value.data()), value.size(), key.data(), key.size(),
        created == absl::InfinitePast() ? 0 : absl::ToUnixMillis(created), callback.get());
    if (err == RdKafka::ERR__FATAL) {
      // Failed for good; if it was replaced meanwhile, the new one takes
      // the message. Either way the caller learns what became of it.
      std::shared_ptr<RdKafka::Producer> now = Current();
      if (now == producer) break;
      producer = std::move(now);
      continue;
    }
    // A full queue empties as deliveries are reported (by the poll thread).
    if (err != RdKafka::ERR__QUEUE_FULL || SystemClock::Get().Steady() >= give_up) break;
    absl::SleepFor(absl::Milliseconds(5));
  }
  if (err == RdKafka::ERR__FATAL) {
    std::string reason;
    producer->fatal_error(reason);
    return absl::InternalError(absl::StrCat("the Kafka producer failed for good (", reason,
                                            "); the message was not queued"));
  }
  if (err != RdKafka::ERR_NO_ERROR) {
    return KafkaStatus(err, absl::StrCat("cannot queue a message for ", topic));
  }
  callback.release();  // Owned by the delivery report now.
  return absl::OkStatus();
}

absl::Status KafkaProducer::ProduceAndWait(absl::string_view topic,
                                           absl::string_view key,
                                           absl::string_view value,
                                           absl::Duration timeout) {
  struct Result {
    absl::Notification done;
    absl::Status status;
  };
  auto result = std::make_shared<Result>();
  absl::Status queued = Produce(topic, key, value, [result](absl::Status status) {
    result->status = std::move(status);
    result->done.Notify();
  });
  if (!queued.ok()) return queued;
  if (!result->done.WaitForNotificationWithTimeout(timeout)) {
    return absl::DeadlineExceededError(absl::StrCat(
        "no delivery report from Kafka for ", topic, " within ",
        absl::FormatDuration(timeout), " (the message stays queued)"));
  }
  return result->status;
}

absl::Status KafkaProducer::Flush(absl::Duration timeout) {
  const std::shared_ptr<RdKafka::Producer> producer = Current();
  RdKafka::ErrorCode err =
      producer->flush(static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  if (err == RdKafka::ERR__TIMED_OUT) {
    return absl::DeadlineExceededError(absl::StrCat(
        producer->outq_len(), " Kafka message(s) still undelivered after ",
        absl::FormatDuration(timeout)));
  }
  return KafkaStatus(err, "flushing the Kafka producer");
}

int KafkaProducer::OutstandingMessages() const { return Current()->outq_len(); }

absl::Status KafkaProducer::Fatal() const {
  std::string reason;
  const RdKafka::ErrorCode err = Current()->fatal_error(reason);
  if (err == RdKafka::ERR_NO_ERROR) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(
      "the Kafka producer failed for good (", RdKafka::err2str(err), ": ", reason, ")",
      replace_when_fatal_ ? "" : "; it must be replaced"));
}

void KafkaProducer::InjectFatalErrorForTesting(const std::string& reason) {
  rd_kafka_test_fatal_error(Current()->c_ptr(), RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
                            reason.c_str());
}

}  // namespace evnet
