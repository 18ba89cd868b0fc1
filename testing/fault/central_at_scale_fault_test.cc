// central dies with 1,000 CPs connected (played by tools/evload, each on its
// own connection): every CP is reported again within the fault table's 5 s
// of the restart, and the monitors' links come back by themselves.
#include "testing/fault/fault_test_base.h"

namespace evnet::test {
namespace {

constexpr int kCps = 1000;

TEST(CentralAtScaleFaultTest, ThousandCpsAreReportedAgainWithinFiveSecondsOfARestart) {
  // Plaintext: 1,000 certificates from openssl would take the test's minute
  // before it began; the cost of TLS at scale is measured by tools/ev bench.
  absl::StatusOr<std::unique_ptr<Network>> started = Network::Start({}, {"--insecure"});
  ASSERT_TRUE(started.ok()) << started.status();
  Network& net = **started;
  ASSERT_TRUE(net.StartLoad({absl::StrCat("--cps=", kCps), "--seconds=0"}).ok());
  ASSERT_TRUE(WaitFor([&] { return net.CountWithStatus(v1::CP_STATUS_ACTIVE) == kCps; },
                      absl::Seconds(60)))
      << net.CountWithStatus(v1::CP_STATUS_ACTIVE) << " ACTIVE\n" << net.LogOf("evload");

  ASSERT_TRUE(net.Kill("central").ok());
  ExpectWithin("central restarted with 1000 CPs -> every CP reported again",
               TimeToRecover([&] { return net.Restart("central").ok(); },
                             [&] { return net.CountWithStatus(v1::CP_STATUS_ACTIVE) == kCps; },
                             absl::Seconds(30)),
               absl::Seconds(5));
  EXPECT_TRUE(net.process("evload")->Running()) << net.LogOf("evload");
  // No CP was registered twice or lost on the way.
  EXPECT_EQ(net.CountWithStatus(v1::CP_STATUS_DISCONNECTED), 0);
}

}  // namespace
}  // namespace evnet::test
