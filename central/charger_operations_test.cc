#include "central/charger_operations.h"

#include "common/proto_time.h"
#include "gtest/gtest.h"

namespace evnet {
namespace {

v1::OperateChargerRequest Request(const std::string& action, const std::string& payload = "{}") {
  v1::OperateChargerRequest request;
  request.set_cp_id("OCPP-001");
  request.set_action(action);
  request.set_payload_json(payload);
  return request;
}

TEST(ChargerOperationsTest, AnOperationBecomesACommandWithItsTimeout) {
  v1::OperateChargerRequest request = Request("Reset", R"({"type":"Soft"})");
  absl::StatusOr<v1::CentralCommand> command = OperationCommand(request);
  ASSERT_TRUE(command.ok()) << command.status();
  EXPECT_FALSE(command->command_id().empty());
  EXPECT_EQ(command->charger_operation().action(), "Reset");
  EXPECT_EQ(command->charger_operation().payload_json(), R"({"type":"Soft"})");
  EXPECT_EQ(FromProto(command->charger_operation().timeout()), kDefaultOperationTimeout);
  EXPECT_EQ(OperationDeadline(*command), kDefaultOperationTimeout + absl::Seconds(5));
  *request.mutable_timeout() = ToProto(absl::Seconds(10));
  EXPECT_EQ(FromProto(OperationCommand(request)->charger_operation().timeout()), absl::Seconds(10));
}

TEST(ChargerOperationsTest, WhatNoOperationCouldBeIsRefusedAndAuditedAsInvalid) {
  for (const std::string& action : {std::string(""), std::string("Reset\nAUDIT fake"),
                                    std::string("Re set"), std::string(41, 'R')}) {
    v1::OperateChargerRequest request = Request(action);
    EXPECT_EQ(OperationCommand(request).status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(OperationAuditAction(request), "charger.invalid");
  }
  EXPECT_EQ(OperationAuditAction(Request("Reset")), "charger.Reset");
  v1::OperateChargerRequest request = Request("Reset");
  *request.mutable_timeout() = ToProto(kLongestOperationTimeout + absl::Seconds(1));
  EXPECT_EQ(OperationCommand(request).status().code(), absl::StatusCode::kInvalidArgument);
  request = Request("DataTransfer", std::string(kLongestOperationPayload + 1, 'x'));
  EXPECT_EQ(OperationCommand(request).status().code(), absl::StatusCode::kInvalidArgument);
  request = Request("Reset");
  request.set_cp_id("no spaces in ids");
  EXPECT_EQ(OperationCommand(request).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ChargerOperationsTest, TheAuditedOutcomeIsTheStatusAndAConfigurationsKeyNeverItsValue) {
  EXPECT_EQ(OperationOutcome(Request("Reset"), R"({"status":"Rejected"})"), "answered Rejected");
  EXPECT_EQ(OperationOutcome(Request("ChangeConfiguration",
                                     R"({"key":"AuthorizationKey","value":"s3cret"})"),
                             R"({"status":"Accepted"})"),
            "answered Accepted; key AuthorizationKey");
  EXPECT_EQ(OperationOutcome(Request("GetConfiguration"), R"({"configurationKey":[]})"), "");
  EXPECT_EQ(OperationOutcome(Request("Reset"), "not json"), "");
}

}  // namespace
}  // namespace evnet
