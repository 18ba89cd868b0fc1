#include "tools/evctl/token_command.h"

#include "common/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace evnet {
namespace {

using ::testing::HasSubstr;

TEST(TokenCommand, AddBlockUnblockAndListAreCentralsRequests) {
  absl::StatusOr<TokenCommand> add = ParseTokenCommand(
      {"add", "04A2B3C4", "driver-alice", "--expires", "2027-01-31T23:59:59Z", "--group", "FLEET"});
  ASSERT_TRUE(add.ok()) << add.status();
  const auto& put = std::get<v1::PutIdTokenRequest>(*add);
  EXPECT_EQ(put.id_tag(), "04A2B3C4");
  EXPECT_EQ(put.driver_id(), "driver-alice");
  EXPECT_EQ(put.status(), v1::ID_TOKEN_STATUS_ACCEPTED);
  EXPECT_EQ(put.group(), "FLEET");
  EXPECT_EQ(FromProto(put.expires_at()), absl::FromUnixSeconds(1801439999));

  const auto block = std::get<v1::PutIdTokenRequest>(*ParseTokenCommand({"block", "04A2B3C4"}));
  EXPECT_EQ(block.status(), v1::ID_TOKEN_STATUS_BLOCKED);
  EXPECT_TRUE(block.driver_id().empty()) << "the card keeps its driver";
  EXPECT_EQ(std::get<v1::PutIdTokenRequest>(*ParseTokenCommand({"unblock", "X"})).status(),
            v1::ID_TOKEN_STATUS_ACCEPTED);
  EXPECT_EQ(std::get<v1::ListIdTokensRequest>(*ParseTokenCommand({"list", "driver-bob"})).driver_id(),
            "driver-bob");
  EXPECT_TRUE(std::holds_alternative<v1::ListIdTokensRequest>(*ParseTokenCommand({"list"})));
}

TEST(TokenCommand, WhatIsNotACommandGetsTheUsage) {
  for (const std::vector<std::string>& words : std::vector<std::vector<std::string>>{
           {}, {"add", "X"}, {"add", "X", "d", "--expires"}, {"add", "X", "d", "--expires", "soon"},
           {"add", "X", "d", "--colour", "red"}, {"block"}, {"shred", "X"}}) {
    absl::StatusOr<TokenCommand> parsed = ParseTokenCommand(words);
    ASSERT_FALSE(parsed.ok());
    EXPECT_TRUE(absl::IsInvalidArgument(parsed.status()));
    EXPECT_THAT(parsed.status().message(), HasSubstr("evctl token add ID_TAG DRIVER"));
  }
}

TEST(TokenCommand, ATokenIsOneLine) {
  v1::IdToken token;
  token.set_id_tag("04A2B3C4");
  token.set_driver_id("driver-alice");
  token.set_status(v1::ID_TOKEN_STATUS_BLOCKED);
  token.set_group("FLEET");
  *token.mutable_expires_at() = ToProto(absl::FromUnixSeconds(1801439999));
  EXPECT_EQ(FormatToken(token),
            "04A2B3C4              driver-alice              blocked   expires "
            "2027-01-31T23:59:59Z  group FLEET");
  token.clear_group();
  token.clear_expires_at();
  EXPECT_EQ(FormatToken(token), "04A2B3C4              driver-alice              blocked");
}

}  // namespace
}  // namespace evnet
