// Kafka dies: gRPC health and central's status keep working; engines keep
// the results of sessions that end meanwhile (buffered and journaled) and
// deliver them when the broker is back; nothing is lost, nothing twice.
#include "testing/fault/fault_test_base.h"

namespace evnet::test {
namespace {

TEST_F(FaultTest, KafkaKilledMidSession) {
  StartNetwork(absl::Seconds(8));
  StartAliceSession();

  ASSERT_TRUE(net_->Kill("kafka").ok());
  // Health and status go on without Kafka: the session ends on its own and
  // central sees the CP idle again.
  EXPECT_EQ(net_->Status("CP-002"), v1::CP_STATUS_ACTIVE);
  ASSERT_TRUE(net_->WaitForStatus("CP-001", v1::CP_STATUS_ACTIVE, absl::Seconds(20)))
      << net_->LogOf("central");
  EXPECT_TRUE(DistinctTickets("driver-alice").empty());  // the result is held by the engine

  ExpectWithin("Kafka restarted -> held result ticketed",
               TimeToRecover([&] { return net_->Restart("kafka").ok(); },
                             [&] { return !DistinctTickets("driver-alice").empty(); }, absl::Seconds(60)),
               absl::Seconds(10));
  // Nothing twice.
  EXPECT_EQ(net_->updates().WaitFor("driver-alice", v1::UPDATE_KIND_ENDED, 2, absl::Seconds(3)).size(), 1u);
  std::vector<v1::SessionResult> tickets = DistinctTickets("driver-alice");
  ASSERT_EQ(tickets.size(), 1u);
  EXPECT_EQ(tickets[0].end_reason(), v1::SESSION_END_REASON_UNPLUGGED);
  ExpectTicketAgreesWithMeter(tickets[0], kLongPowerKw, kLongPrice);
  // And new sessions flow again.
  ExpectOthersAreServed("driver-bob");
  ExpectStillRunning({"central", "cp-e-1", "cp-m-1", "cp-e-2", "cp-m-2"});
}

}  // namespace
}  // namespace evnet::test
