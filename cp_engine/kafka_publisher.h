// The engine's events to Kafka: telemetry to evnet.supply.telemetry and
// results to evnet.session.results, keyed by CP id.
#ifndef EVNET_CP_ENGINE_KAFKA_PUBLISHER_H_
#define EVNET_CP_ENGINE_KAFKA_PUBLISHER_H_

#include "common/kafka_producer.h"
#include "cp_engine/charging_engine.h"

namespace evnet {

class KafkaEventPublisher final : public EventPublisher {
 public:
  explicit KafkaEventPublisher(KafkaProducer& producer) : producer_(producer) {}

  void PublishTelemetry(const v1::SupplyTelemetry& telemetry) override;
  [[nodiscard]] absl::Status PublishResult(const v1::SessionResult& result,
                                           std::function<void(absl::Status)> done) override;

 private:
  KafkaProducer& producer_;
};

}  // namespace evnet

#endif  // EVNET_CP_ENGINE_KAFKA_PUBLISHER_H_
