// Sets aside Kafka messages that will never be handled: each goes to the
// dead-letter topic with its reason (a KafkaDispatcher's `set_aside`), is
// logged once, and is counted per topic for the metrics.
#ifndef EVNET_COMMON_DEAD_LETTERS_H_
#define EVNET_COMMON_DEAD_LETTERS_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/kafka/kafka_dispatcher.h"
#include "common/kafka/kafka_producer.h"

namespace evnet {

class DeadLetters {
 public:
  // `program` names the writer in each record and log line ("Central").
  // `clock` stamps each record (wall time).
  DeadLetters(KafkaProducer& producer, std::string program,
              const Clock& clock = SystemClock::Get())
      : producer_(producer), program_(std::move(program)), clock_(clock) {}

  // Produces the record; `done` runs with the delivery's outcome.
  void SetAside(const KafkaMessage& message, const absl::Status& reason, KafkaDone done);

  // Messages set aside since start, by their topic.
  std::map<std::string, int64_t> Counts() const;

 private:
  KafkaProducer& producer_;
  const std::string program_;
  const Clock& clock_;
  mutable absl::Mutex mu_;
  std::map<std::string, int64_t> counts_ ABSL_GUARDED_BY(mu_);
};

}  // namespace evnet

#endif  // EVNET_COMMON_DEAD_LETTERS_H_
