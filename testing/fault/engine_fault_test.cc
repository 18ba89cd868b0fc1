// cp_engine dies mid-session: monitor, other CPs, drivers and central go on;
// the session ends as ENGINE_FAILURE, the driver is told at once, the CP
// shows BROKEN; restarting the engine restores it, and the energy supplied
// before the crash is billed once, from the engine's journal.
#include "testing/fault/fault_test_base.h"

namespace evnet::test {
namespace {

using ::testing::HasSubstr;

TEST_F(FaultTest, EngineKilledMidSession) {
  StartNetwork(absl::Seconds(60));
  StartAliceSession();

  ASSERT_TRUE(net_->Kill("cp-e-1").ok());
  ExpectWithin("engine killed -> CP-001 BROKEN",
               TimeUntil([&] { return net_->Status("CP-001") == v1::CP_STATUS_BROKEN; },
                         absl::Seconds(15)),
               absl::Seconds(3));
  // The driver is told at once.
  ASSERT_EQ(net_->updates().WaitFor("driver-alice", v1::UPDATE_KIND_INTERRUPTED, 1, absl::Seconds(2)).size(), 1u);
  EXPECT_THAT(net_->LogOf("cp-m-1"), HasSubstr("CP_M:CP-001 | Health check failed (3)"));
  EXPECT_THAT(net_->LogOf("cp-m-1"), HasSubstr("CP_M:CP-001 | FAULT DETECTED"));
  EXPECT_THAT(net_->LogOf("cp-m-1"), HasSubstr("CP_M:CP-001 | Fault notification sent to Central"));
  EXPECT_THAT(net_->LogOf("central"), HasSubstr("Central | CP CP-001 marked as FAULTY"));
  EXPECT_THAT(net_->LogOf("central"),
              HasSubstr("Central | CP CP-001 has active session with driver-alice"));

  ExpectOthersAreServed("driver-bob");
  EXPECT_TRUE(DistinctTickets("driver-alice").empty());  // billed when the engine is back

  ExpectWithin("engine restarted -> CP-001 ACTIVE",
               TimeToRecover([&] { return net_->Restart("cp-e-1").ok(); },
                             [&] { return net_->Status("CP-001") == v1::CP_STATUS_ACTIVE; },
                         absl::Seconds(15)),
               absl::Seconds(3));
  EXPECT_THAT(net_->LogOf("cp-m-1"), HasSubstr("CP_M:CP-001 | Health restored"));
  EXPECT_TRUE(WaitFor([&] {
    return net_->LogOf("central").find("Central | CP CP-001 fault cleared, now available") !=
           std::string::npos;
  }, absl::Seconds(5)));

  ASSERT_EQ(net_->updates().WaitFor("driver-alice", v1::UPDATE_KIND_ENDED, 1, absl::Seconds(20)).size(), 1u);
  // Billed once: no second ticket follows.
  EXPECT_EQ(net_->updates().WaitFor("driver-alice", v1::UPDATE_KIND_ENDED, 2, absl::Seconds(3)).size(), 1u);
  std::vector<v1::SessionResult> tickets = DistinctTickets("driver-alice");
  ASSERT_EQ(tickets.size(), 1u);
  EXPECT_EQ(tickets[0].end_reason(), v1::SESSION_END_REASON_ENGINE_FAILURE);
  EXPECT_GT(tickets[0].energy_kwh(), 0);
  ExpectTicketAgreesWithMeter(tickets[0], kLongPowerKw, kLongPrice);
  ExpectStillRunning({"central", "cp-m-1", "cp-e-2", "cp-m-2"});
}

}  // namespace
}  // namespace evnet::test
