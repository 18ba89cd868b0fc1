// Canonical proto3 JSON for evnet's Kafka payloads, so that kcat and Kafka's
// console tools can read and write them. Malformed JSON or a known field of
// the wrong type is refused with an error that names the field; fields and
// enum values this program does not know (a newer program's) are skipped,
// so that messages survive a rolling upgrade.
#ifndef EVNET_COMMON_JSON_CODEC_H_
#define EVNET_COMMON_JSON_CODEC_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace evnet {

// One line of canonical proto3 JSON (camelCase names, enums by name).
std::string ToJson(const google::protobuf::Message& message);

// Parses `json` into `message`, which is cleared first. On error the status is
// INVALID_ARGUMENT and names the message type and the offending field.
[[nodiscard]] absl::Status FromJson(absl::string_view json,
                                    google::protobuf::Message* message);

template <typename T>
[[nodiscard]] absl::StatusOr<T> FromJson(absl::string_view json) {
  T message;
  absl::Status status = FromJson(json, &message);
  if (!status.ok()) return status;
  return message;
}

}  // namespace evnet

#endif  // EVNET_COMMON_JSON_CODEC_H_
