// A CP's engine and monitor die together: the CP shows DISCONNECTED, the rest
// goes on; restarting both brings it back, and the interrupted session is
// billed once from the engine's journal.
#include "testing/fault/fault_test_base.h"

namespace evnet::test {
namespace {

TEST_F(FaultTest, EngineAndMonitorKilledTogether) {
  StartNetwork(absl::Seconds(60));
  StartAliceSession();

  ASSERT_TRUE(net_->Kill("cp-e-1").ok());
  ASSERT_TRUE(net_->Kill("cp-m-1").ok());
  ExpectWithin("engine and monitor killed -> CP-001 DISCONNECTED",
               TimeUntil([&] { return net_->Status("CP-001") == v1::CP_STATUS_DISCONNECTED; },
                         absl::Seconds(15)),
               absl::Seconds(3));
  ExpectOthersAreServed("driver-bob");

  ExpectWithin("engine and monitor restarted -> CP-001 ACTIVE",
               TimeToRecover([&] { return net_->Restart("cp-e-1").ok() && net_->Restart("cp-m-1").ok(); },
                             [&] { return net_->Status("CP-001") == v1::CP_STATUS_ACTIVE; },
                             absl::Seconds(15)),
               absl::Seconds(3));
  ASSERT_EQ(net_->updates().WaitFor("driver-alice", v1::UPDATE_KIND_ENDED, 1, absl::Seconds(20)).size(), 1u);
  EXPECT_EQ(net_->updates().WaitFor("driver-alice", v1::UPDATE_KIND_ENDED, 2, absl::Seconds(3)).size(), 1u);
  std::vector<v1::SessionResult> tickets = DistinctTickets("driver-alice");
  ASSERT_EQ(tickets.size(), 1u);
  EXPECT_EQ(tickets[0].end_reason(), v1::SESSION_END_REASON_ENGINE_FAILURE);
  ExpectTicketAgreesWithMeter(tickets[0], kLongPowerKw, kLongPrice);
  ExpectStillRunning({"central", "cp-e-2", "cp-m-2"});
}

}  // namespace
}  // namespace evnet::test
