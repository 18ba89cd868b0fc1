// The engine's events to Kafka: telemetry to evnet.supply.telemetry and
// results to evnet.session.results, keyed by CP id; each result signed with
// the CP's key (common/trust/signing.h) when it has one.
#ifndef EVNET_CP_ENGINE_KAFKA_PUBLISHER_H_
#define EVNET_CP_ENGINE_KAFKA_PUBLISHER_H_

#include <string>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "common/kafka/kafka_producer.h"
#include "cp_engine/charging_engine.h"

namespace evnet {

class KafkaEventPublisher final : public EventPublisher {
 public:
  // `key_file`: the key of the CP's certificate; empty: results go
  // unsigned (--insecure).
  KafkaEventPublisher(KafkaProducer& producer, std::string key_file)
      : producer_(producer), key_file_(std::move(key_file)) {
    ReloadKey();
  }
  // Reads the key file again (a renewed certificate's key is used from
  // then on). Called by the engine's ticker, so that publishing, which runs
  // under the engine's lock, reads no file.
  void ReloadKey();

  void PublishTelemetry(const v1::SupplyTelemetry& telemetry) override;
  [[nodiscard]] absl::Status PublishResult(const v1::SessionResult& result,
                                           std::function<void(absl::Status)> done) override;

 private:
  KafkaProducer& producer_;
  const std::string key_file_;
  absl::Mutex key_mu_;
  std::string key_pem_ ABSL_GUARDED_BY(key_mu_);
};

}  // namespace evnet

#endif  // EVNET_CP_ENGINE_KAFKA_PUBLISHER_H_
