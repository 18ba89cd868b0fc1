#include "common/grpc/reconnect_backoff.h"

#include <algorithm>

#include "gtest/gtest.h"

namespace evnet {
namespace {

// Every draw at the top of its range: each wait is the floor plus the cap.
ReconnectBackoff Longest() {
  return ReconnectBackoff([] { return 1.0; });
}

constexpr absl::Duration kFast = absl::Milliseconds(3);   // refused at once
constexpr absl::Duration kSlow = absl::Seconds(30);       // handshake timed out

TEST(ReconnectBackoffTest, ALinkThatRegisteredComesBackWithinAQuarterSecond) {
  ReconnectBackoff backoff = Longest();
  EXPECT_EQ(backoff.Next(/*registered=*/true, absl::Minutes(5)),
            ReconnectBackoff::kFloor + absl::Milliseconds(250));
}

TEST(ReconnectBackoffTest, ALinkThatEndsRightAfterRegisteringBacksOffAsIfCentralWereAway) {
  ReconnectBackoff backoff = Longest();
  backoff.Next(true, absl::Minutes(5));
  EXPECT_EQ(backoff.Next(true, absl::Milliseconds(100)),
            ReconnectBackoff::kFloor + absl::Milliseconds(500));
  EXPECT_EQ(backoff.Next(true, absl::Milliseconds(100)), ReconnectBackoff::kFloor + absl::Seconds(1));
  EXPECT_EQ(backoff.Next(true, absl::Milliseconds(100)), ReconnectBackoff::kFloor + absl::Seconds(1));
}

TEST(ReconnectBackoffTest, WhileCentralIsAwayTheWaitDoublesToOneSecondAndStays) {
  ReconnectBackoff backoff = Longest();
  backoff.Next(true, absl::ZeroDuration());
  EXPECT_EQ(backoff.Next(false, kFast), ReconnectBackoff::kFloor + absl::Milliseconds(500));
  EXPECT_EQ(backoff.Next(false, kFast), ReconnectBackoff::kFloor + absl::Seconds(1));
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(backoff.Next(false, kFast), ReconnectBackoff::kFloor + absl::Seconds(1));
  }
}

TEST(ReconnectBackoffTest, AttemptsThatTimeOutSpreadFurtherApartUpToAMinute) {
  ReconnectBackoff backoff = Longest();
  backoff.Next(true, absl::ZeroDuration());
  EXPECT_EQ(backoff.Next(false, kSlow), ReconnectBackoff::kFloor + absl::Seconds(2));
  EXPECT_EQ(backoff.Next(false, kSlow), ReconnectBackoff::kFloor + absl::Seconds(4));
  EXPECT_EQ(backoff.Next(false, kSlow), ReconnectBackoff::kFloor + absl::Seconds(8));
  for (int i = 0; i < 10; ++i) backoff.Next(false, kSlow);
  EXPECT_EQ(backoff.cap(), absl::Seconds(60));
  // Central gone meanwhile (refused at once): back to trying every second,
  // so that it is found again as soon as it is back.
  EXPECT_EQ(backoff.Next(false, kFast), ReconnectBackoff::kFloor + absl::Seconds(1));
  // Registered and up a while: afresh.
  EXPECT_EQ(backoff.Next(true, absl::Hours(1)), ReconnectBackoff::kFloor + absl::Milliseconds(250));
}

TEST(ReconnectBackoffTest, TheFirstAttemptThatFailsWaitsAtMostAQuarterSecond) {
  ReconnectBackoff backoff = Longest();
  EXPECT_EQ(backoff.Next(false, kSlow), ReconnectBackoff::kFloor + absl::Milliseconds(250));
}

TEST(ReconnectBackoffTest, WaitsAreSpreadOverTheirRange) {
  ReconnectBackoff backoff;  // real randomness
  backoff.Next(true, absl::ZeroDuration());
  for (int i = 0; i < 6; ++i) backoff.Next(false, kSlow);
  ASSERT_EQ(backoff.cap(), absl::Seconds(60));
  absl::Duration least = absl::InfiniteDuration(), most = absl::ZeroDuration();
  for (int i = 0; i < 200; ++i) {
    const absl::Duration wait = backoff.Next(false, kSlow);
    EXPECT_GE(wait, ReconnectBackoff::kFloor);
    EXPECT_LT(wait, ReconnectBackoff::kFloor + absl::Seconds(60));
    least = std::min(least, wait);
    most = std::max(most, wait);
  }
  // 200 uniform draws over a minute: the chance of all in one 20 s third is 3 * (1/3)^200.
  EXPECT_LT(least, absl::Seconds(20));
  EXPECT_GT(most, absl::Seconds(40));
}

}  // namespace
}  // namespace evnet
