#include "common/json_codec.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"

namespace evnet {

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = false;
  std::string json;
  // Serializing a valid in-memory message cannot fail.
  auto status = google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    return absl::StrCat("{\"error\":\"cannot encode ", message.GetTypeName(), "\"}");
  }
  return json;
}

absl::Status FromJson(absl::string_view json, google::protobuf::Message* message) {
  message->Clear();
  google::protobuf::util::JsonParseOptions options;
  // A newer program may add fields (and enum values): today's programs read
  // what they know and handle the message, so a rolling upgrade loses nothing.
  options.ignore_unknown_fields = true;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), message, options);
  if (status.ok()) return absl::OkStatus();
  message->Clear();
  return absl::InvalidArgumentError(absl::StrCat(
      "invalid ", message->GetTypeName(), " JSON: ",
      std::string(status.message().data(), status.message().size())));
}

}  // namespace evnet
