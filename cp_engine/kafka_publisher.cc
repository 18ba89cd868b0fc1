#include "cp_engine/kafka_publisher.h"

#include "common/json_codec.h"
#include "common/topics.h"
#include "glog/logging.h"

namespace evnet {

void KafkaEventPublisher::PublishTelemetry(const v1::SupplyTelemetry& telemetry) {
  absl::Status queued = producer_.Produce(
      kSupplyTelemetryTopic, telemetry.cp_id(), ToJson(telemetry), [](absl::Status status) {
        if (!status.ok()) VLOG(1) << "telemetry sample lost: " << status;
      });
  if (!queued.ok()) VLOG(1) << "telemetry sample dropped: " << queued;
}

absl::Status KafkaEventPublisher::PublishResult(const v1::SessionResult& result,
                                                std::function<void(absl::Status)> done) {
  return producer_.Produce(kSessionResultsTopic, result.cp_id(), ToJson(result),
                           std::move(done));
}

}  // namespace evnet
