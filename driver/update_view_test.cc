#include "driver/update_view.h"

#include <string>

#include "gmock/gmock.h"
#include "common/files.h"
#include "common/json_codec.h"
#include "common/trust/sealing.h"
#include "gtest/gtest.h"
#include "testing/test_pki.h"

namespace evnet {
namespace {

using ::testing::HasSubstr;

TEST(UpdateViewTest, TicketShowsEnergyPriceAmountAndReason) {
  v1::DriverUpdate u;
  u.set_kind(v1::UPDATE_KIND_ENDED);
  u.set_cp_id("CP-001");
  v1::SessionResult* t = u.mutable_ticket();
  t->set_cp_id("CP-001");
  t->set_energy_kwh(7.35);
  t->set_price_eur_per_kwh(0.30);
  t->set_amount_eur(2.21);
  t->set_end_reason(v1::SESSION_END_REASON_STOPPED_BY_OPERATOR);
  std::string text = DescribeUpdate(u);
  EXPECT_THAT(text, HasSubstr("Ticket: CP-001"));
  EXPECT_THAT(text, HasSubstr("7.350 kWh"));
  EXPECT_THAT(text, HasSubstr("0.30 EUR/kWh"));
  EXPECT_THAT(text, HasSubstr("2.21 EUR"));
  EXPECT_THAT(text, HasSubstr("(stopped by operator)"));
  EXPECT_TRUE(IsOutcome(u));
}

TEST(UpdateViewTest, RejectionAndProgressReadNaturally) {
  v1::DriverUpdate rejected;
  rejected.set_kind(v1::UPDATE_KIND_REJECTED);
  rejected.set_cp_id("CP-003");
  rejected.set_rejection_reason("CP-003 is BROKEN");
  EXPECT_EQ(DescribeUpdate(rejected), "Request for CP-003 rejected: CP-003 is BROKEN");
  EXPECT_TRUE(IsOutcome(rejected));

  v1::DriverUpdate progress;
  progress.set_kind(v1::UPDATE_KIND_PROGRESS);
  progress.set_cp_id("CP-001");
  progress.mutable_progress()->set_energy_kwh(0.0611);
  progress.mutable_progress()->set_amount_eur(0.02);
  EXPECT_EQ(DescribeUpdate(progress), "Charging at CP-001: 0.061 kWh, 0.02 EUR so far");
  EXPECT_FALSE(IsOutcome(progress));
}

TEST(UpdateViewTest, ASealedUpdateOpensOnlyWithItsDriversKey) {
  absl::StatusOr<std::string> pki =
      test::MakeTestPki("pki", {"driver driver-alice", "driver driver-bob"});
  ASSERT_TRUE(pki.ok()) << pki.status();
  const std::string dir = *pki;
  v1::DriverUpdate update;
  update.set_update_id("r-1/accepted");
  update.set_driver_id("driver-alice");
  update.set_kind(v1::UPDATE_KIND_ACCEPTED);
  update.set_cp_id("CP-001");
  v1::DriverUpdate envelope;
  envelope.set_driver_id("driver-alice");
  envelope.set_sealed(
      *Seal(*PublicKeyOf(*ReadFile(dir + "/driver/driver-alice.crt")), ToJson(update)));

  Opener opener;
  absl::StatusOr<v1::DriverUpdate> opened =
      OpenUpdate(envelope, *ReadFile(dir + "/driver/driver-alice.key"), opener);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->kind(), v1::UPDATE_KIND_ACCEPTED);
  EXPECT_EQ(opened->cp_id(), "CP-001");
  Opener bobs;  // another driver's, which never had alice's key
  EXPECT_FALSE(OpenUpdate(envelope, *ReadFile(dir + "/driver/driver-bob.key"), bobs).ok());
  // An update in the clear (a network without Kafka identities) is itself.
  EXPECT_EQ(OpenUpdate(update, "", opener)->cp_id(), "CP-001");
}

}  // namespace
}  // namespace evnet
