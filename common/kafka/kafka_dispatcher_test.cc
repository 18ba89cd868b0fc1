#include "common/kafka/kafka_dispatcher.h"

#include "gtest/gtest.h"

namespace evnet {
namespace {

const OffsetTracker::Partition kP0{"t", 0};
const OffsetTracker::Partition kP1{"t", 1};

TEST(OffsetTrackerTest, StoresPastEverythingDoneInOrder) {
  OffsetTracker tracker;
  tracker.Begin(kP0, 10);
  tracker.Finish(kP0, 10);
  EXPECT_EQ(tracker.TakeStorable(), (std::map<OffsetTracker::Partition, int64_t>{{kP0, 11}}));
  EXPECT_TRUE(tracker.TakeStorable().empty());  // nothing moved since
}

TEST(OffsetTrackerTest, AnUnfinishedMessageHoldsBackThoseAfterIt) {
  OffsetTracker tracker;
  tracker.Begin(kP0, 10);  // slow: its CP has not answered yet
  tracker.Begin(kP0, 11);
  tracker.Begin(kP0, 12);
  tracker.Finish(kP0, 11);
  tracker.Finish(kP0, 12);
  // A crash now must replay 10, so nothing past it is stored.
  EXPECT_EQ(tracker.TakeStorable(), (std::map<OffsetTracker::Partition, int64_t>{{kP0, 10}}));
  tracker.Finish(kP0, 10);
  EXPECT_EQ(tracker.TakeStorable(), (std::map<OffsetTracker::Partition, int64_t>{{kP0, 13}}));
  EXPECT_EQ(tracker.in_flight(), 0u);
}

TEST(OffsetTrackerTest, PartitionsAreIndependent) {
  OffsetTracker tracker;
  tracker.Begin(kP0, 5);
  tracker.Begin(kP1, 7);
  tracker.Finish(kP1, 7);
  EXPECT_EQ(tracker.TakeStorable(),
            (std::map<OffsetTracker::Partition, int64_t>{{kP0, 5}, {kP1, 8}}));
  EXPECT_EQ(tracker.in_flight(), 1u);
}

}  // namespace
}  // namespace evnet
