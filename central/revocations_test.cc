#include "central/revocations.h"

#include <string>
#include <vector>

#include "common/files.h"
#include "gtest/gtest.h"
#include "testing/test_pki.h"

namespace evnet {
namespace {

class RevocationsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::string> pki = test::MakeTestPki(
        "revocations", {"driver driver-alice", "operator alice", "cp CP-001"});
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = *pki;
    revocations_.FinishRestore();
  }
  std::string Pem(const std::string& file) { return ReadFile(pki_ + "/" + file).value_or(""); }
  PeerIdentity Holder(const std::string& file) { return *IdentityOfCertificate(Pem(file)); }

  std::string pki_;
  std::vector<v1::RevokedCertificate> saved_;
  absl::Status save_status_;
  Revocations revocations_{[this](const v1::RevokedCertificate& record, Done done) {
    if (save_status_.ok()) saved_.push_back(record);
    done(save_status_);
  }};
};

TEST_F(RevocationsTest, ARevokedDriverOrOperatorIsRefusedSayingWhenAndWhy) {
  const absl::Time at = absl::FromUnixSeconds(1800000000);
  absl::StatusOr<v1::RevokedCertificate> revoked = revocations_.Revoke(
      Pem("driver/driver-alice.crt"), "phone stolen", "operator bob", at, absl::Seconds(1));
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  EXPECT_EQ(revoked->holder(), "driver driver-alice");
  ASSERT_EQ(saved_.size(), 1u);
  EXPECT_EQ(saved_[0].certificate_sha256(), Holder("driver/driver-alice.crt").certificate_sha256);
  const absl::Status refused = revocations_.Check(Holder("driver/driver-alice.crt"));
  EXPECT_EQ(refused.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(std::string(refused.message()),
            "the certificate of driver driver-alice was revoked by operator bob at "
            "2027-01-15T08:00:00+00:00: phone stolen");
  EXPECT_TRUE(revocations_.Check(Holder("operator/alice.crt")).ok());
  ASSERT_TRUE(revocations_.Revoke(Pem("operator/alice.crt"), "", "operator bob", at,
                                  absl::Seconds(1)).ok());
  EXPECT_FALSE(revocations_.Check(Holder("operator/alice.crt")).ok());
}

TEST_F(RevocationsTest, ARevocationReadBackAtStartRefusesAsBefore) {
  ASSERT_TRUE(revocations_.Revoke(Pem("driver/driver-alice.crt"), "", "operator bob",
                                  absl::Now(), absl::Seconds(1)).ok());
  Revocations restarted([](const v1::RevokedCertificate&, Done done) { done(absl::OkStatus()); });
  // Nobody passes while the topic is being read, not even a certificate
  // never revoked.
  EXPECT_EQ(restarted.Check(Holder("operator/alice.crt")).code(), absl::StatusCode::kUnavailable);
  restarted.Restore(saved_.at(0));
  restarted.FinishRestore();
  EXPECT_EQ(restarted.Check(Holder("driver/driver-alice.crt")).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(restarted.Check(Holder("operator/alice.crt")).ok());
}

TEST_F(RevocationsTest, CpsAndWhatIsNoCertificateAreNotRevokedHere) {
  const absl::Status cp = revocations_.Revoke(Pem("cp/CP-001.crt"), "", "operator bob",
                                              absl::Now(), absl::Seconds(1)).status();
  EXPECT_EQ(cp.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(cp.message()).find("RevokeChargingPoint"), std::string::npos);
  EXPECT_EQ(revocations_.Revoke("not a certificate", "", "operator bob", absl::Now(),
                                absl::Seconds(1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(saved_.empty());
  EXPECT_TRUE(revocations_.Check(Holder("cp/CP-001.crt")).ok());
}

TEST_F(RevocationsTest, ARevocationKafkaDidNotKeepRefusesNowAndSaysItIsNotRecorded) {
  save_status_ = absl::UnavailableError("broker down");
  const absl::Status unsaved = revocations_.Revoke(Pem("driver/driver-alice.crt"), "",
                                                   "operator bob", absl::Now(), absl::Seconds(1))
                                   .status();
  EXPECT_EQ(unsaved.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(std::string(unsaved.message()).find("not yet recorded"), std::string::npos);
  EXPECT_FALSE(revocations_.Check(Holder("driver/driver-alice.crt")).ok());
}

}  // namespace
}  // namespace evnet
