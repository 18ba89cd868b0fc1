#include "ocpp_gateway/charger_auth.h"

#include <fstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "gtest/gtest.h"
#include "testing/test_pki.h"

namespace evnet::ocpp {
namespace {

std::string Basic(const std::string& user, const std::string& password) {
  return "Basic " + absl::Base64Escape(user + ":" + password);
}

class ChargerAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    credentials_ = std::string(getenv("TEST_TMPDIR")) + "/ocpp-credentials";
    std::ofstream(credentials_) << "# chargers\n"
                                << ChargerCredentialLine("OCPP-1", "s3cret-of-one") << "\n"
                                << ChargerCredentialLine("OCPP-2", "s3cret-of-two") << "\n";
  }
  std::string credentials_;
};

TEST_F(ChargerAuthTest, Profile2TakesTheChargersOwnPasswordOnly) {
  EXPECT_TRUE(AuthorizeCharger("OCPP-1", "", Basic("OCPP-1", "s3cret-of-one"), credentials_).ok());
  EXPECT_TRUE(absl::IsUnauthenticated(
      AuthorizeCharger("OCPP-1", "", Basic("OCPP-1", "s3cret-of-two"), credentials_)));
  // Another charger's name and password, to speak as this one.
  EXPECT_TRUE(absl::IsPermissionDenied(
      AuthorizeCharger("OCPP-1", "", Basic("OCPP-2", "s3cret-of-two"), credentials_)));
  EXPECT_TRUE(absl::IsUnauthenticated(AuthorizeCharger("OCPP-1", "", "", credentials_)));
  EXPECT_TRUE(absl::IsUnauthenticated(AuthorizeCharger("OCPP-1", "", "Basic %%%", credentials_)));
  EXPECT_TRUE(absl::IsUnauthenticated(
      AuthorizeCharger("OCPP-3", "", Basic("OCPP-3", "anything"), credentials_)));
  EXPECT_TRUE(absl::IsUnauthenticated(
      AuthorizeCharger("OCPP-1", "", Basic("OCPP-1", "s3cret-of-one"), "")));
}

TEST_F(ChargerAuthTest, Profile3TakesACertificateNamingTheCharger) {
  absl::StatusOr<std::string> pki =
      test::MakeTestPki("pki", {"cp OCPP-1", "cp OCPP-2", "driver OCPP-1"});
  ASSERT_TRUE(pki.ok()) << pki.status();
  auto pem = [&](const std::string& file) { return ReadFile(*pki + "/" + file).value_or(""); };
  EXPECT_TRUE(AuthorizeCharger("OCPP-1", pem("cp/OCPP-1.crt"), "", credentials_).ok());
  EXPECT_TRUE(absl::IsPermissionDenied(
      AuthorizeCharger("OCPP-1", pem("cp/OCPP-2.crt"), "", credentials_)));
  // The right name in another role is not a charger.
  EXPECT_TRUE(absl::IsPermissionDenied(
      AuthorizeCharger("OCPP-1", pem("driver/OCPP-1.crt"), "", credentials_)));
  // A certificate wins over a password: another's certificate is refused
  // even with the right password.
  EXPECT_TRUE(absl::IsPermissionDenied(AuthorizeCharger(
      "OCPP-1", pem("cp/OCPP-2.crt"), Basic("OCPP-1", "s3cret-of-one"), credentials_)));
}

TEST_F(ChargerAuthTest, Profile3TakesOnlyTheCertificateTheChargerIsEnrolledWith) {
  absl::StatusOr<std::string> pki = test::MakeTestPki("pinned", {"cp OCPP-1"});
  ASSERT_TRUE(pki.ok()) << pki.status();
  const std::string first = ReadFile(*pki + "/cp/OCPP-1.crt").value_or("");
  // Renewed: the charger's old certificate still names it and is of the CA.
  ASSERT_TRUE(test::Evpki("issue", *pki, "cp OCPP-1").ok());
  const std::string renewed = ReadFile(*pki + "/cp/OCPP-1.crt").value_or("");
  ASSERT_NE(first, renewed);
  EXPECT_TRUE(AuthorizeCharger("OCPP-1", renewed, "", credentials_, renewed).ok());
  const absl::Status old = AuthorizeCharger("OCPP-1", first, "", credentials_, renewed);
  EXPECT_TRUE(absl::IsPermissionDenied(old)) << old;
  EXPECT_NE(std::string(old.message()).find("not the one it is enrolled with"), std::string::npos);
  // Without a pin (no PKI folder), the name is all that is checked.
  EXPECT_TRUE(AuthorizeCharger("OCPP-1", first, "", credentials_).ok());
}

TEST(GatewayPkiTest, AFolderWithTheCasKeyIsRefused) {
  const std::string pki = std::string(getenv("TEST_TMPDIR")) + "/gateway-pki";
  ASSERT_TRUE(MakePrivateDir(pki + "/cp").ok());
  ASSERT_TRUE(WriteFileDurably(pki + "/ca.crt", "certificate").ok());
  EXPECT_TRUE(CheckGatewayPkiDir(pki).ok());
  ASSERT_TRUE(WriteFileDurably(pki + "/ca.key", "the CA's key").ok());
  absl::Status refused = CheckGatewayPkiDir(pki);
  EXPECT_TRUE(absl::IsFailedPrecondition(refused)) << refused;
  EXPECT_NE(refused.message().find("holds the network CA's private key (ca.key)"),
            std::string::npos)
      << refused;
}

}  // namespace
}  // namespace evnet::ocpp
