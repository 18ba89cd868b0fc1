// central dies mid-session: engines finish their sessions and the results
// wait in Kafka; requests sent while it is down are served on its return, or
// rejected as expired when they waited too long; tickets reach drivers.
#include "common/json_codec.h"
#include "common/kafka/kafka_producer.h"
#include "common/kafka/topics.h"
#include "testing/fault/fault_test_base.h"

namespace evnet::test {
namespace {

using ::testing::HasSubstr;

TEST_F(FaultTest, CentralKilledMidSession) {
  StartNetwork(absl::Seconds(8), {"--request_ttl=30s"});
  StartAliceSession();

  ASSERT_TRUE(net_->Kill("central").ok());
  EXPECT_EQ(net_->Status("CP-001"), v1::CP_STATUS_UNSPECIFIED);  // the API is gone
  // The engine finishes the session on its own.
  EXPECT_TRUE(WaitFor([&] { return net_->LogOf("cp-e-1").find("completed:") != std::string::npos; },
                      absl::Seconds(20)))
      << net_->LogOf("cp-e-1");
  // Requests made meanwhile wait: one fresh, one already too old.
  ASSERT_TRUE(net_->StartDriver("driver-bob", {"CP-002"}).ok());
  v1::DriverRequest stale;
  stale.set_request_id("zed-stale");
  stale.set_driver_id("driver-zed");
  stale.set_cp_id("CP-002");
  // Older than request_ttl (60 s) and the clock skew allowed (2 min) together.
  *stale.mutable_requested_at() = ToProto(absl::Now() - absl::Minutes(4));
  ASSERT_TRUE(net_->ProduceRequest("driver-zed", ToJson(stale)).ok());
  EXPECT_TRUE(net_->updates().WaitFor("driver-bob", v1::UPDATE_KIND_ACCEPTED, 1, absl::Seconds(2)).empty());

  ExpectWithin("central restarted -> every CP reported again",
               TimeToRecover([&] { return net_->Restart("central").ok(); },
                             [&] {
                 return net_->Status("CP-001") == v1::CP_STATUS_ACTIVE &&
                        net_->Status("CP-002") != v1::CP_STATUS_DISCONNECTED &&
                        net_->Status("CP-002") != v1::CP_STATUS_UNSPECIFIED;
               }, absl::Seconds(20)),
               absl::Seconds(5));

  // The result that waited in Kafka becomes alice's one ticket.
  ASSERT_EQ(net_->updates().WaitFor("driver-alice", v1::UPDATE_KIND_ENDED, 1, absl::Seconds(20)).size(), 1u);
  std::vector<v1::SessionResult> tickets = DistinctTickets("driver-alice");
  ASSERT_EQ(tickets.size(), 1u);
  EXPECT_EQ(tickets[0].end_reason(), v1::SESSION_END_REASON_UNPLUGGED);
  ExpectTicketAgreesWithMeter(tickets[0], kLongPowerKw, kLongPrice);
  // The queued request is served; the stale one is refused as expired.
  ASSERT_EQ(net_->updates().WaitFor("driver-bob", v1::UPDATE_KIND_ENDED, 1, absl::Seconds(40)).size(), 1u);
  auto expired = net_->updates().WaitFor("driver-zed", v1::UPDATE_KIND_REJECTED, 1, absl::Seconds(10));
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_THAT(expired[0].rejection_reason(), HasSubstr("expired"));
  // Its ledger came back from Kafka too.
  bool found = false;
  for (const v1::Session& s : net_->Sessions()) {
    if (s.driver_id() == "driver-alice") {
      found = true;
      EXPECT_EQ(s.state(), v1::SESSION_STATE_ENDED);
    }
  }
  EXPECT_TRUE(found);
  ExpectStillRunning({"cp-e-1", "cp-m-1", "cp-e-2", "cp-m-2"});
}

}  // namespace
}  // namespace evnet::test
