// Adding five CPs and a driver to a running network with a session in
// progress: all register and become ACTIVE with no restart, the session is
// untouched, and the new driver is served.
#include "testing/fault/fault_test_base.h"

namespace evnet::test {
namespace {

TEST_F(FaultTest, FiveCpsAndADriverJoinARunningNetwork) {
  StartNetwork(absl::Seconds(20));
  StartAliceSession();

  std::vector<int> added;
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<int> n = net_->AddCp(CpSpec{7.4, 0.25, absl::Seconds(3)});
    ASSERT_TRUE(n.ok()) << n.status();
    added.push_back(*n);
  }
  ExpectWithin("5 new CPs -> all ACTIVE", TimeUntil([&] {
                 for (int n : added) {
                   if (net_->Status(Network::CpId(n)) != v1::CP_STATUS_ACTIVE) return false;
                 }
                 return true;
               }, absl::Seconds(20)),
               absl::Seconds(5));
  EXPECT_EQ(net_->Status("CP-001"), v1::CP_STATUS_SUPPLYING);

  ASSERT_TRUE(net_->StartDriver("driver-dave", {Network::CpId(added.back())}).ok());
  auto tickets = net_->updates().WaitFor("driver-dave", v1::UPDATE_KIND_ENDED, 1, absl::Seconds(30));
  ASSERT_EQ(tickets.size(), 1u) << net_->LogOf("central");
  EXPECT_EQ(tickets[0].ticket().cp_id(), Network::CpId(added.back()));

  // Alice's session ran its full course, never interrupted.
  ASSERT_EQ(net_->updates().WaitFor("driver-alice", v1::UPDATE_KIND_ENDED, 1, absl::Seconds(30)).size(), 1u);
  std::vector<v1::SessionResult> alice = DistinctTickets("driver-alice");
  ASSERT_EQ(alice.size(), 1u);
  EXPECT_EQ(alice[0].end_reason(), v1::SESSION_END_REASON_UNPLUGGED);
  EXPECT_EQ(FromProto(alice[0].ended_at()) - FromProto(alice[0].started_at()), absl::Seconds(20));
  EXPECT_TRUE(net_->updates().WaitFor("driver-alice", v1::UPDATE_KIND_INTERRUPTED, 1, absl::ZeroDuration()).empty());
  EXPECT_EQ(net_->LogOf("central").find("ERROR"), std::string::npos);
  ExpectStillRunning({"central", "cp-e-1", "cp-m-1", "cp-e-2", "cp-m-2"});
}

}  // namespace
}  // namespace evnet::test
