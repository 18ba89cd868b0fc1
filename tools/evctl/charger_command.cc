#include "tools/evctl/charger_command.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace evnet {
namespace {

constexpr char kUsage[] =
    "reset soft|hard | unlock CONNECTOR | get-configuration [KEY...] | set-configuration KEY "
    "VALUE | trigger MESSAGE [CONNECTOR] | clear-cache | data-transfer VENDOR [MESSAGE [DATA]] | "
    "call ACTION [JSON]";

absl::Status Usage() { return absl::InvalidArgumentError(absl::StrCat("charger CP ", kUsage)); }

std::string Json(const google::protobuf::Struct& payload) {
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(payload, &out);
  return out;
}

// A connector's number, as a JSON number; false if `word` is none.
bool SetConnector(google::protobuf::Struct& payload, const std::string& word) {
  int connector = 0;
  if (!absl::SimpleAtoi(word, &connector) || connector < 0) return false;
  (*payload.mutable_fields())["connectorId"].set_number_value(connector);
  return true;
}

}  // namespace

absl::StatusOr<ChargerCommand> ParseChargerCommand(const std::vector<std::string>& words) {
  if (words.empty()) return Usage();
  const std::string& verb = words[0];
  const size_t n = words.size();
  google::protobuf::Struct payload;
  auto& fields = *payload.mutable_fields();
  if (verb == "reset" && n == 2 && (words[1] == "soft" || words[1] == "hard")) {
    fields["type"].set_string_value(words[1] == "soft" ? "Soft" : "Hard");
    return ChargerCommand{"Reset", Json(payload)};
  }
  if (verb == "unlock" && n == 2 && SetConnector(payload, words[1])) {
    return ChargerCommand{"UnlockConnector", Json(payload)};
  }
  if (verb == "get-configuration") {
    if (n > 1) {
      auto* keys = fields["key"].mutable_list_value();
      for (size_t i = 1; i < n; ++i) keys->add_values()->set_string_value(words[i]);
    }
    return ChargerCommand{"GetConfiguration", Json(payload)};
  }
  if (verb == "set-configuration" && n == 3) {
    fields["key"].set_string_value(words[1]);
    fields["value"].set_string_value(words[2]);
    return ChargerCommand{"ChangeConfiguration", Json(payload)};
  }
  if (verb == "trigger" && (n == 2 || n == 3)) {
    fields["requestedMessage"].set_string_value(words[1]);
    if (n == 3 && !SetConnector(payload, words[2])) return Usage();
    return ChargerCommand{"TriggerMessage", Json(payload)};
  }
  if (verb == "clear-cache" && n == 1) return ChargerCommand{"ClearCache", "{}"};
  if (verb == "data-transfer" && n >= 2 && n <= 4) {
    fields["vendorId"].set_string_value(words[1]);
    if (n >= 3) fields["messageId"].set_string_value(words[2]);
    if (n == 4) fields["data"].set_string_value(words[3]);
    return ChargerCommand{"DataTransfer", Json(payload)};
  }
  if (verb == "call" && (n == 2 || n == 3)) return ChargerCommand{words[1], n == 3 ? words[2] : "{}"};
  return Usage();
}

}  // namespace evnet
