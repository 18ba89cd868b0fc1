#include "common/money.h"

#include <cmath>
#include <limits>

#include "gtest/gtest.h"

namespace evnet {
namespace {

TEST(MoneyTest, HalfACentIsRoundedUpOnTheTotalWhateverTheDoublesHold) {
  // 0.5 * 0.29 is 0.14499999... as a double: rounding it gave 0.14.
  EXPECT_EQ(AmountCents(0.5, 0.29), 15);
  EXPECT_DOUBLE_EQ(EurOfCents(AmountCents(0.5, 0.29)), 0.15);
  // 1.005 kWh is 1004.9999... Wh as a double; it is 1005 Wh, at 1 EUR 100.5 cents.
  EXPECT_EQ(AmountCents(1.005, 1.00), 101);
  EXPECT_EQ(AmountCents(0.145, 1.00), 15);
  EXPECT_EQ(AmountCents(0.144, 1.00), 14);
}

TEST(MoneyTest, ExactCases) {
  EXPECT_EQ(AmountCents(7.35, 0.30), 221);     // 2.205 EUR
  EXPECT_EQ(AmountCents(3.6, 0.35), 126);
  EXPECT_EQ(AmountCents(7.5, 0.40), 300);
  EXPECT_EQ(AmountCents(3.0, 0.3333), 100);    // 0.9999 EUR
  EXPECT_EQ(AmountCents(1000, 10), 1000000);   // the largest session validation allows
  EXPECT_EQ(AmountCents(0, 0.30), 0);
  EXPECT_EQ(AmountCents(12.5, 0), 0);
  // Energy to the Wh and price to the 1/10,000 EUR before multiplying.
  EXPECT_EQ(AmountCents(0.0004, 100), 0);      // 0 Wh
  EXPECT_EQ(AmountCents(10, 0.29996), 300);    // 0.3000 EUR/kWh
  EXPECT_DOUBLE_EQ(EurOfCents(221), 2.21);
  EXPECT_DOUBLE_EQ(EurOfCents(0), 0);
}

TEST(MoneyTest, WhatIsNoAmountCostsNothing) {
  EXPECT_EQ(AmountCents(-1, 0.30), 0);
  EXPECT_EQ(AmountCents(1, -0.30), 0);
  EXPECT_EQ(AmountCents(std::nan(""), 0.30), 0);
  EXPECT_EQ(AmountCents(1, std::numeric_limits<double>::infinity()), 0);
  EXPECT_EQ(AmountCents(1e300, 1e300), 10000000000000LL);  // bounded, no overflow
}

}  // namespace
}  // namespace evnet
