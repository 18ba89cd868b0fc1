#include "central/id_tokens.h"

#include "common/proto_time.h"
#include "gtest/gtest.h"

namespace evnet {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

v1::PutIdTokenRequest Card(const std::string& tag, const std::string& driver) {
  v1::PutIdTokenRequest request;
  request.set_id_tag(tag);
  request.set_driver_id(driver);
  return request;
}

// Puts `request` as the operator would: made, then applied.
v1::IdToken Put(IdTokens& tokens, const v1::PutIdTokenRequest& request) {
  absl::StatusOr<v1::IdToken> token = tokens.Putting(request, "operator alice", kNow);
  EXPECT_TRUE(token.ok()) << token.status();
  if (token.ok()) tokens.Apply(*token);
  return token.value_or(v1::IdToken());
}

TEST(IdTokens, UntilReadBackNoTagIsCalledInvalid) {
  IdTokens tokens;
  EXPECT_EQ(tokens.Check("04A2B3C4", kNow).authorization.status(), "");
  tokens.FinishRestore();
  EXPECT_EQ(tokens.Check("04A2B3C4", kNow).authorization.status(), "Invalid");
}

TEST(IdTokens, AnAcceptedCardNamesItsDriverWhateverTheCaseOfItsTag) {
  IdTokens tokens;
  tokens.FinishRestore();
  v1::PutIdTokenRequest request = Card("04a2b3c4", "driver-alice");
  request.set_group("FLEET-7");
  const v1::IdToken token = Put(tokens, request);
  EXPECT_EQ(token.status(), v1::ID_TOKEN_STATUS_ACCEPTED);
  EXPECT_EQ(token.changed_by(), "operator alice");
  EXPECT_EQ(FromProto(token.changed_at()), kNow);

  const IdTokens::Verdict verdict = tokens.Check("04A2B3C4", kNow);
  EXPECT_EQ(verdict.authorization.status(), "Accepted");
  EXPECT_EQ(verdict.authorization.group(), "FLEET-7");
  EXPECT_EQ(verdict.driver_id, "driver-alice");
  EXPECT_EQ(tokens.Check("04A2B3C5", kNow).driver_id, "");
}

TEST(IdTokens, ABlockKeepsTheDriverAndRefusesTheCard) {
  IdTokens tokens;
  tokens.FinishRestore();
  Put(tokens, Card("CARD-1", "driver-bob"));
  v1::PutIdTokenRequest block;
  block.set_id_tag("card-1");
  block.set_status(v1::ID_TOKEN_STATUS_BLOCKED);
  const v1::IdToken blocked = Put(tokens, block);
  EXPECT_EQ(blocked.driver_id(), "driver-bob");
  EXPECT_EQ(blocked.id_tag(), "CARD-1") << "as it was added";
  const IdTokens::Verdict verdict = tokens.Check("CARD-1", kNow);
  EXPECT_EQ(verdict.authorization.status(), "Blocked");
  EXPECT_EQ(verdict.driver_id, "") << "a blocked card starts nobody's session";
  EXPECT_EQ(tokens.size(), 1u);
}

TEST(IdTokens, ACardExpiresAtItsTime) {
  IdTokens tokens;
  tokens.FinishRestore();
  v1::PutIdTokenRequest request = Card("CARD-2", "driver-carol");
  *request.mutable_expires_at() = ToProto(kNow + absl::Hours(1));
  Put(tokens, request);
  EXPECT_EQ(tokens.Check("CARD-2", kNow).authorization.status(), "Accepted");
  EXPECT_EQ(FromProto(tokens.Check("CARD-2", kNow).authorization.expires_at()),
            kNow + absl::Hours(1));
  const IdTokens::Verdict later = tokens.Check("CARD-2", kNow + absl::Hours(1));
  EXPECT_EQ(later.authorization.status(), "Expired");
  EXPECT_EQ(later.driver_id, "");
}

TEST(IdTokens, WhatIsNotAnOcppIdTagOrADriverIsRefused) {
  IdTokens tokens;
  tokens.FinishRestore();
  EXPECT_TRUE(absl::IsInvalidArgument(tokens.Putting(Card("", "d"), "op", kNow).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      tokens.Putting(Card("123456789012345678901", "d"), "op", kNow).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(tokens.Putting(Card("A B", "d"), "op", kNow).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(tokens.Putting(Card("ok", "bad driver"), "op", kNow).status()));
  v1::PutIdTokenRequest unknown;
  unknown.set_id_tag("NEVER-ADDED");
  unknown.set_status(v1::ID_TOKEN_STATUS_BLOCKED);
  EXPECT_TRUE(absl::IsNotFound(tokens.Putting(unknown, "op", kNow).status()));
  v1::PutIdTokenRequest odd = Card("ok", "d");
  odd.set_status(static_cast<v1::IdTokenStatus>(42));
  EXPECT_TRUE(absl::IsInvalidArgument(tokens.Putting(odd, "op", kNow).status()));
  EXPECT_EQ(tokens.size(), 0u);
}

TEST(IdTokens, AListIsPagedAndFilteredByDriver) {
  IdTokens tokens;
  tokens.FinishRestore();
  Put(tokens, Card("A1", "driver-alice"));
  Put(tokens, Card("b2", "driver-bob"));
  Put(tokens, Card("C3", "driver-alice"));
  Put(tokens, Card("D4", "driver-alice"));
  v1::ListIdTokensRequest request;
  request.set_driver_id("driver-alice");
  v1::ListIdTokensResponse first = tokens.List(request, 2);
  ASSERT_EQ(first.id_tokens_size(), 2);
  EXPECT_EQ(first.id_tokens(0).id_tag(), "A1");
  EXPECT_EQ(first.id_tokens(1).id_tag(), "C3");
  ASSERT_FALSE(first.next_page_token().empty());
  request.set_page_token(first.next_page_token());
  v1::ListIdTokensResponse second = tokens.List(request, 2);
  ASSERT_EQ(second.id_tokens_size(), 1);
  EXPECT_EQ(second.id_tokens(0).id_tag(), "D4");
  EXPECT_TRUE(second.next_page_token().empty());
  EXPECT_EQ(tokens.List(v1::ListIdTokensRequest(), 10).id_tokens_size(), 4);
}

}  // namespace
}  // namespace evnet
