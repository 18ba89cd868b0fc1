#include "common/proto_time.h"

#include "gtest/gtest.h"

namespace evnet {
namespace {

TEST(ProtoTimeTest, TimestampsRoundTripIncludingBeforeTheEpoch) {
  for (absl::Time t : {absl::FromUnixMillis(1795670000123), absl::UnixEpoch(),
                       absl::FromUnixMillis(-1500)}) {
    google::protobuf::Timestamp proto = ToProto(t);
    EXPECT_GE(proto.nanos(), 0);
    EXPECT_LT(proto.nanos(), 1'000'000'000);
    EXPECT_EQ(FromProto(proto), t);
  }
}

TEST(ProtoTimeTest, DurationsRoundTrip) {
  for (absl::Duration d : {absl::Milliseconds(2500), absl::ZeroDuration(), absl::Hours(3)}) {
    EXPECT_EQ(FromProto(ToProto(d)), d);
  }
}

}  // namespace
}  // namespace evnet
