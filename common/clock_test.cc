#include "common/clock.h"

#include "gtest/gtest.h"

namespace evnet {
namespace {

TEST(FakeClockTest, MovesOnlyWhenTold) {
  FakeClock clock(absl::FromUnixSeconds(100));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(100));
  clock.Advance(absl::Milliseconds(1500));
  EXPECT_EQ(clock.Now(), absl::FromUnixMillis(101500));
  clock.Set(absl::FromUnixSeconds(7));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(7));
}

TEST(FakeClockTest, AWallStepLeavesTheSteadyReadingWhereItWas) {
  FakeClock clock(absl::FromUnixSeconds(100));
  const absl::Time steady = clock.Steady();
  clock.StepWall(-absl::Hours(1));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(100) - absl::Hours(1));
  EXPECT_EQ(clock.Steady(), steady);
  clock.Set(absl::FromUnixSeconds(1'000'000));
  EXPECT_EQ(clock.Steady(), steady);
  clock.Advance(absl::Seconds(2));  // time passing moves both
  EXPECT_EQ(clock.Steady() - steady, absl::Seconds(2));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(1'000'002));
}

TEST(SystemClockTest, FollowsTheWallClock) {
  absl::Time before = absl::Now();
  absl::Time now = SystemClock::Get().Now();
  EXPECT_GE(now, before);
  EXPECT_LE(now, absl::Now());
}

TEST(SystemClockTest, SteadyNeverGoesBackAndReadsLikeATime) {
  const Clock& clock = SystemClock::Get();
  absl::Time last = clock.Steady();
  for (int i = 0; i < 1000; ++i) {
    const absl::Time next = clock.Steady();
    EXPECT_GE(next, last);
    last = next;
  }
  // Anchored at the wall time when the clock was made: not the boot's epoch.
  EXPECT_LT(absl::AbsDuration(clock.Steady() - absl::Now()), absl::Hours(24));
}

}  // namespace
}  // namespace evnet
