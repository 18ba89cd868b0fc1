#include "central/power_history.h"

#include "gtest/gtest.h"

namespace evnet {
namespace {

TEST(PowerHistoryTest, KeepsASampleEachIntervalForTheSpan) {
  PowerHistory history(absl::Seconds(10), absl::Seconds(60));
  const absl::Time t0 = absl::FromUnixSeconds(1800000000);
  EXPECT_EQ(history.Json(), "[]");
  history.Sample(t0, 22);
  history.Sample(t0 + absl::Seconds(5), 99);  // too soon: not kept
  history.Sample(t0 + absl::Seconds(10), 33.5);
  EXPECT_EQ(history.Json(), "[[1800000000,22.000],[1800000010,33.500]]");
  history.Sample(t0 + absl::Seconds(70), 0);  // the first is older than the span now
  EXPECT_EQ(history.Json(), "[[1800000010,33.500],[1800000070,0.000]]");
}

}  // namespace
}  // namespace evnet
