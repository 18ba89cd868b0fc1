#include "central/operator_auth.h"

#include <sys/stat.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace evnet {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);
const std::string kKey(32, 'k');

TEST(OperatorAuthTest, TheRightPasswordGivesASessionThatOutlivesARestart) {
  const std::string file = OperatorAuth::CredentialLine("ana", "correct horse") + "\n";
  EXPECT_EQ(file.find("correct horse"), std::string::npos);  // never the password
  auto auth = OperatorAuth::FromText(file, kKey);
  ASSERT_TRUE(auth.ok()) << auth.status();
  absl::StatusOr<std::string> session = (*auth)->Login("ana", "correct horse", kNow);
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_EQ(*(*auth)->Check(*session, kNow + absl::Hours(1)), "ana");
  // A central started again with the same file honours it.
  auto restarted = OperatorAuth::FromText(file, kKey);
  ASSERT_TRUE(restarted.ok());
  EXPECT_EQ(*(*restarted)->Check(*session, kNow), "ana");
  EXPECT_EQ((*restarted)->CsrfToken(*session), (*auth)->CsrfToken(*session));
}

TEST(OperatorAuthTest, WrongPasswordsForgedExpiredAndRevokedSessionsAreRefused) {
  const std::string file = absl::StrCat(OperatorAuth::CredentialLine("ana", "pw-ana"), "\n",
                                        OperatorAuth::CredentialLine("bo", "pw-bo"), "\n");
  auto auth = OperatorAuth::FromText(file, kKey);
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_EQ((*auth)->Login("ana", "pw-bo", kNow).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ((*auth)->Login("eve", "pw-ana", kNow).status().code(),
            absl::StatusCode::kUnauthenticated);
  std::string session = *(*auth)->Login("bo", "pw-bo", kNow, absl::Hours(1));
  EXPECT_FALSE((*auth)->Check(session, kNow + absl::Hours(2)).ok());  // expired
  std::string forged = session;
  forged.replace(0, 2, "ana");  // another operator's name, same MAC
  EXPECT_FALSE((*auth)->Check(forged, kNow).ok());
  EXPECT_FALSE((*auth)->Check("", kNow).ok());
  EXPECT_FALSE((*auth)->Check("bo.99999999999.00", kNow).ok());
  EXPECT_NE((*auth)->CsrfToken(session), (*auth)->CsrfToken(forged));
  // A changed file (bo removed, or any password changed) ends every session.
  auto changed = OperatorAuth::FromText(OperatorAuth::CredentialLine("ana", "pw-ana"), kKey);
  ASSERT_TRUE(changed.ok());
  EXPECT_FALSE((*changed)->Check(session, kNow).ok());
}

TEST(OperatorAuthTest, SessionsNeedTheKeyAndLastNoLongerThanTheLongestLogin) {
  const std::string file = OperatorAuth::CredentialLine("ana", "pw-ana") + "\n";
  auto auth = OperatorAuth::FromText(file, kKey);
  ASSERT_TRUE(auth.ok());
  const std::string session = *(*auth)->Login("ana", "pw-ana", kNow);
  // Whoever reads the credentials file but not the key cannot check (or make) one.
  auto other_key = OperatorAuth::FromText(file, std::string(32, 'x'));
  ASSERT_TRUE(other_key.ok());
  EXPECT_FALSE((*other_key)->Check(session, kNow).ok());
  EXPECT_FALSE(OperatorAuth::FromText(file, "short").ok());
  // A login asking for a year gets the longest session there is.
  const std::string long_one = *(*auth)->Login("ana", "pw-ana", kNow, absl::Hours(24 * 365));
  EXPECT_FALSE((*auth)->Check(long_one, kNow + OperatorAuth::kMaxSessionTtl).ok());
}

TEST(OperatorAuthTest, TheSessionKeyIsMadeOnceAndRefusedWhenOthersCanReadIt) {
  const std::string path = std::string(getenv("TEST_TMPDIR")) + "/session-key";
  absl::StatusOr<std::string> made = OperatorAuth::LoadSessionKey(path);
  ASSERT_TRUE(made.ok()) << made.status();
  EXPECT_EQ(made->size(), 64u);
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(*OperatorAuth::LoadSessionKey(path), *made);  // kept across restarts
  ASSERT_EQ(chmod(path.c_str(), 0644), 0);
  absl::Status open_to_all = OperatorAuth::LoadSessionKey(path).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(open_to_all)) << open_to_all;
  EXPECT_NE(std::string(open_to_all.message()).find("chmod 600"), std::string::npos);
}

TEST(OperatorAuthTest, AMalformedFileIsRefusedNamingTheLine) {
  auto bad = OperatorAuth::FromText("# operators\nana:plain:secret\n", kKey);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("line 2"), std::string::npos);
  EXPECT_FALSE(OperatorAuth::FromText("# nobody\n", kKey).ok());
}

TEST(LoginThrottleTest, GuessesAreCountedAsTheyAreAllowedPerNamePerAddressAndPerBoth) {
  LoginThrottle throttle;
  const absl::Time t0 = absl::FromUnixSeconds(1800000000);
  for (int i = 0; i < LoginThrottle::kMaxFailures; ++i) {
    ASSERT_TRUE(throttle.Attempt("10.0.0.9", "ana", t0 + absl::Seconds(i)).ok()) << i;
  }
  // Counted when allowed: a sixth concurrent guess does not pass.
  absl::Status refused = throttle.Attempt("10.0.0.9", "ana", t0 + absl::Seconds(10));
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(std::string(refused.message()).find("failed logins from 10.0.0.9"), std::string::npos)
      << refused;
  // Another operator behind the same address, or ana from elsewhere, may.
  EXPECT_TRUE(throttle.Attempt("10.0.0.9", "bo", t0 + absl::Seconds(10)).ok());
  EXPECT_TRUE(throttle.Attempt("10.0.0.7", "ana", t0 + absl::Seconds(10)).ok());
  // Once the first is kWindow old, one more try.
  EXPECT_TRUE(throttle.Attempt("10.0.0.9", "ana", t0 + LoginThrottle::kWindow).ok());
  EXPECT_FALSE(throttle.Attempt("10.0.0.9", "ana", t0 + LoginThrottle::kWindow).ok());
  // A login that succeeds starts that name afresh from that address.
  throttle.Succeeded("10.0.0.9", "ana");
  EXPECT_TRUE(throttle.Attempt("10.0.0.9", "ana", t0 + LoginThrottle::kWindow).ok());
}

TEST(LoginThrottleTest, OneAddressCyclingNamesAndManyAddressesOnOneNameAreBounded) {
  LoginThrottle throttle;
  const absl::Time t0 = absl::FromUnixSeconds(1800000000);
  for (int i = 0; i < LoginThrottle::kMaxPerSource; ++i) {
    ASSERT_TRUE(throttle.Attempt("10.0.0.9", absl::StrCat("name-", i), t0).ok()) << i;
  }
  EXPECT_FALSE(throttle.Attempt("10.0.0.9", "someone-else", t0).ok());
  for (int i = 0; i < LoginThrottle::kMaxPerName; ++i) {
    ASSERT_TRUE(throttle.Attempt(absl::StrCat("10.1.0.", i), "ana", t0).ok()) << i;
  }
  absl::Status refused = throttle.Attempt("10.2.0.1", "ana", t0);
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(std::string(refused.message()).find("as this operator"), std::string::npos);
}

}  // namespace
}  // namespace evnet
