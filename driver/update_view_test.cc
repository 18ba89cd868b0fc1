#include "driver/update_view.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

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

}  // namespace
}  // namespace evnet
