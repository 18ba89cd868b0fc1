#include "ocpp_gateway/chargers_file.h"

#include <cstdlib>
#include <fstream>

#include "common/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace evnet::ocpp {
namespace {

using ::testing::HasSubstr;

v1::ChargingPointInfo Defaults() {
  v1::ChargingPointInfo defaults;
  defaults.set_location("the depot");
  defaults.set_power_kw(22);
  defaults.set_price_eur_per_kwh(0.30);
  return defaults;
}

std::string Path() {
  return std::string(getenv("TEST_TMPDIR")) + "/" +
         ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".json";
}

void Write(const std::string& path, const std::string& text) {
  // A new file each time: a new modification time, whatever the clock's grain.
  std::remove(path.c_str());
  std::ofstream(path) << text;
}

TEST(ChargersFile, EachChargersOwnFiguresOverTheDefaults) {
  const std::string path = Path();
  Write(path, R"({"chargers": {"OCPP-001": {"location": "Lot A, bay 3", "priceEurPerKwh": 0.35},
                              "OCPP-002": {"powerKw": 50, "priceEurPerKwh": 0}}})");
  absl::StatusOr<ChargersFile> file = ChargersFile::Open(path, Defaults());
  ASSERT_TRUE(file.ok()) << file.status();
  const v1::ChargingPointInfo first = file->InfoOf("OCPP-001");
  EXPECT_EQ(first.cp_id(), "OCPP-001");
  EXPECT_EQ(first.location(), "Lot A, bay 3");
  EXPECT_DOUBLE_EQ(first.price_eur_per_kwh(), 0.35);
  EXPECT_DOUBLE_EQ(first.power_kw(), 22) << "not given: the default";
  const v1::ChargingPointInfo second = file->InfoOf("OCPP-002");
  EXPECT_DOUBLE_EQ(second.price_eur_per_kwh(), 0) << "free charging, as given";
  EXPECT_DOUBLE_EQ(second.power_kw(), 50);
  EXPECT_EQ(second.location(), "the depot");
  EXPECT_EQ(file->InfoOf("OCPP-404").location(), "the depot");
  EXPECT_EQ(file->InfoOf("OCPP-404").cp_id(), "OCPP-404");
}

TEST(ChargersFile, AnEditIsTakenAndABadOneLeavesTheLastGood) {
  const std::string path = Path();
  Write(path, R"({"chargers": {"OCPP-001": {"priceEurPerKwh": 0.35}}})");
  absl::StatusOr<ChargersFile> file = ChargersFile::Open(path, Defaults());
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_FALSE(file->Reload()) << "unchanged";
  Write(path, R"({"chargers": {"OCPP-001": {"priceEurPerKwh": 0.40}}})");
  EXPECT_TRUE(file->Reload());
  EXPECT_DOUBLE_EQ(file->InfoOf("OCPP-001").price_eur_per_kwh(), 0.40);
  Write(path, R"({"chargers": {"OCPP-001": {"priceEurPerKwh": -1}}})");
  EXPECT_FALSE(file->Reload());
  EXPECT_DOUBLE_EQ(file->InfoOf("OCPP-001").price_eur_per_kwh(), 0.40);
}

TEST(ChargersFile, ABadFileIsRefusedSayingWhy) {
  const std::string path = Path();
  for (const auto& [text, why] : std::vector<std::pair<std::string, std::string>>{
           {"not json", "is not {\"chargers\""},
           {R"({"chargers": {"OCPP-001": {"pricePerKwh": 0.3}}})", "is not {\"chargers\""},
           {R"({"chargers": {"OCPP-001": {"priceEurPerKwh": -0.3}}})", "price_eur_per_kwh"},
           {R"({"chargers": {"bad id": {}}})", "cp_id"}}) {
    Write(path, text);
    absl::StatusOr<ChargersFile> file = ChargersFile::Open(path, Defaults());
    ASSERT_FALSE(file.ok()) << text;
    EXPECT_THAT(file.status().message(), HasSubstr(why)) << text;
  }
  EXPECT_FALSE(ChargersFile::Open(path + ".missing", Defaults()).ok());
  EXPECT_TRUE(ChargersFile::Open("", Defaults()).ok()) << "no file: the defaults";
}

}  // namespace
}  // namespace evnet::ocpp
