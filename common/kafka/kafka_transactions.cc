#include "common/kafka/kafka_transactions.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/crash_point.h"
#include "glog/logging.h"

namespace evnet {
namespace {

struct ErrorDeleter {
  void operator()(RdKafka::Error* error) const { delete error; }
};
using ErrorPtr = std::unique_ptr<RdKafka::Error, ErrorDeleter>;

int Millis(absl::Duration d) { return static_cast<int>(absl::ToInt64Milliseconds(d)); }

}  // namespace

absl::StatusOr<std::unique_ptr<KafkaTransactions>> KafkaTransactions::Create(
    const KafkaTransactionsOptions& options) {
  if (options.transactional_id.empty()) {
    return absl::InvalidArgumentError("a transactional producer needs a transactional id");
  }
  absl::StatusOr<KafkaClientConf> client = MakeKafkaClientConf(
      options.bootstrap_servers, options.client_id,
      {
          {"transactional.id", options.transactional_id},
          {"transaction.timeout.ms", std::to_string(Millis(options.transaction_timeout))},
          {"linger.ms", "1"},
          {"partitioner", "murmur2_random"},  // as KafkaProducer: keys map as in Java
      },
      options.properties);
  if (!client.ok()) return client.status();
  std::string error;
  std::unique_ptr<RdKafka::Producer> producer(
      RdKafka::Producer::create(client->conf.get(), error));
  if (producer == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot create a transactional Kafka producer: ", error));
  }
  return std::unique_ptr<KafkaTransactions>(
      new KafkaTransactions(std::move(client->event_logger), std::move(client->conf),
                            std::move(producer), options));
}

KafkaTransactions::KafkaTransactions(std::unique_ptr<KafkaEventLogger> event_logger,
                                     std::unique_ptr<RdKafka::Conf> conf,
                                     std::unique_ptr<RdKafka::Producer> producer,
                                     const KafkaTransactionsOptions& options)
    : event_logger_(std::move(event_logger)),
      conf_(std::move(conf)),
      producer_(std::move(producer)),
      options_(options),
      thread_([this] { Run(); }) {}

KafkaTransactions::~KafkaTransactions() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void KafkaTransactions::Commit(std::vector<KafkaRecord> records, Done done) {
  absl::Status refused;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      refused = absl::UnavailableError("the transactional Kafka producer is stopping");
    } else if (!fatal_.ok()) {
      refused = fatal_;
    } else {
      queue_.push_back({std::move(records), std::move(done)});
      return;
    }
  }
  done(refused);
}

absl::Status KafkaTransactions::Fatal() const {
  absl::MutexLock lock(&mu_);
  return fatal_;
}

absl::Status KafkaTransactions::Started() const {
  absl::MutexLock lock(&mu_);
  if (!fatal_.ok()) return fatal_;
  if (started_) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat(
      "the transactional Kafka producer ", options_.transactional_id, " is starting",
      starting_error_.empty() ? "" : absl::StrCat(" (", starting_error_, ")")));
}

uint64_t KafkaTransactions::committed() const {
  absl::MutexLock lock(&mu_);
  return committed_;
}

absl::Status KafkaTransactions::Failed(RdKafka::Error* error, absl::string_view what) {
  const std::string why = absl::StrCat("Kafka transaction: ", what, ": ", error->str());
  if (!error->is_fatal()) return absl::UnavailableError(why);
  absl::Status fatal = absl::InternalError(absl::StrCat(
      why, " (failed for good: fenced by a newer producer with transactional id ",
      options_.transactional_id, ", or broken; it must be replaced)"));
  absl::MutexLock lock(&mu_);
  if (fatal_.ok()) fatal_ = fatal;
  return fatal;
}

void KafkaTransactions::Run() {
  // The producer's id and epoch: until the broker gives them, commits wait
  // in the queue (a broker that is down delays decisions; it loses none).
  std::string last_error;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) break;
    }
    ErrorPtr error(producer_->init_transactions(Millis(options_.commit_timeout)));
    if (error == nullptr) {
      absl::MutexLock lock(&mu_);
      started_ = true;
      break;
    }
    absl::Status failed = Failed(error.get(), "starting");
    {
      absl::MutexLock lock(&mu_);
      starting_error_ = std::string(failed.message());
    }
    if (!Fatal().ok()) break;
    if (std::string(failed.message()) != last_error) {
      LOG(WARNING) << failed.message() << "; retrying";
      last_error = std::string(failed.message());
    }
    absl::MutexLock lock(&mu_);
    auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
    mu_.AwaitWithTimeout(absl::Condition(&stopping), absl::Seconds(1));
  }
  while (true) {
    std::vector<Pending> batch;
    bool work = false;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || !queue_.empty() || !fatal_.ok();
      };
      work = mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Milliseconds(100));
      size_t messages = 0;
      while (work && !queue_.empty() &&
             (batch.empty() || messages + queue_.front().records.size() <= options_.max_batch)) {
        messages += queue_.front().records.size();
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    if (!work) {
      producer_->poll(0);  // librdkafka's events (logging) between batches
      continue;
    }
    if (batch.empty()) break;  // stopping, or failed for good, with nothing left
    const absl::Status status = Fatal().ok() ? CommitBatch(batch) : Fatal();
    if (status.ok()) {
      absl::MutexLock lock(&mu_);
      ++committed_;
    }
    for (Pending& pending : batch) pending.done(status);
  }
}

absl::Status KafkaTransactions::CommitBatch(const std::vector<Pending>& batch) {
  if (ErrorPtr error(producer_->begin_transaction()); error != nullptr) {
    return Failed(error.get(), "begin");
  }
  const absl::Time give_up = SystemClock::Get().Steady() + options_.commit_timeout;
  auto abort = [&](absl::Status why) {
    ErrorPtr aborted(producer_->abort_transaction(Millis(options_.commit_timeout)));
    if (aborted != nullptr) {
      absl::Status failed = Failed(aborted.get(), "abort");
      LOG(WARNING) << failed.message();
    }
    return why;
  };
  for (const Pending& pending : batch) {
    for (const KafkaRecord& record : pending.records) {
      RdKafka::ErrorCode err;
      lookups_.Ask(*producer_, record.topic);
      while (true) {
        err = producer_->produce(
            record.topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
            record.value.has_value() ? const_cast<char*>(record.value->data()) : nullptr,
            record.value.has_value() ? record.value->size() : 0, record.key.data(),
            record.key.size(), 0, nullptr);
        if (err != RdKafka::ERR__QUEUE_FULL || SystemClock::Get().Steady() >= give_up) break;
        producer_->poll(10);
      }
      if (err != RdKafka::ERR_NO_ERROR) {
        return abort(KafkaStatus(err, absl::StrCat("cannot queue a message for ", record.topic,
                                                   " in a transaction")));
      }
    }
  }
  CrashPoint("transaction.committing");  // every message produced, none visible
  while (true) {
    const absl::Duration left =
        std::max(give_up - SystemClock::Get().Steady(), absl::Milliseconds(100));
    ErrorPtr error(producer_->commit_transaction(Millis(left)));
    if (error == nullptr) return absl::OkStatus();
    if (error->txn_requires_abort()) return abort(Failed(error.get(), "commit"));
    absl::Status failed = Failed(error.get(), "commit");
    if (error->is_fatal() || !error->is_retriable()) return failed;
    // A retriable error (a timeout, Kafka away) leaves the commit under way:
    // librdkafka allows only calling commit again, never an abort, so it is
    // called again until it ends (decisions queue meanwhile), or until stop.
    absl::MutexLock lock(&mu_);
    if (stopping_) return failed;
    auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
    mu_.AwaitWithTimeout(absl::Condition(&stopping), absl::Milliseconds(200));
  }
}

}  // namespace evnet
