#include "central/request_signatures.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/proto_time.h"
#include "common/trust/sealing.h"
#include "common/trust/signing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/test_pki.h"

namespace evnet {
namespace {

using ::testing::HasSubstr;

class RequestSignaturesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::string> pki = test::MakeTestPki(
        "request_signatures", {"driver driver-alice", "driver driver-mallory", "cp CP-001"});
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = *pki;
    absl::StatusOr<std::string> other = test::MakeTestPki("another_ca", {"driver driver-alice"});
    ASSERT_TRUE(other.ok()) << other.status();
    other_pki_ = *other;
    revocations_.FinishRestore();
    signatures_ = std::make_unique<RequestSignatures>(ReadFile(pki_ + "/ca.crt").value_or(""),
                                                      &revocations_, keys_, clock_);
  }

  // A request as `driver_id`, signed with the key and certificate of
  // `holder` ("driver/driver-mallory") of the CA in `pki`.
  v1::DriverRequest Signed(const std::string& driver_id, const std::string& holder,
                           const std::string& pki = "") {
    const std::string dir = pki.empty() ? pki_ : pki;
    v1::DriverRequest request;
    request.set_request_id(absl::StrCat("r-", ++requests_));
    request.set_driver_id(driver_id);
    request.set_cp_id("CP-001");
    *request.mutable_requested_at() = ToProto(clock_.Now());
    request.set_certificate_pem(ReadFile(dir + "/" + holder + ".crt").value_or(""));
    absl::StatusOr<std::string> signature =
        Sign(ReadFile(dir + "/" + holder + ".key").value_or(""), SignedBytes(request));
    EXPECT_TRUE(signature.ok()) << signature.status();
    request.set_signature(signature.value_or(""));
    return request;
  }

  std::string pki_;
  std::string other_pki_;
  int requests_ = 0;
  FakeClock clock_;
  std::vector<v1::DriverKey> learned_;
  DriverKeys keys_{[this](const v1::DriverKey& key) { learned_.push_back(key); }};
  Revocations revocations_{[](const v1::RevokedCertificate&, Done done) { done(absl::OkStatus()); }};
  std::unique_ptr<RequestSignatures> signatures_;
  RequestSignatures& Signatures() { return *signatures_; }
};

TEST_F(RequestSignaturesTest, ADriversOwnRequestPassesAndItsKeyIsLearnedOnce) {
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(Signatures().Check(Signed("driver-alice", "driver/driver-alice")).ok());
  }
  EXPECT_EQ(Signatures().chain_checks(), 1);
  ASSERT_EQ(learned_.size(), 1u);
  EXPECT_EQ(learned_[0].driver_id(), "driver-alice");
  EXPECT_EQ(*keys_.KeyOf("driver-alice"),
            *PublicKeyOf(*ReadFile(pki_ + "/driver/driver-alice.crt")));
}

TEST_F(RequestSignaturesTest, AFloodOfForgedRequestsIsCheckedAgainstTheCaOncePerCertificate) {
  // Mallory signs as 500 other drivers with her own certificate, and sends
  // 500 more with a certificate naming alice from a CA not the network's.
  for (int i = 0; i < 500; ++i) {
    absl::Status as_another = Signatures().Check(
        Signed(absl::StrCat("driver-", i), "driver/driver-mallory"));
    EXPECT_EQ(as_another.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(as_another.message(), HasSubstr("the certificate is driver driver-mallory's"));
    absl::Status foreign_ca =
        Signatures().Check(Signed("driver-alice", "driver/driver-alice", other_pki_));
    EXPECT_EQ(foreign_ca.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(foreign_ca.message(), HasSubstr("forged: a request as driver-alice"));
  }
  EXPECT_EQ(Signatures().chain_checks(), 2);
  EXPECT_TRUE(learned_.empty());
  // A verdict is kept for kCheckedFor, then the certificate is checked again.
  clock_.Advance(RequestSignatures::kCheckedFor);
  EXPECT_FALSE(Signatures().Check(Signed("driver-x", "driver/driver-mallory")).ok());
  EXPECT_EQ(Signatures().chain_checks(), 3);
  // Mallory's own requests still pass.
  EXPECT_TRUE(Signatures().Check(Signed("driver-mallory", "driver/driver-mallory")).ok());
}

TEST_F(RequestSignaturesTest, ACachedCertificateIsStillCheckedForRevocationAndSignature) {
  ASSERT_TRUE(Signatures().Check(Signed("driver-alice", "driver/driver-alice")).ok());
  // Alice's certificate with another's signature.
  v1::DriverRequest tampered = Signed("driver-alice", "driver/driver-alice");
  tampered.set_cp_id("CP-002");
  EXPECT_THAT(Signatures().Check(tampered).message(), HasSubstr("forged"));
  // Without its id it could be replayed for ever.
  v1::DriverRequest unstamped = Signed("driver-alice", "driver/driver-alice");
  unstamped.clear_request_id();
  unstamped.set_signature(
      *Sign(*ReadFile(pki_ + "/driver/driver-alice.key"), SignedBytes(unstamped)));
  EXPECT_THAT(Signatures().Check(unstamped).message(), HasSubstr("must carry its request_id"));
  ASSERT_TRUE(revocations_
                  .Revoke(*ReadFile(pki_ + "/driver/driver-alice.crt"), "phone stolen",
                          "operator bob", clock_.Now(), absl::Seconds(1))
                  .ok());
  absl::Status revoked = Signatures().Check(Signed("driver-alice", "driver/driver-alice"));
  EXPECT_THAT(revoked.message(), HasSubstr("was revoked by operator bob"));
  EXPECT_EQ(Signatures().chain_checks(), 1);
}

TEST_F(RequestSignaturesTest, WithoutACaNothingIsChecked) {
  RequestSignatures unchecked("", nullptr, keys_, clock_);
  v1::DriverRequest request;
  request.set_driver_id("driver-alice");
  EXPECT_TRUE(unchecked.Check(request).ok());
  EXPECT_EQ(unchecked.chain_checks(), 0);
}

}  // namespace
}  // namespace evnet
