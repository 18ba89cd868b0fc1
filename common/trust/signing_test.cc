#include "common/trust/signing.h"

#include <functional>
#include <string>
#include <vector>

#include "common/files.h"
#include "gtest/gtest.h"
#include "testing/test_pki.h"

namespace evnet {
namespace {

TEST(SigningTest, OnlyTheCpsOwnKeySignsItsResultsAndAChangedFigureBreaksTheSignature) {
  absl::StatusOr<std::string> pki = test::MakeTestPki("pki", {"cp CP-001", "cp CP-002"});
  ASSERT_TRUE(pki.ok()) << pki.status();
  const std::string dir = *pki;
  const std::string key1 = *ReadFile(dir + "/cp/CP-001.key");
  const std::string cert1 = *ReadFile(dir + "/cp/CP-001.crt");
  const std::string key2 = *ReadFile(dir + "/cp/CP-002.key");

  v1::SessionResult result;
  result.set_session_id("s-1");
  result.set_cp_id("CP-001");
  result.set_driver_id("driver-alice");
  result.set_energy_kwh(12.5);
  result.set_amount_eur(3.75);
  absl::StatusOr<std::string> signature = Sign(key1, SignedBytes(result));
  ASSERT_TRUE(signature.ok()) << signature.status();
  result.set_signature(*signature);
  // The signature does not cover itself, nor how the session ended (a newer
  // engine's end reason may be unknown to an older central).
  EXPECT_TRUE(Verify(cert1, SignedBytes(result), result.signature()).ok());
  v1::SessionResult reason = result;
  reason.set_end_reason(v1::SESSION_END_REASON_UNPLUGGED);
  EXPECT_TRUE(Verify(cert1, SignedBytes(reason), reason.signature()).ok());

  v1::SessionResult more = result;
  more.set_energy_kwh(125);
  EXPECT_EQ(Verify(cert1, SignedBytes(more), more.signature()).code(),
            absl::StatusCode::kPermissionDenied);
  v1::SessionResult other = result;
  other.set_signature(*Sign(key2, SignedBytes(result)));
  EXPECT_EQ(Verify(cert1, SignedBytes(other), other.signature()).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Verify(cert1, SignedBytes(result), "").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_FALSE(Sign("not a key", "x").ok());

  // SignResult: what engines and gateways publish with.
  v1::SessionResult signed_result = more;
  ASSERT_TRUE(SignResult(key1, signed_result).ok());
  EXPECT_TRUE(Verify(cert1, SignedBytes(signed_result), signed_result.signature()).ok());
  v1::SessionResult unsigned_result = more;
  unsigned_result.clear_signature();
  EXPECT_TRUE(SignResult("", unsigned_result).ok());
  EXPECT_TRUE(unsigned_result.signature().empty());
  EXPECT_FALSE(SignResult("not a key", unsigned_result).ok());
}

TEST(SigningTest, TheAmountInCentsIsSignedAndAResultSignedBeforeItStillChecks) {
  absl::StatusOr<std::string> pki = test::MakeTestPki("cents", {"cp CP-001"});
  ASSERT_TRUE(pki.ok()) << pki.status();
  const std::string key = *ReadFile(*pki + "/cp/CP-001.key");
  const std::string cert = *ReadFile(*pki + "/cp/CP-001.crt");

  v1::SessionResult result;
  result.set_session_id("s-1");
  result.set_request_id("r-1");
  result.set_cp_id("CP-001");
  result.set_driver_id("driver-alice");
  result.mutable_started_at()->set_seconds(1'700'000'000);
  result.mutable_ended_at()->set_seconds(1'700'000'600);
  result.set_energy_kwh(7.35);
  result.set_price_eur_per_kwh(0.30);
  result.set_amount_eur(2.21);

  // What an engine from before amount_cents signed: these fields' bytes.
  v1::SessionResult before = result;
  result.set_signature(*Sign(key, before.SerializeAsString()));
  result.set_end_reason(v1::SESSION_END_REASON_UNPLUGGED);
  EXPECT_TRUE(Verify(cert, SignedBytes(result), result.signature()).ok());

  result.set_amount_cents(221);
  ASSERT_TRUE(SignResult(key, result).ok());
  EXPECT_TRUE(Verify(cert, SignedBytes(result), result.signature()).ok());
  v1::SessionResult dearer = result;
  dearer.set_amount_cents(2210);
  EXPECT_EQ(Verify(cert, SignedBytes(dearer), dearer.signature()).code(),
            absl::StatusCode::kPermissionDenied);
  v1::SessionResult dropped = result;
  dropped.clear_amount_cents();
  EXPECT_EQ(Verify(cert, SignedBytes(dropped), dropped.signature()).code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(SigningTest, ADriversRequestIsItsOwnAndItsCertificateMustBeOfTheNetworksCa) {
  absl::StatusOr<std::string> pki =
      test::MakeTestPki("requests", {"driver driver-alice", "driver driver-old 0"});
  absl::StatusOr<std::string> other_pki =
      test::MakeTestPki("requests-other", {"driver driver-alice"});
  ASSERT_TRUE(pki.ok()) << pki.status();
  ASSERT_TRUE(other_pki.ok()) << other_pki.status();
  const std::string dir = *pki, other = *other_pki;
  const std::string ca = *ReadFile(dir + "/ca.crt");
  const std::string alice = *ReadFile(dir + "/driver/driver-alice.crt");

  v1::DriverRequest request;
  request.set_request_id("r-1");
  request.set_driver_id("driver-alice");
  request.set_cp_id("CP-001");
  request.set_signature(*Sign(*ReadFile(dir + "/driver/driver-alice.key"), SignedBytes(request)));
  request.set_certificate_pem(alice);
  // The proof does not cover itself; the CP does count.
  EXPECT_TRUE(Verify(alice, SignedBytes(request), request.signature()).ok());
  v1::DriverRequest elsewhere = request;
  elsewhere.set_cp_id("CP-002");
  EXPECT_EQ(Verify(alice, SignedBytes(elsewhere), elsewhere.signature()).code(),
            absl::StatusCode::kPermissionDenied);

  EXPECT_TRUE(CheckIssuedBy(ca, alice).ok());
  absl::Status foreign = CheckIssuedBy(ca, *ReadFile(other + "/driver/driver-alice.crt"));
  EXPECT_EQ(foreign.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(foreign.message().find("not valid"), std::string::npos) << foreign;
  absl::Status expired = CheckIssuedBy(ca, *ReadFile(dir + "/driver/driver-old.crt"));
  EXPECT_EQ(expired.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(expired.message().find("expired"), std::string::npos) << expired;
  EXPECT_EQ(CheckIssuedBy(ca, "").code(), absl::StatusCode::kPermissionDenied);
}

TEST(SigningTest, TelemetryIsMacedWithItsSessionsKeyAndAnyChangeOrOtherKeyFails) {
  const std::string key = NewTelemetryKey();
  ASSERT_EQ(key.size(), 32u);
  EXPECT_NE(NewTelemetryKey(), key);
  v1::SupplyTelemetry telemetry;
  telemetry.set_cp_id("CP-001");
  telemetry.mutable_supply()->set_session_id("s-1");
  telemetry.mutable_supply()->set_driver_id("driver-alice");
  telemetry.mutable_supply()->set_energy_kwh(1.25);
  telemetry.mutable_measured_at()->set_seconds(1800000000);
  EXPECT_EQ(CheckTelemetryMac(key, telemetry).code(), absl::StatusCode::kPermissionDenied);
  MacTelemetry(key, telemetry);
  EXPECT_EQ(telemetry.mac().size(), 32u);
  EXPECT_TRUE(CheckTelemetryMac(key, telemetry).ok());
  EXPECT_EQ(CheckTelemetryMac(NewTelemetryKey(), telemetry).code(),
            absl::StatusCode::kPermissionDenied);
  for (auto change : std::vector<std::function<void(v1::SupplyTelemetry&)>>{
           [](v1::SupplyTelemetry& t) { t.set_cp_id("CP-002"); },
           [](v1::SupplyTelemetry& t) { t.mutable_supply()->set_session_id("s-2"); },
           [](v1::SupplyTelemetry& t) { t.mutable_supply()->set_energy_kwh(12.5); },
           [](v1::SupplyTelemetry& t) { t.mutable_supply()->set_power_kw(50); },
           [](v1::SupplyTelemetry& t) { t.mutable_measured_at()->set_seconds(1800000001); },
           [](v1::SupplyTelemetry& t) { t.mutable_mac()->back() ^= 1; },
           [](v1::SupplyTelemetry& t) { t.mutable_mac()->pop_back(); }}) {
    v1::SupplyTelemetry changed = telemetry;
    change(changed);
    EXPECT_EQ(CheckTelemetryMac(key, changed).code(), absl::StatusCode::kPermissionDenied);
  }
  // A session of a central that made no key: nothing to check, nothing set.
  v1::SupplyTelemetry unkeyed = telemetry;
  unkeyed.clear_mac();
  MacTelemetry("", unkeyed);
  EXPECT_TRUE(unkeyed.mac().empty());
  EXPECT_TRUE(CheckTelemetryMac("", unkeyed).ok());
}

}  // namespace
}  // namespace evnet
