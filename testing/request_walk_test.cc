// The request walk, the whole network in this process (in_process_network.h):
// a driver's request, central's answer and command, the engine's supply, the
// monitor's reports, the ticket, the books. Over the mock cluster: what needs a real
// broker or real processes stays in the system and fault tests.
#include <ostream>
#include <sstream>
#include <streambuf>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "common/json_codec.h"
#include "common/kafka/kafka_producer.h"
#include "common/kafka/topics.h"
#include "driver/driver.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/in_process_network.h"
#include "testing/process.h"
#include "testing/ticket_checks.h"

namespace evnet::test {
namespace {

using ::testing::HasSubstr;

constexpr absl::Duration kWait = absl::Seconds(10);

// What a driver shows, readable while it writes.
class SharedOutput : public std::streambuf {
 public:
  std::string Text() {
    absl::MutexLock lock(&mu_);
    return text_;
  }

 protected:
  int overflow(int c) override {
    if (c != traits_type::eof()) {
      absl::MutexLock lock(&mu_);
      text_.push_back(static_cast<char>(c));
    }
    return c;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    absl::MutexLock lock(&mu_);
    text_.append(s, static_cast<size_t>(n));
    return n;
  }

 private:
  absl::Mutex mu_;
  std::string text_;
};

// Sessions end by themselves, as their drivers unplug after 300 ms.
class RequestWalkTest : public ::testing::Test {
 protected:
  virtual InProcessNetworkOptions Options() { return {}; }

  void SetUp() override {
    absl::StatusOr<std::unique_ptr<InProcessNetwork>> net = InProcessNetwork::Start(Options());
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

// Sessions run until the test ends them (an operator's stop, a fault, the
// driver unplugging), so that what it does mid-session never races the
// session's own end.
class MidSessionTest : public RequestWalkTest {
 protected:
  InProcessNetworkOptions Options() override {
    InProcessNetworkOptions options;
    options.session_duration = absl::Minutes(10);
    return options;
  }

  // The driver at `cp_id` unplugs once central shows the session supplying.
  void Unplug(const std::string& cp_id) {
    ASSERT_TRUE(net_->WaitForStatus(cp_id, v1::CP_STATUS_SUPPLYING, kWait));
    ASSERT_TRUE(net_->Simulate(cp_id, v1::SIMULATE_ACTION_UNPLUG).ok());
  }
};

TEST_F(MidSessionTest, AnAcceptedRequestIsSuppliedAndTicketedOnceAtItsCpsPrice) {
  absl::StatusOr<std::string> id = net_->RequestCharge("driver-alice", "CP-001");
  ASSERT_TRUE(id.ok()) << id.status();
  ASSERT_NO_FATAL_FAILURE(Unplug("CP-001"));  // once SUPPLYING
  std::vector<v1::DriverUpdate> accepted = Updates("driver-alice", v1::UPDATE_KIND_ACCEPTED);
  ASSERT_EQ(accepted.size(), 1u);
  EXPECT_EQ(accepted[0].request_id(), *id);
  EXPECT_EQ(accepted[0].cp_id(), "CP-001");
  std::vector<v1::DriverUpdate> ended = Updates("driver-alice", v1::UPDATE_KIND_ENDED);
  ASSERT_EQ(ended.size(), 1u);
  const v1::SessionResult& ticket = ended[0].ticket();
  EXPECT_EQ(ticket.session_id(), accepted[0].session_id());
  EXPECT_EQ(ticket.cp_id(), "CP-001");
  EXPECT_EQ(ticket.end_reason(), v1::SESSION_END_REASON_UNPLUGGED);
  EXPECT_GT(ticket.energy_kwh(), 0);
  ExpectTicketAgreesWithMeter(ticket, 1000, 0.30);
  EXPECT_TRUE(net_->WaitForStatus("CP-001", v1::CP_STATUS_ACTIVE, kWait));
  // Once: no second ticket comes.
  EXPECT_EQ(net_->updates().WaitFor("driver-alice", v1::UPDATE_KIND_ENDED, 2,
                                    absl::Milliseconds(300)).size(), 1u);
}

// The driver program itself, through a file of requests: good, unknown and
// stopped CPs each get the right outcome, and the file runs to its end.
TEST_F(RequestWalkTest, EveryRequestOfADriversFileGetsTheRightOutcome) {
  ASSERT_TRUE(net_->StopCp("CP-002").ok());
  ASSERT_EQ(net_->Status("CP-002"), v1::CP_STATUS_STOPPED);
  DriverOptions options;
  options.driver_id = "driver-alice";
  options.kafka_bootstrap = net_->bootstrap();
  options.state_dir = MakeTempDir("driver-alice");
  options.pause_between_requests = absl::Milliseconds(50);
  options.outcome_timeout = kWait;
  std::ostringstream shown;
  absl::StatusOr<std::unique_ptr<Driver>> driver = Driver::Start(options, shown);
  ASSERT_TRUE(driver.ok()) << driver.status();
  ASSERT_TRUE((*driver)->RunFile({"CP-001", "CP-404", "CP-002", "CP-001"}).ok());
  driver->reset();

  // The driver has shown the last ticket; the test's own reader of the
  // updates may not have read it yet. It is the last of the four, and the
  // driver's updates come in order.
  ASSERT_EQ(Updates("driver-alice", v1::UPDATE_KIND_ENDED, 2).size(), 2u) << shown.str();
  std::vector<v1::DriverUpdate> outcomes;
  for (const v1::DriverUpdate& u : net_->updates().For("driver-alice")) {
    if (u.kind() == v1::UPDATE_KIND_ENDED || u.kind() == v1::UPDATE_KIND_REJECTED) {
      outcomes.push_back(u);
    }
  }
  ASSERT_EQ(outcomes.size(), 4u) << shown.str();
  EXPECT_EQ(outcomes[0].kind(), v1::UPDATE_KIND_ENDED);
  EXPECT_EQ(outcomes[0].cp_id(), "CP-001");
  EXPECT_EQ(outcomes[1].kind(), v1::UPDATE_KIND_REJECTED);
  EXPECT_EQ(outcomes[1].rejection_reason(), "CP-404 is not a known charging point");
  EXPECT_EQ(outcomes[2].kind(), v1::UPDATE_KIND_REJECTED);
  EXPECT_THAT(outcomes[2].rejection_reason(), HasSubstr("CP-002 is out of order (STOPPED)"));
  EXPECT_EQ(outcomes[3].kind(), v1::UPDATE_KIND_ENDED);
  EXPECT_NE(outcomes[3].session_id(), outcomes[0].session_id());
  for (const v1::DriverUpdate& ended : {outcomes[0], outcomes[3]}) {
    EXPECT_EQ(ended.ticket().end_reason(), v1::SESSION_END_REASON_UNPLUGGED);
    EXPECT_EQ(FromProto(ended.ticket().ended_at()) - FromProto(ended.ticket().started_at()),
              InProcessNetworkOptions().session_duration);
    ExpectTicketAgreesWithMeter(ended.ticket(), 1000, 0.30);
  }
  // What the person saw.
  EXPECT_THAT(shown.str(), HasSubstr("Ticket: CP-001"));
  EXPECT_THAT(shown.str(), HasSubstr("Done: 4 requests"));
  // Central's ledger has both sessions, ended, with the same tickets. Central
  // marks a session ended when its ticket's transaction commits, which the
  // driver may read a moment before central hears the commit back.
  std::vector<v1::Session> sessions;
  EXPECT_TRUE(WaitFor(
      [&] {
        sessions = net_->Sessions();
        return sessions.size() == 2u &&
               sessions[0].state() == v1::SESSION_STATE_ENDED &&
               sessions[1].state() == v1::SESSION_STATE_ENDED;
      },
      kWait, absl::Milliseconds(20)));
  ASSERT_EQ(sessions.size(), 2u);
  for (const v1::Session& session : sessions) {
    EXPECT_EQ(session.state(), v1::SESSION_STATE_ENDED);
    EXPECT_EQ(session.driver_id(), "driver-alice");
    EXPECT_GT(session.ticket().energy_kwh(), 0);
  }
}

TEST_F(MidSessionTest, AnOperatorStopEndsTheRunningSessionWithATicketAndResumeReactivates) {
  ASSERT_TRUE(net_->RequestCharge("driver-bob", "CP-002").ok());
  ASSERT_TRUE(net_->WaitForStatus("CP-002", v1::CP_STATUS_SUPPLYING, kWait));
  ASSERT_TRUE(net_->StopCp("CP-002").ok());
  std::vector<v1::DriverUpdate> ended = Updates("driver-bob", v1::UPDATE_KIND_ENDED);
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].ticket().end_reason(), v1::SESSION_END_REASON_STOPPED_BY_OPERATOR);
  EXPECT_GT(ended[0].ticket().energy_kwh(), 0);
  ExpectTicketAgreesWithMeter(ended[0].ticket(), 1000, 0.30);
  EXPECT_TRUE(net_->WaitForStatus("CP-002", v1::CP_STATUS_STOPPED, kWait));
  EXPECT_EQ(net_->Status("CP-001"), v1::CP_STATUS_ACTIVE);  // the other never noticed
  // Stopped, it refuses; resumed, it serves again.
  ASSERT_TRUE(net_->RequestCharge("driver-bob", "CP-002").ok());
  std::vector<v1::DriverUpdate> refused = Updates("driver-bob", v1::UPDATE_KIND_REJECTED);
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_THAT(refused[0].rejection_reason(), HasSubstr("STOPPED"));
  ASSERT_TRUE(net_->ResumeCp("CP-002").ok());
  EXPECT_TRUE(net_->WaitForStatus("CP-002", v1::CP_STATUS_ACTIVE, kWait));
  ASSERT_TRUE(net_->RequestCharge("driver-bob", "CP-002").ok());
  ASSERT_NO_FATAL_FAILURE(Unplug("CP-002"));
  EXPECT_EQ(Updates("driver-bob", v1::UPDATE_KIND_ENDED, 2).size(), 2u);
}

TEST_F(MidSessionTest, AnEngineFaultMidSessionBillsWhatWasSuppliedAndBreaksTheCp) {
  ASSERT_TRUE(net_->RequestCharge("driver-carol", "CP-001").ok());
  ASSERT_TRUE(net_->WaitForStatus("CP-001", v1::CP_STATUS_SUPPLYING, kWait));
  ASSERT_TRUE(net_->Simulate("CP-001", v1::SIMULATE_ACTION_FAULT).ok());
  EXPECT_TRUE(net_->WaitForStatus("CP-001", v1::CP_STATUS_BROKEN, kWait));
  std::vector<v1::DriverUpdate> ended = Updates("driver-carol", v1::UPDATE_KIND_ENDED);
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].ticket().end_reason(), v1::SESSION_END_REASON_ENGINE_FAILURE);
  // Broken, it refuses; repaired, it is ACTIVE again.
  ASSERT_TRUE(net_->RequestCharge("driver-carol", "CP-001").ok());
  std::vector<v1::DriverUpdate> refused = Updates("driver-carol", v1::UPDATE_KIND_REJECTED);
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_THAT(refused[0].rejection_reason(), HasSubstr("BROKEN"));
  ASSERT_TRUE(net_->Simulate("CP-001", v1::SIMULATE_ACTION_RECOVER).ok());
  EXPECT_TRUE(net_->WaitForStatus("CP-001", v1::CP_STATUS_ACTIVE, kWait));
}

TEST_F(MidSessionTest, AnEngineStoppedMidSessionBillsItsJournalWhenItIsBack) {
  ASSERT_TRUE(net_->RequestCharge("driver-dan", "CP-001").ok());
  ASSERT_TRUE(net_->WaitForStatus("CP-001", v1::CP_STATUS_SUPPLYING, kWait));
  ASSERT_TRUE(net_->StopEngine("CP-001").ok());
  EXPECT_TRUE(net_->WaitForStatus("CP-001", v1::CP_STATUS_BROKEN, kWait));
  ASSERT_TRUE(net_->StartEngine("CP-001").ok());
  std::vector<v1::DriverUpdate> ended = Updates("driver-dan", v1::UPDATE_KIND_ENDED);
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].ticket().end_reason(), v1::SESSION_END_REASON_ENGINE_FAILURE);
  EXPECT_TRUE(net_->WaitForStatus("CP-001", v1::CP_STATUS_ACTIVE, kWait));
}

// Progress goes out on central's plain producer, the ticket in a
// transaction: a progress that reaches the driver after its ticket is not
// shown.
TEST_F(RequestWalkTest, TheDriverShowsNoProgressAfterItsTicket) {
  DriverOptions options;
  options.driver_id = "driver-ivy";
  options.kafka_bootstrap = net_->bootstrap();
  options.state_dir = MakeTempDir("driver-ivy");
  SharedOutput output;  // read here while the driver writes it
  std::ostream shown(&output);
  absl::StatusOr<std::unique_ptr<Driver>> driver = Driver::Start(options, shown);
  ASSERT_TRUE(driver.ok()) << driver.status();

  KafkaProducerOptions kafka;
  kafka.bootstrap_servers = net_->bootstrap();
  absl::StatusOr<std::unique_ptr<KafkaProducer>> producer = KafkaProducer::Create(kafka);
  ASSERT_TRUE(producer.ok()) << producer.status();
  auto update = [](const std::string& id, const std::string& request, v1::UpdateKind kind) {
    v1::DriverUpdate u;
    u.set_update_id(id);
    u.set_request_id(request);
    u.set_driver_id("driver-ivy");
    u.set_cp_id("CP-001");
    u.set_kind(kind);
    return u;
  };
  v1::DriverUpdate before = update("p-1", "r-1", v1::UPDATE_KIND_PROGRESS);
  before.mutable_progress()->set_energy_kwh(0.111);
  v1::DriverUpdate ended = update("e-1", "r-1", v1::UPDATE_KIND_ENDED);
  ended.mutable_ticket()->set_energy_kwh(0.2);
  v1::DriverUpdate late = update("p-2", "r-1", v1::UPDATE_KIND_PROGRESS);
  late.mutable_progress()->set_energy_kwh(0.199);
  v1::DriverUpdate next = update("x-2", "r-2", v1::UPDATE_KIND_REJECTED);
  next.set_rejection_reason("the last update of this test");
  for (const v1::DriverUpdate& u : {before, ended, late, next}) {
    ASSERT_TRUE((*producer)
                    ->ProduceAndWait(kDriverUpdatesTopic, "driver-ivy", ToJson(u), kWait)
                    .ok());
  }
  EXPECT_TRUE(WaitFor([&] { return absl::StrContains(output.Text(), "the last update"); }, kWait));
  driver->reset();
  EXPECT_THAT(output.Text(), HasSubstr("0.111 kWh"));
  EXPECT_THAT(output.Text(), HasSubstr("Ticket"));
  EXPECT_THAT(output.Text(), ::testing::Not(HasSubstr("0.199 kWh")));
}

TEST_F(RequestWalkTest, AMonitorGoneDisconnectsItsCpAndBackReconnectsIt) {
  ASSERT_TRUE(net_->StopMonitor("CP-002").ok());
  EXPECT_TRUE(net_->WaitForStatus("CP-002", v1::CP_STATUS_DISCONNECTED, kWait));
  ASSERT_TRUE(net_->RequestCharge("driver-erin", "CP-002").ok());
  std::vector<v1::DriverUpdate> refused = Updates("driver-erin", v1::UPDATE_KIND_REJECTED);
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_THAT(refused[0].rejection_reason(), HasSubstr("CP-002 is DISCONNECTED"));
  ASSERT_TRUE(net_->StartMonitor("CP-002").ok());
  EXPECT_TRUE(net_->WaitForStatus("CP-002", v1::CP_STATUS_ACTIVE, kWait));
  ASSERT_TRUE(net_->RequestCharge("driver-erin", "CP-002").ok());
  EXPECT_EQ(Updates("driver-erin", v1::UPDATE_KIND_ENDED).size(), 1u);
}

TEST_F(RequestWalkTest, ARequestSentTwiceIsServedOnce) {
  absl::StatusOr<std::string> id = net_->RequestCharge("driver-fay", "CP-001");
  ASSERT_TRUE(id.ok()) << id.status();
  ASSERT_TRUE(net_->RequestCharge("driver-fay", "CP-001", *id).ok());
  ASSERT_EQ(Updates("driver-fay", v1::UPDATE_KIND_ENDED).size(), 1u);
  // A third copy after the ticket: still the one outcome.
  ASSERT_TRUE(net_->RequestCharge("driver-fay", "CP-001", *id).ok());
  ASSERT_TRUE(net_->RequestCharge("driver-fay", "CP-002").ok());
  ASSERT_EQ(Updates("driver-fay", v1::UPDATE_KIND_ENDED, 2).size(), 2u);
  size_t accepted = 0;
  for (const v1::DriverUpdate& u : net_->updates().For("driver-fay")) {
    if (u.request_id() == *id && u.kind() == v1::UPDATE_KIND_ACCEPTED) ++accepted;
  }
  EXPECT_EQ(accepted, 1u);
}

// Central's books, asked while its sink writes them: each ticket once,
// paged with tokens bound to their filter, and totals that add up.
TEST_F(RequestWalkTest, TheBooksHoldEachTicketOnceAndPageWithinTheirFilter) {
  ASSERT_TRUE(net_->RequestCharge("driver-gus", "CP-001").ok());
  ASSERT_EQ(Updates("driver-gus", v1::UPDATE_KIND_ENDED).size(), 1u);
  ASSERT_TRUE(net_->RequestCharge("driver-gus", "CP-002").ok());
  ASSERT_TRUE(net_->RequestCharge("driver-hal", "CP-001").ok());
  std::vector<v1::DriverUpdate> gus = Updates("driver-gus", v1::UPDATE_KIND_ENDED, 2);
  ASSERT_EQ(gus.size(), 2u);
  ASSERT_EQ(Updates("driver-hal", v1::UPDATE_KIND_ENDED).size(), 1u);

  auto list = [&](const v1::ListTicketsRequest& request, v1::ListTicketsResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    return net_->books().ListTickets(&context, request, response);
  };
  v1::ListTicketsResponse all;
  ASSERT_TRUE(WaitFor([&] {
    all.Clear();
    return list(v1::ListTicketsRequest(), &all).ok() && all.tickets_size() >= 3;
  }, kWait)) << all.ShortDebugString();
  EXPECT_EQ(all.tickets_size(), 3);

  // gus's two, one a page.
  v1::ListTicketsRequest hers;
  hers.set_driver_id("driver-gus");
  hers.set_page_size(1);
  v1::ListTicketsResponse first, second;
  ASSERT_TRUE(list(hers, &first).ok());
  ASSERT_EQ(first.tickets_size(), 1);
  ASSERT_FALSE(first.next_page_token().empty());
  hers.set_page_token(first.next_page_token());
  ASSERT_TRUE(list(hers, &second).ok());
  ASSERT_EQ(second.tickets_size(), 1);
  EXPECT_TRUE(second.next_page_token().empty());
  EXPECT_NE(first.tickets(0).session_id(), second.tickets(0).session_id());
  int64_t cents = 0;
  for (const v1::DriverUpdate& t : gus) {
    cents += t.ticket().amount_cents();
    EXPECT_TRUE(t.session_id() == first.tickets(0).session_id() ||
                t.session_id() == second.tickets(0).session_id());
  }
  // A token is good only with the filter it came with.
  v1::ListTicketsRequest other = hers;
  other.set_driver_id("driver-hal");
  v1::ListTicketsResponse refused;
  EXPECT_EQ(list(other, &refused).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  other.set_page_token("not a token");
  EXPECT_EQ(list(other, &refused).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  other.set_page_token("");
  other.set_page_size(-1);
  EXPECT_EQ(list(other, &refused).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // gus's total for the month is his two tickets, to the cent.
  grpc::ClientContext context;
  v1::SummarizeTicketsRequest per_month;
  per_month.set_group_by(v1::SummarizeTicketsRequest::GROUP_DRIVER);
  per_month.set_period(v1::SummarizeTicketsRequest::PERIOD_MONTH);
  v1::SummarizeTicketsResponse totals;
  ASSERT_TRUE(net_->books().SummarizeTickets(&context, per_month, &totals).ok());
  bool found = false;
  for (const v1::TicketTotal& total : totals.totals()) {
    if (total.key() != "driver-gus") continue;
    found = true;
    EXPECT_EQ(total.sessions(), 2);
    EXPECT_EQ(total.amount_cents(), cents);
  }
  EXPECT_TRUE(found) << totals.ShortDebugString();
}

}  // namespace
}  // namespace evnet::test
