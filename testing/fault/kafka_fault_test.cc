// Kafka dies: gRPC health and central's status keep working; engines keep
// the results of sessions that end meanwhile (buffered and journaled) and
// deliver them when the broker is back; nothing is lost, nothing twice.
#include "absl/strings/match.h"
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

// A driver's next request meets Kafka down: the driver keeps it, says so, and
// sends it (same id) until Kafka takes it, however long the outage; central
// answers it once.
TEST_F(FaultTest, ADriverWhoseRequestMeetsKafkaDownSendsItOnceKafkaIsBack) {
  StartNetwork(absl::Seconds(3));
  // Two CPs, so that the second request never meets the first session
  // still open; a pause long enough that Kafka is down before the second is
  // sent.
  ASSERT_TRUE(net_->StartDriver("driver-carol", {"CP-001", "CP-002"}, absl::Seconds(12)).ok());
  // The first session's ticket: the driver now pauses, then sends the second.
  ASSERT_EQ(net_->updates().WaitFor("driver-carol", v1::UPDATE_KIND_ENDED, 1, absl::Seconds(30)).size(), 1u)
      << net_->LogOf("central");
  // The driver itself must have read it too, or it is still waiting for that
  // ticket (not sending the second request) while Kafka is down.
  ASSERT_TRUE(WaitFor([&] { return absl::StrContains(net_->LogOf("driver-carol"), "Ticket: CP-001"); },
                      absl::Seconds(20)))
      << net_->LogOf("driver-carol");
  ASSERT_TRUE(net_->Kill("kafka").ok());
  // The second request finds no broker: more than one try of 10 s each.
  ASSERT_TRUE(WaitFor([&] { return absl::StrContains(net_->LogOf("driver-carol"),
                                                     "Kafka has not taken the request for CP-002"); },
                      absl::Seconds(40)))
      << net_->LogOf("driver-carol");
  ASSERT_TRUE(WaitFor([&] { return absl::StrContains(net_->FullLogOf("driver-carol"), "(try 2)"); },
                      absl::Seconds(30)))
      << net_->LogOf("driver-carol");
  ExpectStillRunning({"driver-carol"});

  ASSERT_TRUE(net_->Restart("kafka").ok());
  auto tickets = net_->updates().WaitFor("driver-carol", v1::UPDATE_KIND_ENDED, 2, absl::Seconds(60));
  ASSERT_EQ(tickets.size(), 2u) << net_->LogOf("central") << net_->LogOf("driver-carol");
  ASSERT_TRUE(WaitFor([&] { return absl::StrContains(net_->LogOf("driver-carol"), "Done: 2 requests"); },
                      absl::Seconds(20)))
      << net_->LogOf("driver-carol");
  // Every copy of the second request had the one outcome, and one ticket.
  EXPECT_EQ(net_->updates().WaitFor("driver-carol", v1::UPDATE_KIND_ACCEPTED, 3, absl::Seconds(3)).size(), 2u);
  EXPECT_TRUE(net_->updates().WaitFor("driver-carol", v1::UPDATE_KIND_REJECTED, 1, absl::Seconds(1)).empty());
  EXPECT_EQ(DistinctTickets("driver-carol").size(), 2u);
}

}  // namespace
}  // namespace evnet::test
