#include "central/cp_table.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace evnet {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::vector<v1::ChargingPoint> Cps() {
  v1::ChargingPoint supplying;
  supplying.mutable_info()->set_cp_id("CP-001");
  supplying.mutable_info()->set_location("Plaza Mayor");
  supplying.mutable_info()->set_price_eur_per_kwh(0.30);
  supplying.set_status(v1::CP_STATUS_SUPPLYING);
  supplying.mutable_supply()->set_driver_id("driver-alice");
  supplying.mutable_supply()->set_power_kw(22);
  supplying.mutable_supply()->set_energy_kwh(1.2345);
  supplying.mutable_supply()->set_amount_eur(0.37);
  v1::ChargingPoint broken;
  broken.mutable_info()->set_cp_id("CP-002");
  broken.set_status(v1::CP_STATUS_BROKEN);
  return {supplying, broken};
}

TEST(CpTableTest, ShowsWhatAnOperatorNeedsPerCp) {
  std::string table = RenderCpTable(Cps(), /*color=*/false);
  EXPECT_THAT(table, HasSubstr("CP-001"));
  EXPECT_THAT(table, HasSubstr("Plaza Mayor"));
  EXPECT_THAT(table, HasSubstr("Supplying"));
  EXPECT_THAT(table, HasSubstr("driver-alice"));
  EXPECT_THAT(table, HasSubstr("1.234"));
  EXPECT_THAT(table, HasSubstr("0.37"));
  EXPECT_THAT(table, HasSubstr("Broken"));
  EXPECT_THAT(table, Not(HasSubstr("\033[")));
}

TEST(CpTableTest, ColoursOnlyWhenAsked) {
  std::string table = RenderCpTable(Cps(), /*color=*/true);
  EXPECT_THAT(table, HasSubstr("\033[32m"));  // green for supplying
  EXPECT_THAT(table, HasSubstr("\033[31m"));  // red for broken
}

TEST(CpTableTest, ALongIdKeepsTheColumnsInLine) {
  std::vector<v1::ChargingPoint> cps = Cps();
  cps[1].mutable_info()->set_cp_id("OCPP-001-2");  // an OCPP charger's connector
  cps[1].mutable_info()->set_location("Car park");
  const std::string table = RenderCpTable(cps, /*color=*/false);
  const size_t header_end = table.find('\n');
  const size_t row1 = header_end + 1;
  const size_t row2 = table.find('\n', row1) + 1;
  const size_t column = table.find("LOCATION");
  EXPECT_EQ(table.find("Plaza Mayor", row1) - row1, column);
  EXPECT_EQ(table.find("Car park", row2) - row2, column);
}

}  // namespace
}  // namespace evnet
