#include "common/kafka/dead_letters.h"

#include <memory>
#include <utility>

#include "absl/strings/escaping.h"
#include "common/json_codec.h"
#include "common/proto_time.h"
#include "common/kafka/topics.h"
#include "glog/logging.h"
#include "proto/evnet/v1/events.pb.h"

namespace evnet {

void DeadLetters::SetAside(const KafkaMessage& message, const absl::Status& reason,
                           KafkaDone done) {
  v1::DeadLetter letter;
  letter.set_topic(message.topic);
  letter.set_partition(message.partition);
  letter.set_offset(message.offset);
  letter.set_key(message.key);
  letter.set_value(message.value);
  letter.set_reason(std::string(reason.message()));
  letter.set_program(program_);
  *letter.mutable_set_aside_at() = ToProto(clock_.Now());
  auto shared = std::make_shared<KafkaDone>(std::move(done));
  auto kept = [this, message, reason, shared](absl::Status delivered) {
    if (delivered.ok()) {
      LOG(WARNING) << program_ << " | Set aside the message at " << message.topic << "/"
                   << message.partition << "@" << message.offset << " (key '"
                   << absl::CHexEscape(message.key.substr(0, 64)) << "'): " << reason.message()
                   << "; it is on " << kDeadLetterTopic;
      absl::MutexLock lock(&mu_);
      ++counts_[message.topic];
    }
    (*shared)(delivered);
  };
  absl::Status queued = producer_.Produce(kDeadLetterTopic, message.key, ToJson(letter), kept);
  if (!queued.ok()) (*shared)(queued);
}

std::map<std::string, int64_t> DeadLetters::Counts() const {
  absl::MutexLock lock(&mu_);
  return counts_;
}

}  // namespace evnet
