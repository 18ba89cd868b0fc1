// The request walk, the whole network in this process (in_process_network.h):
// a driver's request, central's answer and command, the engine's supply, the
// monitor's reports, the ticket. Over the mock cluster: what needs a real
// broker or real processes stays in the system and fault tests.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/in_process_network.h"
#include "testing/process.h"

namespace evnet::test {
namespace {

using ::testing::HasSubstr;

constexpr absl::Duration kWait = absl::Seconds(10);

class RequestWalkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<InProcessNetwork>> net = InProcessNetwork::Start();
    ASSERT_TRUE(net.ok()) << net.status();
    net_ = *std::move(net);
  }

  // The one update of `kind` for `request_id`, waited for.
  std::vector<v1::DriverUpdate> Updates(const std::string& driver, v1::UpdateKind kind,
                                        size_t count = 1) {
    return net_->updates().WaitFor(driver, kind, count, kWait);
  }

  std::unique_ptr<InProcessNetwork> net_;
};

TEST_F(RequestWalkTest, AnAcceptedRequestIsSuppliedAndTicketedOnceAtItsCpsPrice) {
  absl::StatusOr<std::string> id = net_->RequestCharge("driver-alice", "CP-001");
  ASSERT_TRUE(id.ok()) << id.status();
  std::vector<v1::DriverUpdate> accepted = Updates("driver-alice", v1::UPDATE_KIND_ACCEPTED);
  ASSERT_EQ(accepted.size(), 1u);
  EXPECT_EQ(accepted[0].request_id(), *id);
  EXPECT_EQ(accepted[0].cp_id(), "CP-001");
  EXPECT_TRUE(net_->WaitForStatus("CP-001", v1::CP_STATUS_SUPPLYING, kWait));
  std::vector<v1::DriverUpdate> ended = Updates("driver-alice", v1::UPDATE_KIND_ENDED);
  ASSERT_EQ(ended.size(), 1u);
  const v1::SessionResult& ticket = ended[0].ticket();
  EXPECT_EQ(ticket.session_id(), accepted[0].session_id());
  EXPECT_EQ(ticket.cp_id(), "CP-001");
  EXPECT_EQ(ticket.end_reason(), v1::SESSION_END_REASON_UNPLUGGED);
  EXPECT_GT(ticket.energy_kwh(), 0);
  EXPECT_DOUBLE_EQ(ticket.price_eur_per_kwh(), 0.30);
  EXPECT_EQ(ticket.amount_cents(), std::llround(ticket.energy_kwh() * 30));
  EXPECT_TRUE(net_->WaitForStatus("CP-001", v1::CP_STATUS_ACTIVE, kWait));
  // Once: no second ticket comes.
  EXPECT_EQ(net_->updates().WaitFor("driver-alice", v1::UPDATE_KIND_ENDED, 2,
                                    absl::Milliseconds(300)).size(), 1u);
}

}  // namespace
}  // namespace evnet::test
