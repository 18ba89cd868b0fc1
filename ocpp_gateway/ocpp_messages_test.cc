#include "ocpp_gateway/ocpp_messages.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ocpp/v16/messages.pb.h"

namespace evnet::ocpp {
namespace {

using ::testing::HasSubstr;

std::optional<CallError> Decode(absl::string_view action, absl::string_view json) {
  std::unique_ptr<google::protobuf::Message> request = NewRequest(action);
  EXPECT_NE(request, nullptr) << action;
  return DecodePayload(json, request.get());
}

ErrorCode CodeOf(std::optional<CallError> error) {
  EXPECT_TRUE(error.has_value());
  return error.has_value() ? error->code : ErrorCode::kGenericError;
}

TEST(ParseFrame, ReadsACall) {
  auto parsed = ParseFrame(R"([2, "19223201", "BootNotification", {"chargePointVendor": "V"}])");
  ASSERT_TRUE(std::holds_alternative<Frame>(parsed));
  const Frame& frame = std::get<Frame>(parsed);
  EXPECT_EQ(frame.type, MessageType::kCall);
  EXPECT_EQ(frame.id, "19223201");
  EXPECT_EQ(frame.action, "BootNotification");
  EXPECT_THAT(frame.payload_json, HasSubstr("\"chargePointVendor\":\"V\""));
}

TEST(ParseFrame, ReadsResultsAndErrors) {
  auto result = ParseFrame(R"([3, "a", {"status": "Accepted"}])");
  ASSERT_TRUE(std::holds_alternative<Frame>(result));
  EXPECT_EQ(std::get<Frame>(result).type, MessageType::kCallResult);
  auto error = ParseFrame(R"([4, "a", "NotImplemented", "no", {}])");
  ASSERT_TRUE(std::holds_alternative<Frame>(error));
  EXPECT_EQ(std::get<Frame>(error).error_code, "NotImplemented");
}

TEST(ParseFrame, RefusesWhatIsNotAFrame) {
  for (const char* text : {"not json", "{}", "[]", "[2]", R"([2, 5, "Heartbeat", {}])",
                           R"([9, "a", "Heartbeat", {}])", R"([2, "a", "Heartbeat", [1]])",
                           R"([2, "a", "Heartbeat"])"}) {
    auto parsed = ParseFrame(text);
    ASSERT_TRUE(std::holds_alternative<BadFrame>(parsed)) << text;
  }
  auto no_id = std::get<BadFrame>(ParseFrame("not json"));
  EXPECT_EQ(no_id.id, "-1");
  EXPECT_EQ(no_id.error.code, ErrorCode::kFormationViolation);
  // The id is answered to whenever it can be read.
  auto bad_payload = std::get<BadFrame>(ParseFrame(R"([2, "a7", "Heartbeat", [1]])"));
  EXPECT_EQ(bad_payload.id, "a7");
  auto too_long = std::get<BadFrame>(ParseFrame(
      R"([2, "0123456789012345678901234567890123456789", "Heartbeat", {}])"));
  EXPECT_EQ(too_long.id, "-1");
}

TEST(DecodePayload, AcceptsAValidPayload) {
  EXPECT_FALSE(Decode("StartTransaction",
                      R"({"connectorId": 1, "idTag": "driver-alice", "meterStart": 0,
                          "timestamp": "2026-11-28T10:00:00Z"})")
                   .has_value());
  EXPECT_FALSE(Decode("Heartbeat", "{}").has_value());
}

TEST(DecodePayload, AnswersEachViolationWithItsCode) {
  EXPECT_EQ(CodeOf(Decode("StatusNotification", R"({"connectorId": 1, "status": "Available"})")),
            ErrorCode::kOccurenceConstraintViolation);
  EXPECT_EQ(CodeOf(Decode("StatusNotification",
                          R"({"connectorId": 1, "errorCode": "NoError", "status": "Sleepy"})")),
            ErrorCode::kPropertyConstraintViolation);
  EXPECT_EQ(CodeOf(Decode("StatusNotification",
                          R"({"connectorId": -1, "errorCode": "NoError", "status": "Available"})")),
            ErrorCode::kPropertyConstraintViolation);
  EXPECT_EQ(CodeOf(Decode("Authorize", R"({"idTag": "an-id-tag-longer-than-twenty"})")),
            ErrorCode::kPropertyConstraintViolation);
  EXPECT_EQ(CodeOf(Decode("Heartbeat", R"({"surprise": 1})")), ErrorCode::kFormationViolation);
  EXPECT_EQ(CodeOf(Decode("StartTransaction",
                          R"({"connectorId": "one", "idTag": "a", "meterStart": 0,
                              "timestamp": "2026-11-28T10:00:00Z"})")),
            ErrorCode::kTypeConstraintViolation);
  EXPECT_EQ(CodeOf(Decode("StartTransaction",
                          R"({"connectorId": 1, "idTag": "a", "meterStart": 0,
                              "timestamp": "yesterday"})")),
            ErrorCode::kTypeConstraintViolation);
  // Nested: a meter value without its sampled values.
  EXPECT_EQ(CodeOf(Decode("MeterValues",
                          R"({"connectorId": 1, "meterValue": [{"timestamp": "2026-11-28T10:00:00Z",
                              "sampledValue": []}]})")),
            ErrorCode::kOccurenceConstraintViolation);
}

TEST(Actions, KnowsWhoSendsWhat) {
  EXPECT_EQ(NewRequest("Dance"), nullptr);
  EXPECT_EQ(NewRequest(""), nullptr);
  EXPECT_TRUE(SentByChargePoint("BootNotification"));
  EXPECT_FALSE(SentByChargePoint("RemoteStartTransaction"));
  EXPECT_FALSE(SentByChargePoint("Dance"));
}

TEST(Encode, WritesPresentZeroesAndFramesAsOcppJ) {
  ::ocpp::v16::ChangeAvailabilityRequest change;
  change.set_connector_id(0);  // the whole charger: must be sent although 0
  change.set_type("Inoperative");
  EXPECT_FALSE(CheckPayload(change).has_value());
  EXPECT_EQ(EncodeCall("evnet-1", change),
            R"([2,"evnet-1","ChangeAvailability",{"connectorId":0,"type":"Inoperative"}])");
  ::ocpp::v16::HeartbeatResponse beat;
  beat.set_current_time("2026-11-28T10:00:00.000Z");
  EXPECT_EQ(EncodeCallResult("7", beat), R"([3,"7",{"currentTime":"2026-11-28T10:00:00.000Z"}])");
  EXPECT_EQ(EncodeCallError("7", {ErrorCode::kNotImplemented, "say \"what\""}),
            R"([4,"7","NotImplemented","say \"what\"",{}])");
  // What this side would send is checked as well.
  ::ocpp::v16::RemoteStartTransactionRequest start;
  EXPECT_EQ(CodeOf(CheckPayload(start)), ErrorCode::kOccurenceConstraintViolation);
}

TEST(DateTime, ReadsRfc3339AndTimesWithoutOffsetAsUtc) {
  std::optional<absl::Time> z = ParseDateTime("2026-11-28T10:00:00Z");
  std::optional<absl::Time> bare = ParseDateTime("2026-11-28T10:00:00");
  std::optional<absl::Time> offset = ParseDateTime("2026-11-28T11:00:00+01:00");
  ASSERT_TRUE(z && bare && offset);
  EXPECT_EQ(*z, *bare);
  EXPECT_EQ(*z, *offset);
  EXPECT_FALSE(ParseDateTime("28/11/2026").has_value());
  EXPECT_EQ(FormatDateTime(*z), "2026-11-28T10:00:00.000Z");
}

}  // namespace
}  // namespace evnet::ocpp
