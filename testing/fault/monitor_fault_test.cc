// cp_monitor dies: its engine and the running session go on, other CPs and
// drivers too; the CP shows DISCONNECTED and takes no new session; restarting
// the monitor re-registers it (DESIGN.md, fault table).
#include "testing/fault/fault_test_base.h"

namespace evnet::test {
namespace {

using ::testing::HasSubstr;

TEST_F(FaultTest, MonitorKilledMidSession) {
  StartNetwork(absl::Seconds(25));
  StartAliceSession();

  ASSERT_TRUE(net_->Kill("cp-m-1").ok());
  ExpectWithin("monitor killed -> CP-001 DISCONNECTED",
               TimeUntil([&] { return net_->Status("CP-001") == v1::CP_STATUS_DISCONNECTED; },
                         absl::Seconds(15)),
               absl::Seconds(3));

  // What keeps working: the session (its telemetry still reaches alice),
  // the other CP, central's API.
  const size_t progress =
      net_->updates().WaitFor("driver-alice", v1::UPDATE_KIND_PROGRESS, 0, absl::ZeroDuration()).size();
  EXPECT_GE(net_->updates().WaitFor("driver-alice", v1::UPDATE_KIND_PROGRESS, progress + 2,
                                    absl::Seconds(10)).size(),
            progress + 2);
  ExpectOthersAreServed("driver-bob");
  // What stops: new sessions at CP-001.
  ASSERT_TRUE(net_->StartDriver("driver-carol", {"CP-001"}).ok());
  auto rejected = net_->updates().WaitFor("driver-carol", v1::UPDATE_KIND_REJECTED, 1, absl::Seconds(20));
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_THAT(rejected[0].rejection_reason(), HasSubstr("CP-001 is DISCONNECTED"));

  ExpectWithin("monitor restarted -> CP-001 back (SUPPLYING)",
               TimeToRecover([&] { return net_->Restart("cp-m-1").ok(); },
                             [&] { return net_->Status("CP-001") == v1::CP_STATUS_SUPPLYING; },
                         absl::Seconds(15)),
               absl::Seconds(3));

  auto tickets = net_->updates().WaitFor("driver-alice", v1::UPDATE_KIND_ENDED, 1, absl::Seconds(40));
  ASSERT_EQ(tickets.size(), 1u);
  EXPECT_EQ(tickets[0].ticket().end_reason(), v1::SESSION_END_REASON_UNPLUGGED);
  EXPECT_EQ(FromProto(tickets[0].ticket().ended_at()) - FromProto(tickets[0].ticket().started_at()),
            absl::Seconds(25));
  ExpectTicketAgreesWithMeter(tickets[0].ticket(), kLongPowerKw, kLongPrice);
  EXPECT_TRUE(net_->WaitForStatus("CP-001", v1::CP_STATUS_ACTIVE, absl::Seconds(5)));
  EXPECT_THAT(net_->LogOf("central"), HasSubstr("CP CP-001 reconnected"));
  ExpectStillRunning({"central", "cp-e-1", "cp-e-2", "cp-m-2"});
}

}  // namespace
}  // namespace evnet::test
