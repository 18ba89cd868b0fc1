// A driver dies mid-session: the session completes and its updates wait in
// Kafka; the restarted driver shows every update it missed, each once.
#include <stdlib.h>

#include <map>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "testing/fault/fault_test_base.h"

namespace evnet::test {
namespace {

size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

TEST_F(FaultTest, DriverKilledMidSession) {
  StartNetwork(absl::Seconds(8));
  StartAliceSession();

  ASSERT_TRUE(net_->Kill("driver-alice").ok());
  // The session completes without its driver; the ticket waits in Kafka.
  ASSERT_EQ(net_->updates().WaitFor("driver-alice", v1::UPDATE_KIND_ENDED, 1, absl::Seconds(30)).size(), 1u);
  ExpectOthersAreServed("driver-bob");

  ExpectWithin("driver restarted -> missed ticket shown",
               TimeToRecover([&] { return net_->Restart("driver-alice").ok(); },
                             [&] { return Count(net_->LogOf("driver-alice"), "Ticket: CP-001") > 0; },
                         absl::Seconds(15)),
               absl::Seconds(2));
  ASSERT_TRUE(WaitFor([&] { return net_->LogOf("driver-alice").find("Done: 1 requests") != std::string::npos; },
                      absl::Seconds(10)))
      << net_->LogOf("driver-alice");
  // Each update shown once across both runs, and the request was not sent again.
  const std::string log = net_->LogOf("driver-alice");
  EXPECT_EQ(Count(log, "Ticket: CP-001"), 1u) << log;
  EXPECT_EQ(Count(log, "Request for CP-001 accepted"), 1u) << log;
  EXPECT_EQ(Count(log, "Charging at CP-001 started"), 1u) << log;
  EXPECT_EQ(Count(log, "Asked for a charge at CP-001"), 1u) << log;
  EXPECT_EQ(DistinctTickets("driver-alice").size(), 1u);
  // Progress too: the update shown last before the kill is not shown again.
  std::map<std::string, int> progress;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    if (absl::StrContains(line, "so far")) ++progress[std::string(line)];
  }
  EXPECT_FALSE(progress.empty()) << log;
  for (const auto& [line, times] : progress) EXPECT_EQ(times, 1) << line;
  ExpectStillRunning({"central", "cp-e-1", "cp-m-1", "cp-e-2", "cp-m-2"});
}

TEST_F(FaultTest, DriverKilledBetweenSavingAndSendingItsRequestSendsItAgain) {
  StartNetwork(absl::Seconds(3));
  // Dies with its request's id saved and the request not yet sent.
  setenv("EVNET_CRASH_AT", "driver.sending:1", 1);
  const absl::Status started = net_->StartDriver("driver-alice", {"CP-001"});
  unsetenv("EVNET_CRASH_AT");
  ASSERT_TRUE(started.ok());
  ASSERT_TRUE(WaitFor([&] { return !net_->process("driver-alice")->Running(); },
                      absl::Seconds(15)))
      << net_->LogOf("driver-alice");
  ASSERT_NE(net_->LogOf("driver-alice").find("CRASH POINT driver.sending"), std::string::npos);
  ASSERT_TRUE(net_->Restart("driver-alice").ok());
  auto tickets = net_->updates().WaitFor("driver-alice", v1::UPDATE_KIND_ENDED, 1, absl::Seconds(30));
  ASSERT_EQ(tickets.size(), 1u) << net_->LogOf("driver-alice");
  ASSERT_TRUE(WaitFor([&] { return net_->LogOf("driver-alice").find("Done: 1 requests") != std::string::npos; },
                      absl::Seconds(10)))
      << net_->LogOf("driver-alice");
  const std::string log = net_->LogOf("driver-alice");
  EXPECT_EQ(Count(log, "Asked again for a charge at CP-001"), 1u) << log;
  EXPECT_EQ(Count(log, "Ticket: CP-001"), 1u) << log;
  EXPECT_EQ(DistinctTickets("driver-alice").size(), 1u);
}

}  // namespace
}  // namespace evnet::test
