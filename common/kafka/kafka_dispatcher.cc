#include "common/kafka/kafka_dispatcher.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace evnet {

void OffsetTracker::Begin(const Partition& partition, int64_t offset) {
  State& state = partitions_[partition];
  state.in_flight.insert(offset);
  state.next = std::max(state.next, offset + 1);
}

void OffsetTracker::Finish(const Partition& partition, int64_t offset) {
  auto it = partitions_.find(partition);
  if (it != partitions_.end()) it->second.in_flight.erase(offset);
}

std::map<OffsetTracker::Partition, int64_t> OffsetTracker::TakeStorable() {
  std::map<Partition, int64_t> out;
  for (auto& [partition, state] : partitions_) {
    const int64_t storable = state.in_flight.empty() ? state.next : *state.in_flight.begin();
    if (storable <= state.stored) continue;
    state.stored = storable;
    out[partition] = storable;
  }
  return out;
}

size_t OffsetTracker::in_flight() const {
  size_t n = 0;
  for (const auto& [partition, state] : partitions_) n += state.in_flight.size();
  return n;
}

KafkaDispatcher::KafkaDispatcher(KafkaConsumer& consumer, AsyncKafkaHandler handler,
                                 KafkaDispatcherOptions options)
    : alive_(std::make_shared<Alive>()),
      consumer_(consumer),
      handler_(std::move(handler)),
      options_(options) {
  absl::MutexLock lock(&alive_->mu);
  alive_->self = this;
}

KafkaDone KafkaDispatcher::Guarded(std::function<void(KafkaDispatcher&, absl::Status)> step) {
  return [alive = alive_, step = std::move(step)](absl::Status status) {
    KafkaDispatcher* self;
    {
      absl::MutexLock lock(&alive->mu);
      self = alive->self;
      if (self == nullptr) return;
      ++alive->running;  // the destructor waits for it
    }
    step(*self, std::move(status));
    absl::MutexLock lock(&alive->mu);
    --alive->running;
  };
}

KafkaDispatcher::~KafkaDispatcher() {
  {
    absl::MutexLock lock(&mu_);
    auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return tracker_.in_flight() == retries_.size();
    };
    mu_.AwaitWithTimeout(absl::Condition(&idle), absl::Seconds(5));
    for (const auto& [partition, offset] : tracker_.TakeStorable()) {
      (void)consumer_.StoreOffset(partition.first, partition.second, offset);
    }
  }
  // Handlers that finish later find no dispatcher, instead of a dead one;
  // those finishing now are waited for.
  absl::MutexLock lock(&alive_->mu);
  alive_->self = nullptr;
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(alive_->mu) { return alive_->running == 0; };
  alive_->mu.Await(absl::Condition(&idle));
}

size_t KafkaDispatcher::in_flight() const {
  absl::MutexLock lock(&mu_);
  return tracker_.in_flight();
}

void KafkaDispatcher::Dispatch(const KafkaMessage& message, int attempt) {
  handler_(message, Guarded([message, attempt](KafkaDispatcher& self, absl::Status status) {
             self.Done(message, attempt, std::move(status));
           }));
}

void KafkaDispatcher::Finish(const KafkaMessage& message) {
  tracker_.Finish({message.topic, message.partition}, message.offset);
}

namespace {

// Failures of what the handler depends on (Kafka down, a CP not answering):
// they pass, so the message waits for them however long they last.
bool Transient(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status) ||
         absl::IsResourceExhausted(status) || absl::IsAborted(status);
}

}  // namespace

void KafkaDispatcher::Done(const KafkaMessage& message, int attempt, absl::Status status) {
  if (!status.ok() && (absl::IsInvalidArgument(status) ||
                       (attempt >= options_.max_attempts && !Transient(status)))) {
    if (!absl::IsInvalidArgument(status)) {
      status = absl::Status(status.code(), absl::StrCat("failed ", attempt, " times, last: ",
                                                        status.message()));
    }
    return PutAside(message, attempt, status);
  }
  absl::MutexLock lock(&mu_);
  if (status.ok()) {
    Finish(message);
    last_error_.clear();
    return;
  }
  // Not done: it comes again. Say so once per kind of failure.
  if (std::string(status.message()) != last_error_) {
    LOG(WARNING) << "Will retry the message at " << message.topic << "/" << message.partition
                 << "@" << message.offset << ": " << status;
    last_error_ = std::string(status.message());
  }
  retries_.push_back(
      {options_.clock->Steady() + options_.retry_backoff, message, attempt, absl::OkStatus()});
}

void KafkaDispatcher::PutAside(const KafkaMessage& message, int attempt,
                               const absl::Status& reason) {
  if (!options_.set_aside) {
    LOG(ERROR) << "Skipped the message at " << message.topic << "/" << message.partition << "@"
               << message.offset << " for good: " << reason.message();
    absl::MutexLock lock(&mu_);
    Finish(message);
    return;
  }
  options_.set_aside(
      message, reason,
      Guarded([message, attempt, reason](KafkaDispatcher& self, absl::Status kept) {
        absl::MutexLock lock(&self.mu_);
        if (kept.ok()) return self.Finish(message);
        LOG(WARNING) << "Cannot set aside the message at " << message.topic << "/"
                     << message.partition << "@" << message.offset << " yet: " << kept;
        self.retries_.push_back(
            {self.options_.clock->Steady() + self.options_.retry_backoff, message, attempt,
             reason});
      }));
}

absl::Status KafkaDispatcher::Poll(absl::Duration timeout) {
  const absl::Time deadline = options_.clock->Steady() + timeout;
  std::vector<Retry> due;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = options_.clock->Steady();
    while (!retries_.empty() && retries_.front().due <= now) {
      due.push_back(std::move(retries_.front()));
      retries_.pop_front();
    }
  }
  for (const Retry& retry : due) {
    if (retry.set_aside_for.ok()) {
      Dispatch(retry.message, retry.attempts + 1);
    } else {
      PutAside(retry.message, retry.attempts, retry.set_aside_for);
    }
  }

  absl::Status status;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (tracker_.in_flight() >= options_.max_in_flight) {
        // Back-pressure: wait for handlers rather than read further.
        auto below = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return tracker_.in_flight() < options_.max_in_flight;
        };
        mu_.AwaitWithDeadline(absl::Condition(&below), deadline);
        if (!below()) break;
      }
    }
    const absl::Duration left = std::max(absl::ZeroDuration(), deadline - options_.clock->Steady());
    absl::StatusOr<std::optional<KafkaMessage>> next = consumer_.Next(left);
    if (!next.ok()) {
      status = next.status();
      break;
    }
    if (!next->has_value()) break;
    {
      absl::MutexLock lock(&mu_);
      tracker_.Begin({(*next)->topic, (*next)->partition}, (*next)->offset);
    }
    Dispatch(**next, 1);
    // Drain what is already fetched without waiting again.
    if (options_.clock->Steady() >= deadline) break;
  }

  std::map<OffsetTracker::Partition, int64_t> storable;
  {
    absl::MutexLock lock(&mu_);
    storable = tracker_.TakeStorable();
  }
  for (const auto& [partition, offset] : storable) {
    absl::Status stored = consumer_.StoreOffset(partition.first, partition.second, offset);
    if (!stored.ok()) LOG(WARNING) << stored;
  }
  return status;
}

}  // namespace evnet
