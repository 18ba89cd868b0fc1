// The network every fault test starts from: CP-001 runs a long session for
// driver-alice (it outlasts the fault), CP-002 serves short sessions to
// others, so a test sees both what stops and what keeps working.
#ifndef EVNET_TESTING_FAULT_FAULT_TEST_BASE_H_
#define EVNET_TESTING_FAULT_FAULT_TEST_BASE_H_

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/fault/fault_util.h"
#include "testing/network.h"
#include "testing/ticket_checks.h"

namespace evnet::test {

inline constexpr double kLongPowerKw = 22;
inline constexpr double kLongPrice = 0.30;

class FaultTest : public ::testing::Test {
 protected:
  // Starts the network with CP-001's sessions lasting `long_session`.
  void StartNetwork(absl::Duration long_session, std::vector<std::string> central_flags = {}) {
    auto net = Network::Start({CpSpec{kLongPowerKw, kLongPrice, long_session},
                               CpSpec{11, 0.45, absl::Seconds(3)}},
                              std::move(central_flags));
    ASSERT_TRUE(net.ok()) << net.status();
    net_ = *std::move(net);
  }

  // driver-alice charges at CP-001 until it is SUPPLYING and has metered a bit.
  void StartAliceSession() {
    ASSERT_TRUE(net_->StartDriver("driver-alice", {"CP-001"}).ok());
    ASSERT_TRUE(net_->WaitForStatus("CP-001", v1::CP_STATUS_SUPPLYING, absl::Seconds(30)))
        << net_->LogOf("central");
    ASSERT_FALSE(
        net_->updates().WaitFor("driver-alice", v1::UPDATE_KIND_PROGRESS, 2, absl::Seconds(15)).empty());
  }

  // Another driver gets a whole session at CP-002: the rest keeps working.
  void ExpectOthersAreServed(const std::string& driver_id) {
    ASSERT_TRUE(net_->StartDriver(driver_id, {"CP-002"}).ok());
    auto tickets = net_->updates().WaitFor(driver_id, v1::UPDATE_KIND_ENDED, 1, absl::Seconds(40));
    ASSERT_EQ(tickets.size(), 1u) << net_->LogOf("central") << net_->LogOf(driver_id);
    EXPECT_EQ(tickets[0].ticket().cp_id(), "CP-002");
    EXPECT_EQ(tickets[0].ticket().end_reason(), v1::SESSION_END_REASON_UNPLUGGED);
  }

  // Every ticket a driver got, once each (by update id).
  std::vector<v1::SessionResult> DistinctTickets(const std::string& driver_id) {
    std::vector<v1::SessionResult> out;
    std::set<std::string> seen;
    for (const auto& u : net_->updates().For(driver_id)) {
      if (u.kind() == v1::UPDATE_KIND_ENDED && seen.insert(u.update_id()).second) {
        out.push_back(u.ticket());
      }
    }
    return out;
  }

  // No program but the ones named was restarted: they all still run.
  void ExpectStillRunning(const std::vector<std::string>& names) {
    for (const std::string& name : names) {
      Process* p = net_->process(name);
      ASSERT_NE(p, nullptr) << name;
      EXPECT_TRUE(p->Running()) << name << " ended with " << p->exit_code() << ":\n"
                                << p->LogTail();
    }
  }

  std::unique_ptr<Network> net_;
};

}  // namespace evnet::test

#endif  // EVNET_TESTING_FAULT_FAULT_TEST_BASE_H_
