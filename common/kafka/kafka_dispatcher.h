// Hands a consumer's messages to a handler that finishes later, and keeps
// reading while earlier messages are still being handled, so one slow
// message never holds up the ones behind it. An offset is stored only once
// every message before it on its partition is done: a crash replays what
// was unfinished and skips nothing. A message whose handling failed is
// handed over again after a backoff; one refused as INVALID_ARGUMENT (the
// message itself is wrong), or failing `max_attempts` times with an error
// that is not transient, is set aside (the dead-letter topic) so that one
// poison message cannot hold its partition for ever. Transient errors
// (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED: Kafka or a CP
// away for a while) are retried for as long as they last.
#ifndef EVNET_COMMON_KAFKA_DISPATCHER_H_
#define EVNET_COMMON_KAFKA_DISPATCHER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/kafka/kafka_consumer.h"

namespace evnet {

// Runs once per hand-over: OK when the message's effect is done (or it is
// to be skipped for good), anything else to have it handed over again.
// May run on any thread, inline or later.
using KafkaDone = std::function<void(absl::Status)>;
using AsyncKafkaHandler = std::function<void(const KafkaMessage&, KafkaDone)>;

// Which offsets may be stored: per partition, the lowest offset still being
// handled, or one past the last handed over when nothing is. Not thread-safe.
class OffsetTracker {
 public:
  using Partition = std::pair<std::string, int32_t>;
  void Begin(const Partition& partition, int64_t offset);
  void Finish(const Partition& partition, int64_t offset);
  // Partitions whose storable offset moved since the last call, with it.
  std::map<Partition, int64_t> TakeStorable();
  size_t in_flight() const;

 private:
  struct State {
    std::set<int64_t> in_flight;
    int64_t next = -1;    // one past the highest offset begun
    int64_t stored = -1;  // what TakeStorable last returned
  };
  std::map<Partition, State> partitions_;
};

// Keeps a message that will never be handled, with the reason; `done` with
// OK once it is kept (durably), else it is set aside again later.
using SetAside = std::function<void(const KafkaMessage&, const absl::Status& reason, KafkaDone)>;

struct KafkaDispatcherOptions {
  // Reading pauses while this many messages are being handled.
  size_t max_in_flight = 20000;
  absl::Duration retry_backoff = absl::Milliseconds(500);
  // Hand-overs before a message failing with a non-transient error is set
  // aside.
  int max_attempts = 5;
  // Without one, a message to set aside is logged and skipped.
  SetAside set_aside;
  // Backoffs and Poll's timeout are measured on its Steady(); never null.
  const Clock* clock = &SystemClock::Get();
};

class KafkaDispatcher {
 public:
  KafkaDispatcher(KafkaConsumer& consumer, AsyncKafkaHandler handler,
                  KafkaDispatcherOptions options = {});
  // Waits for handlers still running (at most a few seconds); what is not
  // done by then is not stored and comes again after a restart.
  ~KafkaDispatcher();

  // Reads for at most `timeout`: hands over every message that arrived and
  // every failed one due again, and stores the offsets that became
  // storable. Call from one thread. Errors are the consumer's, for good.
  [[nodiscard]] absl::Status Poll(absl::Duration timeout);

  size_t in_flight() const;

 private:
  struct Retry {
    absl::Time due;
    KafkaMessage message;
    int attempts;  // hand-overs so far
    absl::Status set_aside_for;  // not OK: to be set aside, not handled
  };
  void Dispatch(const KafkaMessage& message, int attempt);
  void Done(const KafkaMessage& message, int attempt, absl::Status status);
  void PutAside(const KafkaMessage& message, int attempt, const absl::Status& reason);
  void Finish(const KafkaMessage& message) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // What a handler's `done` (or set_aside's) runs: `step` on this
  // dispatcher if it still exists; after its destructor, nothing (the
  // message was not stored, so it comes again).
  KafkaDone Guarded(std::function<void(KafkaDispatcher&, absl::Status)> step);

  // Outlives the dispatcher in the closures it handed out.
  struct Alive {
    absl::Mutex mu;
    KafkaDispatcher* self ABSL_GUARDED_BY(mu);
    int running ABSL_GUARDED_BY(mu) = 0;  // steps under way on the dispatcher
  };
  const std::shared_ptr<Alive> alive_;
  KafkaConsumer& consumer_;
  const AsyncKafkaHandler handler_;
  const KafkaDispatcherOptions options_;
  mutable absl::Mutex mu_;
  OffsetTracker tracker_ ABSL_GUARDED_BY(mu_);
  std::deque<Retry> retries_ ABSL_GUARDED_BY(mu_);
  std::string last_error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace evnet

#endif  // EVNET_COMMON_KAFKA_DISPATCHER_H_
