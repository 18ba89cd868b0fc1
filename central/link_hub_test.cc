#include "central/link_hub.h"

#include <optional>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace evnet {
namespace {

class FakeStream : public LinkHub::Stream {
 public:
  bool Write(const v1::CentralCommand& command) override {
    if (closed.has_value()) return false;
    written.push_back(command.command_id());
    return true;
  }
  void Close(const absl::Status& reason) override { closed = reason; }
  std::vector<std::string> written;
  std::optional<absl::Status> closed;
};

v1::CentralCommand Command(const std::string& id) {
  v1::CentralCommand command;
  command.set_command_id(id);
  return command;
}

std::function<absl::Status()> Always() {
  return [] { return absl::OkStatus(); };
}

class LinkHubTest : public ::testing::Test {
 protected:
  // Sends a command; its outcome lands in the returned slot.
  std::shared_ptr<std::optional<absl::Status>> Send(const std::string& cp, const std::string& id,
                                                    absl::Duration timeout = absl::Seconds(5)) {
    auto outcome = std::make_shared<std::optional<absl::Status>>();
    hub_.SendCommand(cp, Command(id), timeout, Always(),
                     [outcome](absl::Status s) { *outcome = s; });
    return outcome;
  }

  FakeClock clock_;
  LinkHub hub_{clock_, absl::Seconds(3)};
};

TEST_F(LinkHubTest, ASecondMonitorIsRefusedWhileTheFirstReports) {
  auto first = std::make_shared<FakeStream>();
  ASSERT_TRUE(hub_.Attach("CP-001", first).ok());
  absl::StatusOr<uint64_t> second = hub_.Attach("CP-001", std::make_shared<FakeStream>());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_FALSE(first->closed.has_value());
}

TEST_F(LinkHubTest, ASilentLinkIsReplacedAndClosedAndItsEndDoesNotCount) {
  auto old_stream = std::make_shared<FakeStream>();
  absl::StatusOr<uint64_t> old_link = hub_.Attach("CP-001", old_stream);
  ASSERT_TRUE(old_link.ok());
  auto waiting = Send("CP-001", "c-1");  // sent on the old link, never answered
  clock_.Advance(absl::Seconds(4));
  auto new_stream = std::make_shared<FakeStream>();
  absl::StatusOr<uint64_t> new_link = hub_.Attach("CP-001", new_stream);
  ASSERT_TRUE(new_link.ok());
  ASSERT_TRUE(old_stream->closed.has_value());
  EXPECT_EQ(old_stream->closed->code(), absl::StatusCode::kAborted);
  // The old stream ends: it was not the CP's link any more.
  EXPECT_FALSE(hub_.Detach("CP-001", *old_link));
  ASSERT_TRUE(waiting->has_value());
  EXPECT_EQ((*waiting)->code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(hub_.Connected(), 1);
  EXPECT_TRUE(hub_.Detach("CP-001", *new_link));
  EXPECT_EQ(hub_.Connected(), 0);
}

TEST_F(LinkHubTest, CommandsAreAnsweredOnlyByTheirCp) {
  ASSERT_TRUE(hub_.Attach("CP-001", std::make_shared<FakeStream>()).ok());
  ASSERT_TRUE(hub_.Attach("CP-002", std::make_shared<FakeStream>()).ok());
  auto outcome = Send("CP-001", "c-1");
  v1::CommandResult result;
  result.set_command_id("c-1");
  hub_.Complete("CP-002", result);  // an impostor's answer
  EXPECT_FALSE(outcome->has_value());
  result.set_code(static_cast<int>(absl::StatusCode::kFailedPrecondition));
  result.set_message("in fault");
  hub_.Complete("CP-001", result);
  ASSERT_TRUE(outcome->has_value());
  EXPECT_EQ((*outcome)->code(), absl::StatusCode::kFailedPrecondition);
}

// A command sent for its answer gets the whole result (a charger's answer)
// when it is OK, why not otherwise, and once.
TEST_F(LinkHubTest, ACommandSentForItsAnswerGetsTheResultOnce) {
  ASSERT_TRUE(hub_.Attach("OCPP-1", std::make_shared<FakeStream>()).ok());
  std::vector<absl::StatusOr<v1::CommandResult>> answers;
  auto keep = [&answers](absl::StatusOr<v1::CommandResult> answer) { answers.push_back(answer); };
  hub_.SendForAnswer("OCPP-1", Command("op-1"), absl::Seconds(5), keep);
  hub_.SendForAnswer("OCPP-1", Command("op-2"), absl::Seconds(5), keep);
  hub_.SendForAnswer("OCPP-404", Command("op-3"), absl::Seconds(5), keep);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].status().code(), absl::StatusCode::kUnavailable);
  v1::CommandResult result;
  result.set_command_id("op-1");
  result.set_answer_json(R"({"status":"Accepted"})");
  hub_.Complete("OCPP-1", result);
  hub_.Complete("OCPP-1", result);  // a repeat: answered already
  ASSERT_EQ(answers.size(), 2u);
  ASSERT_TRUE(answers[1].ok());
  EXPECT_EQ(answers[1]->answer_json(), R"({"status":"Accepted"})");
  result.set_command_id("op-2");
  result.set_code(static_cast<int>(absl::StatusCode::kInvalidArgument));
  result.set_message("the charger's answer is not valid");
  hub_.Complete("OCPP-1", result);
  ASSERT_EQ(answers.size(), 3u);
  EXPECT_EQ(answers[2].status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(answers[2].status().message(), "the charger's answer is not valid");
}

TEST(LinkHubAnswers, EachAnswerIsObservedWithItsKindAndItsRoundTrip) {
  FakeClock clock;
  std::vector<std::pair<std::string, absl::Duration>> seen;
  LinkHub hub(clock, absl::Seconds(3), [&seen](absl::string_view kind, absl::Duration took) {
    seen.emplace_back(std::string(kind), took);
  });
  ASSERT_TRUE(hub.Attach("CP-001", std::make_shared<FakeStream>()).ok());
  v1::CentralCommand start = Command("c-1");
  start.mutable_start_supply()->set_session_id("s-1");
  hub.SendCommand("CP-001", start, absl::Seconds(5), Always(), [](absl::Status) {});
  clock.Advance(absl::Milliseconds(40));
  v1::CommandResult result;
  result.set_command_id("c-1");
  hub.Complete("CP-002", result);  // not its CP: not an answer
  EXPECT_TRUE(seen.empty());
  hub.Complete("CP-001", result);
  hub.Complete("CP-001", result);  // a repeat: answered already
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].first, "start_supply");
  EXPECT_EQ(seen[0].second, absl::Milliseconds(40));
  // One that expires was never answered: not observed.
  hub.SendCommand("CP-001", Command("c-2"), absl::Seconds(5), Always(), [](absl::Status) {});
  clock.Advance(absl::Seconds(6));
  hub.ExpireCommands();
  EXPECT_EQ(seen.size(), 1u);
}

TEST_F(LinkHubTest, ACommandNobodyAnswersExpiresAtItsDeadline) {
  ASSERT_TRUE(hub_.Attach("CP-001", std::make_shared<FakeStream>()).ok());
  auto outcome = Send("CP-001", "c-1", absl::Seconds(5));
  clock_.Advance(absl::Seconds(4));
  hub_.ExpireCommands();
  EXPECT_FALSE(outcome->has_value());
  clock_.Advance(absl::Seconds(2));
  hub_.ExpireCommands();
  ASSERT_TRUE(outcome->has_value());
  EXPECT_EQ((*outcome)->code(), absl::StatusCode::kDeadlineExceeded);
}

TEST_F(LinkHubTest, CommandsReachTheLinkInOrderAndAFailedPreconditionSendsNothing) {
  auto stream = std::make_shared<FakeStream>();
  ASSERT_TRUE(hub_.Attach("CP-001", stream).ok());
  Send("CP-001", "start");
  std::optional<absl::Status> refused;
  hub_.SendCommand("CP-001", Command("late"), absl::Seconds(5),
                   [] { return absl::AbortedError("CP-001 is out of order (STOPPED)"); },
                   [&](absl::Status s) { refused = s; });
  Send("CP-001", "stop");
  EXPECT_EQ(stream->written, (std::vector<std::string>{"start", "stop"}));
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->code(), absl::StatusCode::kAborted);
}

TEST_F(LinkHubTest, ACpWithNoLinkFailsAtOnce) {
  auto outcome = Send("CP-404", "c-1");
  ASSERT_TRUE(outcome->has_value());
  EXPECT_EQ((*outcome)->code(), absl::StatusCode::kUnavailable);
}

TEST_F(LinkHubTest, ItsOwnerWaitsForEveryStreamToFinish) {
  EXPECT_TRUE(hub_.WaitForStreams(absl::ZeroDuration()));
  hub_.StreamStarted();
  hub_.StreamStarted();
  hub_.StreamFinished();
  EXPECT_FALSE(hub_.WaitForStreams(absl::Milliseconds(10)));
  std::thread last([&] { hub_.StreamFinished(); });
  EXPECT_TRUE(hub_.WaitForStreams(absl::Seconds(10)));
  last.join();
}

}  // namespace
}  // namespace evnet
