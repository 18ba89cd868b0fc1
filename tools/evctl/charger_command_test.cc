#include "tools/evctl/charger_command.h"

#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace evnet {
namespace {

// The same JSON object, whatever the order of its fields.
bool SameJson(const std::string& a, const std::string& b) {
  google::protobuf::Struct x, y;
  return google::protobuf::util::JsonStringToMessage(a, &x).ok() &&
         google::protobuf::util::JsonStringToMessage(b, &y).ok() &&
         google::protobuf::util::MessageDifferencer::Equals(x, y);
}

ChargerCommand Parsed(const std::vector<std::string>& words) {
  absl::StatusOr<ChargerCommand> command = ParseChargerCommand(words);
  EXPECT_TRUE(command.ok()) << command.status();
  return command.value_or(ChargerCommand{});
}

// `words` make `action` with a payload of the same JSON as `json`.
void ExpectCommand(const std::vector<std::string>& words, const std::string& action,
                   const std::string& json) {
  ChargerCommand command = Parsed(words);
  EXPECT_EQ(command.action, action) << words[0];
  EXPECT_TRUE(SameJson(command.payload_json, json)) << command.payload_json;
}

TEST(ChargerCommandTest, EachOperationsWordsMakeItsOcppRequest) {
  ExpectCommand({"reset", "hard"}, "Reset", R"({"type":"Hard"})");
  ExpectCommand({"unlock", "2"}, "UnlockConnector", R"({"connectorId":2})");
  ExpectCommand({"get-configuration"}, "GetConfiguration", "{}");
  ExpectCommand({"get-configuration", "HeartbeatInterval", "MeterValueSampleInterval"},
                "GetConfiguration", R"({"key":["HeartbeatInterval","MeterValueSampleInterval"]})");
  ExpectCommand({"set-configuration", "MeterValueSampleInterval", "30"}, "ChangeConfiguration",
                R"({"key":"MeterValueSampleInterval","value":"30"})");
  ExpectCommand({"trigger", "StatusNotification", "1"}, "TriggerMessage",
                R"({"connectorId":1,"requestedMessage":"StatusNotification"})");
  ExpectCommand({"clear-cache"}, "ClearCache", "{}");
  ExpectCommand({"data-transfer", "acme", "hello", "x\"y"}, "DataTransfer",
                R"({"data":"x\"y","messageId":"hello","vendorId":"acme"})");
  ExpectCommand({"call", "Reset", R"({"type":"Soft"})"}, "Reset", R"({"type":"Soft"})");
}

TEST(ChargerCommandTest, WordsOfNoOperationGetTheUsage) {
  for (const std::vector<std::string>& words :
       std::vector<std::vector<std::string>>{{},
                                             {"reset"},
                                             {"reset", "now"},
                                             {"unlock", "one"},
                                             {"unlock", "-1"},
                                             {"set-configuration", "key"},
                                             {"trigger", "StatusNotification", "x"},
                                             {"explode"}}) {
    absl::StatusOr<ChargerCommand> command = ParseChargerCommand(words);
    ASSERT_FALSE(command.ok());
    EXPECT_NE(command.status().message().find("reset soft|hard"), std::string::npos);
  }
}

}  // namespace
}  // namespace evnet
