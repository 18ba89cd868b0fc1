#include "cp_engine/kafka_publisher.h"

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/json_codec.h"
#include "common/trust/signing.h"
#include "common/kafka/topics.h"
#include "glog/logging.h"

namespace evnet {

void KafkaEventPublisher::PublishTelemetry(const v1::SupplyTelemetry& telemetry) {
  absl::Status queued = producer_.Produce(
      kSupplyTelemetryTopic, telemetry.cp_id(), ToJson(telemetry), [](absl::Status status) {
        if (!status.ok()) VLOG(1) << "telemetry sample lost: " << status;
      });
  if (!queued.ok()) VLOG(1) << "telemetry sample dropped: " << queued;
}

void KafkaEventPublisher::ReloadKey() {
  if (key_file_.empty()) return;
  absl::StatusOr<std::string> key = ReadFile(key_file_);
  if (!key.ok()) {
    LOG(WARNING) << "cannot read the CP's key to sign results with: " << key.status();
    return;
  }
  absl::MutexLock lock(&key_mu_);
  key_pem_ = *std::move(key);
}

absl::Status KafkaEventPublisher::PublishResult(const v1::SessionResult& result,
                                                std::function<void(absl::Status)> done) {
  v1::SessionResult signed_result = result;
  if (!key_file_.empty()) {
    // Not published unsigned: the journal keeps it, and it is sent again.
    absl::MutexLock lock(&key_mu_);
    if (key_pem_.empty()) {
      return absl::FailedPreconditionError(absl::StrCat("the CP's key ", key_file_,
                                                        " is not read yet"));
    }
    if (absl::Status signing = SignResult(key_pem_, signed_result); !signing.ok()) return signing;
  }
  return producer_.Produce(kSessionResultsTopic, result.cp_id(), ToJson(signed_result),
                           std::move(done));
}

}  // namespace evnet
