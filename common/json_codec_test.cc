#include "common/json_codec.h"

#include "evnet/v1/events.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace evnet {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::HasSubstr;

google::protobuf::Timestamp At(int64_t seconds, int32_t nanos = 0) {
  google::protobuf::Timestamp t;
  t.set_seconds(seconds);
  t.set_nanos(nanos);
  return t;
}

v1::SessionResult SampleResult() {
  v1::SessionResult r;
  r.set_session_id("s-1");
  r.set_request_id("r-1");
  r.set_cp_id("CP-001");
  r.set_driver_id("driver-alice");
  *r.mutable_started_at() = At(1795670000);
  *r.mutable_ended_at() = At(1795670042, 500000000);
  r.set_energy_kwh(7.35);
  r.set_price_eur_per_kwh(0.3);
  r.set_amount_eur(2.21);
  r.set_end_reason(v1::SESSION_END_REASON_UNPLUGGED);
  return r;
}

template <typename T>
void ExpectRoundTrip(const T& original) {
  std::string json = ToJson(original);
  absl::StatusOr<T> parsed = FromJson<T>(json);
  ASSERT_TRUE(parsed.ok()) << parsed.status() << " for " << json;
  std::string diff;
  MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&diff);
  EXPECT_TRUE(differencer.Compare(original, *parsed)) << diff << " for " << json;
}

TEST(JsonCodecTest, DriverRequestRoundTrips) {
  v1::DriverRequest m;
  m.set_request_id("r-1");
  m.set_driver_id("driver-alice");
  m.set_cp_id("CP-001");
  *m.mutable_requested_at() = At(1795670000, 123000000);
  ExpectRoundTrip(m);
}

TEST(JsonCodecTest, DriverUpdateRoundTripsWithEachDetail) {
  v1::DriverUpdate rejected;
  rejected.set_update_id("u-1");
  rejected.set_request_id("r-1");
  rejected.set_driver_id("driver-alice");
  rejected.set_cp_id("CP-003");
  rejected.set_kind(v1::UPDATE_KIND_REJECTED);
  *rejected.mutable_sent_at() = At(1795670001);
  rejected.set_rejection_reason("CP-003 is BROKEN");
  ExpectRoundTrip(rejected);

  v1::DriverUpdate progress = rejected;
  progress.set_kind(v1::UPDATE_KIND_PROGRESS);
  progress.set_session_id("s-1");
  v1::SupplySnapshot* supply = progress.mutable_progress();
  supply->set_session_id("s-1");
  supply->set_driver_id("driver-alice");
  supply->set_power_kw(22);
  supply->set_energy_kwh(0.1234567890123);
  supply->set_amount_eur(0.037);
  *supply->mutable_started_at() = At(1795670000);
  ExpectRoundTrip(progress);

  v1::DriverUpdate ended = rejected;
  ended.set_kind(v1::UPDATE_KIND_ENDED);
  *ended.mutable_ticket() = SampleResult();
  ExpectRoundTrip(ended);
}

TEST(JsonCodecTest, SupplyTelemetryRoundTrips) {
  v1::SupplyTelemetry m;
  m.set_cp_id("CP-001");
  m.mutable_supply()->set_session_id("s-1");
  m.mutable_supply()->set_energy_kwh(1.5);
  *m.mutable_measured_at() = At(1795670003);
  ExpectRoundTrip(m);
}

TEST(JsonCodecTest, SessionResultRoundTrips) { ExpectRoundTrip(SampleResult()); }

TEST(JsonCodecTest, CpRegistryRecordRoundTrips) {
  v1::CpRegistryRecord m;
  m.mutable_info()->set_cp_id("CP-002");
  m.mutable_info()->set_location("Calle Mayor 1");
  m.mutable_info()->set_price_eur_per_kwh(0.45);
  m.mutable_info()->set_power_kw(11);
  m.set_stopped_by_operator(true);
  *m.mutable_updated_at() = At(1795670000);
  ExpectRoundTrip(m);
}

TEST(JsonCodecTest, WritesCanonicalJson) {
  std::string json = ToJson(SampleResult());
  EXPECT_THAT(json, HasSubstr("\"sessionId\":\"s-1\""));
  EXPECT_THAT(json, HasSubstr("\"endReason\":\"SESSION_END_REASON_UNPLUGGED\""));
  EXPECT_THAT(json, HasSubstr("\"endedAt\":\"2026-11-26T"));
}

TEST(JsonCodecTest, AcceptsAHandWrittenRequest) {
  auto request =
      FromJson<v1::DriverRequest>(R"({"driverId":"driver-zed","cpId":"CP-001"})");
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->driver_id(), "driver-zed");
  EXPECT_EQ(request->cp_id(), "CP-001");
  EXPECT_EQ(request->request_id(), "");
}

TEST(JsonCodecTest, RefusesMalformedJson) {
  auto parsed = FromJson<v1::DriverRequest>(R"({"driverId": "driver-zed", )");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("evnet.v1.DriverRequest"));

  EXPECT_FALSE(FromJson<v1::DriverRequest>("not json at all").ok());
  EXPECT_FALSE(FromJson<v1::DriverRequest>("").ok());
}

TEST(JsonCodecTest, RefusesAWrongTypeNamingTheField) {
  auto parsed = FromJson<v1::DriverRequest>(R"({"driverId":"driver-zed","cpId":17})");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("cp_id"));

  auto result = FromJson<v1::SessionResult>(R"({"energyKwh":"lots"})");
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("energy_kwh"));
}

// Upgrade safety: what a newer program writes is read by today's.
TEST(JsonCodecTest, AcceptsFieldsAndEnumValuesOfANewerProgram) {
  auto parsed = FromJson<v1::SessionResult>(
      R"({"sessionId":"s-1","energyKwh":7.35,"co2Grams":1200,"tariff":{"name":"night"},)"
      R"("endReason":"SESSION_END_REASON_SOLAR_SURPLUS_ENDED"})");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->session_id(), "s-1");
  EXPECT_DOUBLE_EQ(parsed->energy_kwh(), 7.35);
  EXPECT_EQ(parsed->end_reason(), v1::SESSION_END_REASON_UNSPECIFIED);
}

TEST(JsonCodecTest, StillRefusesAKnownFieldOfTheWrongType) {
  auto parsed = FromJson<v1::DriverRequest>(R"({"driverId":"d","cpId":["CP-001"]})");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("cpId"));
}

TEST(JsonCodecTest, RefusesABadTimestampNamingTheField) {
  auto parsed = FromJson<v1::DriverRequest>(R"({"requestedAt":"yesterday"})");
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("requestedAt"));
}

}  // namespace
}  // namespace evnet
