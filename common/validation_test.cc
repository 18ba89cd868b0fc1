#include "common/validation.h"

#include <cmath>
#include <limits>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace evnet {
namespace {

using ::testing::HasSubstr;

v1::SessionResult GoodResult() {
  v1::SessionResult result;
  result.set_session_id("s-req-1");
  result.set_request_id("req-1");
  result.set_cp_id("CP-001");
  result.set_driver_id("driver-alice");
  result.mutable_started_at()->set_seconds(1700000000);
  result.mutable_ended_at()->set_seconds(1700000600);
  result.set_energy_kwh(7.35);
  result.set_price_eur_per_kwh(0.30);
  result.set_amount_eur(2.21);  // 2.205 rounded to the cent
  return result;
}

std::string Reason(const absl::Status& status) { return std::string(status.message()); }

TEST(ValidationTest, IdsAreWhatAPersonTypes) {
  EXPECT_TRUE(ValidateId("cp_id", "CP-001").ok());
  EXPECT_TRUE(ValidateId("driver_id", "driver-alice.2:x_y").ok());
  EXPECT_THAT(Reason(ValidateId("cp_id", "")), HasSubstr("cp_id is empty"));
  EXPECT_THAT(Reason(ValidateId("cp_id", std::string(65, 'A'))), HasSubstr("more than 64"));
  EXPECT_THAT(Reason(ValidateId("cp_id", "CP 001")), HasSubstr("only letters, digits"));
  EXPECT_THAT(Reason(ValidateId("cp_id", "CP-\n001")), HasSubstr("CP-\\n001"));
  EXPECT_FALSE(ValidateId("cp_id", "CP-\xc3\xa9").ok());
}

TEST(ValidationTest, AGoodResultPasses) { EXPECT_TRUE(ValidateSessionResult(GoodResult()).ok()); }

TEST(ValidationTest, AResultWithNanOrInfiniteOrNegativeFiguresIsRefused) {
  v1::SessionResult nan = GoodResult();
  nan.set_energy_kwh(std::nan(""));
  EXPECT_THAT(Reason(ValidateSessionResult(nan)), HasSubstr("energy_kwh is NaN"));
  v1::SessionResult inf = GoodResult();
  inf.set_price_eur_per_kwh(std::numeric_limits<double>::infinity());
  EXPECT_THAT(Reason(ValidateSessionResult(inf)), HasSubstr("price_eur_per_kwh is infinite"));
  v1::SessionResult negative = GoodResult();
  negative.set_amount_eur(-5);
  EXPECT_THAT(Reason(ValidateSessionResult(negative)), HasSubstr("amount_eur is -5"));
  v1::SessionResult huge = GoodResult();
  huge.set_energy_kwh(5000);
  EXPECT_THAT(Reason(ValidateSessionResult(huge)), HasSubstr("outside [0, 1000]"));
}

TEST(ValidationTest, AResultMustNameItsSessionCpAndDriver) {
  for (auto clear : {&v1::SessionResult::clear_session_id, &v1::SessionResult::clear_cp_id,
                     &v1::SessionResult::clear_driver_id}) {
    v1::SessionResult result = GoodResult();
    (result.*clear)();
    EXPECT_THAT(Reason(ValidateSessionResult(result)), HasSubstr("is empty"));
  }
}

TEST(ValidationTest, AResultThatEndsBeforeItStartsIsRefused) {
  v1::SessionResult result = GoodResult();
  result.mutable_ended_at()->set_seconds(1690000000);
  EXPECT_THAT(Reason(ValidateSessionResult(result)), HasSubstr("ended_at is before started_at"));
  result.mutable_ended_at()->set_seconds(253402300800);  // year 10000
  EXPECT_THAT(Reason(ValidateSessionResult(result)), HasSubstr("not a valid time"));
}

TEST(ValidationTest, AnAmountThatIsNotTheEnergyAtThePriceIsRefused) {
  v1::SessionResult result = GoodResult();
  result.set_amount_eur(0.01);
  EXPECT_THAT(Reason(ValidateSessionResult(result)), HasSubstr("is not energy_kwh 7.350"));
  result.set_amount_eur(2.20);  // within a cent: rounding
  EXPECT_TRUE(ValidateSessionResult(result).ok());
}

TEST(ValidationTest, RequestsAreCheckedButMayLeaveToCentralWhatItFillsIn) {
  v1::DriverRequest request;
  request.set_cp_id("CP-001");
  EXPECT_TRUE(ValidateDriverRequest(request).ok());  // driver from the key, id from the offset
  request.set_driver_id("driver alice");
  EXPECT_THAT(Reason(ValidateDriverRequest(request)), HasSubstr("driver_id"));
  request.set_driver_id("driver-alice");
  request.set_cp_id(std::string(100, 'C'));
  EXPECT_THAT(Reason(ValidateDriverRequest(request)), HasSubstr("cp_id is 100 characters"));
  request.set_cp_id("CP-001");
  request.mutable_requested_at()->set_nanos(-1);
  EXPECT_THAT(Reason(ValidateDriverRequest(request)), HasSubstr("requested_at"));
}

TEST(ValidationTest, TelemetryAndHealthCarryPlausibleSupply) {
  v1::SupplyTelemetry telemetry;
  telemetry.set_cp_id("CP-001");
  telemetry.mutable_supply()->set_session_id("s-1");
  telemetry.mutable_supply()->set_power_kw(22);
  telemetry.mutable_supply()->set_energy_kwh(1.5);
  EXPECT_TRUE(ValidateTelemetry(telemetry).ok());
  telemetry.mutable_supply()->set_power_kw(-22);
  EXPECT_THAT(Reason(ValidateTelemetry(telemetry)), HasSubstr("power_kw is -22"));
  v1::HealthReport report;
  report.set_consecutive_failures(-1);
  EXPECT_THAT(Reason(ValidateHealthReport(report)), HasSubstr("consecutive_failures"));
  report.set_consecutive_failures(0);
  report.mutable_supply()->set_energy_kwh(std::nan(""));
  EXPECT_THAT(Reason(ValidateHealthReport(report)), HasSubstr("energy_kwh is NaN"));
}

TEST(ValidationTest, ACpRegistersWithAPlausiblePriceAndPower) {
  v1::ChargingPointInfo info;
  info.set_cp_id("CP-001");
  info.set_location("Main St 1");
  info.set_price_eur_per_kwh(0.3);
  info.set_power_kw(22);
  EXPECT_TRUE(ValidateCpInfo(info).ok());
  info.set_price_eur_per_kwh(1e9);
  EXPECT_THAT(Reason(ValidateCpInfo(info)), HasSubstr("price_eur_per_kwh"));
  info.set_price_eur_per_kwh(0.3);
  info.set_location(std::string(300, 'x'));
  EXPECT_THAT(Reason(ValidateCpInfo(info)), HasSubstr("location is 300 bytes"));
  info.set_location("a\x1b[2Jb");
  EXPECT_THAT(Reason(ValidateCpInfo(info)), HasSubstr("control character"));
}

}  // namespace
}  // namespace evnet
