#include "central/coordinator.h"

#include <cmath>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace evnet {
namespace {

using ::testing::HasSubstr;

// Answers every command at once with `status`, or, with `hold`, keeps the
// command's precondition and completion for the test to run later (a CP
// that has not answered yet).
class FakeSender : public CommandSender {
 public:
  void SendCommand(const std::string& cp_id, v1::CentralCommand command, absl::Duration,
                   std::function<absl::Status()> precondition, Done done) override {
    if (hold) {
      held.push_back({cp_id, command, std::move(precondition), std::move(done)});
      return;
    }
    if (absl::Status ok = precondition(); !ok.ok()) return done(ok);
    sent.push_back({cp_id, command});
    done(status);
  }
  // Queues the held command (if its precondition holds) and answers it.
  void Answer(size_t i, absl::Status answer) {
    Held& h = held[i];
    if (absl::Status ok = h.precondition(); !ok.ok()) return h.done(ok);
    sent.push_back({h.cp_id, h.command});
    h.done(answer);
  }
  struct Held {
    std::string cp_id;
    v1::CentralCommand command;
    std::function<absl::Status()> precondition;
    Done done;
  };
  std::vector<std::pair<std::string, v1::CentralCommand>> sent;
  std::vector<Held> held;
  absl::Status status;
  bool hold = false;
};

class FakePublisher : public UpdatePublisher {
 public:
  void Publish(const v1::DriverUpdate& update, Done done) override {
    if (status.ok()) updates.push_back(update);
    done(status);
  }
  std::vector<v1::UpdateKind> kinds() const {
    std::vector<v1::UpdateKind> out;
    for (const auto& u : updates) out.push_back(u.kind());
    return out;
  }
  std::vector<v1::DriverUpdate> updates;
  absl::Status status;
};

class CoordinatorTest : public ::testing::Test {
 protected:
  CoordinatorTest()
      : registry_(clock_, absl::Seconds(3)),
        coordinator_(Options(), clock_, registry_, sender_, publisher_, metrics_) {
    registry_.FinishRestore();
    AddCp("CP-001", true, v1::ENGINE_STATE_IDLE);
    AddCp("CP-002", true, v1::ENGINE_STATE_IDLE);
    AddCp("CP-003", false, v1::ENGINE_STATE_FAULT);
  }

  CoordinatorOptions Options() {
    CoordinatorOptions options;
    options.audit = &audit_;
    options.request_ttl = absl::Seconds(60);
    options.progress_interval = absl::Seconds(2);
    options.keep_ended = 5;
    return options;
  }

  void AddCp(const std::string& id, bool ok, v1::EngineState state) {
    v1::ChargingPointInfo info;
    info.set_cp_id(id);
    (void)registry_.Register(info);
    v1::HealthReport report;
    report.set_engine_ok(ok);
    report.set_engine_state(state);
    registry_.Report(id, report);
    registry_.Sweep();
  }

  v1::DriverRequest Request(const std::string& id, const std::string& cp,
                            const std::string& driver = "driver-alice") {
    v1::DriverRequest request;
    request.set_request_id(id);
    request.set_driver_id(driver);
    request.set_cp_id(cp);
    *request.mutable_requested_at() = ToProto(clock_.Now());
    return request;
  }

  // Handles a request whose outcome is known at once; the outcome.
  absl::Status Handle(const v1::DriverRequest& request, const KafkaMessage& message) {
    std::optional<absl::Status> outcome;
    coordinator_.HandleRequest(request, message, [&](absl::Status s) { outcome = s; });
    EXPECT_TRUE(outcome.has_value()) << "the request was left waiting";
    return outcome.value_or(absl::InternalError("waiting"));
  }
  absl::Status Handle(const v1::SessionResult& result) {
    std::optional<absl::Status> outcome;
    coordinator_.HandleResult(result, [&](absl::Status s) { outcome = s; });
    EXPECT_TRUE(outcome.has_value()) << "the result was left waiting";
    return outcome.value_or(absl::InternalError("waiting"));
  }

  // A request's message, keyed by its driver.
  KafkaMessage Message(int64_t offset = 7, const std::string& driver = "driver-alice") {
    KafkaMessage message;
    message.topic = "evnet.driver.requests";
    message.offset = offset;
    message.key = driver;
    message.timestamp = clock_.Now();
    return message;
  }

  v1::SessionResult Result(const std::string& session, const std::string& request) {
    v1::SessionResult result;
    result.set_session_id(session);
    result.set_request_id(request);
    result.set_cp_id("CP-001");
    result.set_driver_id("driver-alice");
    result.set_energy_kwh(0.5);
    result.set_price_eur_per_kwh(0.30);
    result.set_amount_eur(0.15);
    result.set_end_reason(v1::SESSION_END_REASON_UNPLUGGED);
    return result;
  }

  FakeClock clock_;
  Metrics metrics_;
  Registry registry_;
  FakeSender sender_;
  FakePublisher publisher_;
  MemoryAuditLog audit_;
  SessionCoordinator coordinator_;
};

TEST_F(CoordinatorTest, AcceptsARequestForAnActiveCpAndStartsTheSupply) {
  ASSERT_TRUE(Handle(Request("r-1", "CP-001"), Message()).ok());
  ASSERT_EQ(sender_.sent.size(), 1u);
  EXPECT_EQ(sender_.sent[0].first, "CP-001");
  const v1::StartSupplyRequest& start = sender_.sent[0].second.start_supply();
  EXPECT_EQ(start.session_id(), "s-r-1");
  EXPECT_EQ(start.driver_id(), "driver-alice");
  EXPECT_EQ(publisher_.kinds(), (std::vector<v1::UpdateKind>{v1::UPDATE_KIND_ACCEPTED,
                                                              v1::UPDATE_KIND_SUPPLY_STARTED}));
  EXPECT_EQ(publisher_.updates[0].session_id(), "s-r-1");
  EXPECT_EQ(publisher_.updates[0].driver_id(), "driver-alice");

  auto sessions = coordinator_.Sessions({});
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0].state(), v1::SESSION_STATE_SUPPLYING);
}

TEST_F(CoordinatorTest, RejectsUnknownAndUnavailableCpsWithReadableReasons) {
  ASSERT_TRUE(Handle(Request("r-1", "CP-404"), Message()).ok());
  ASSERT_TRUE(Handle(Request("r-2", "CP-003"), Message()).ok());
  ASSERT_TRUE(registry_.SetStopped("CP-002", true).ok());
  registry_.Sweep();
  ASSERT_TRUE(Handle(Request("r-3", "CP-002"), Message()).ok());
  ASSERT_TRUE(Handle(Request("r-4", ""), Message()).ok());

  ASSERT_EQ(publisher_.updates.size(), 4u);
  for (const auto& u : publisher_.updates) EXPECT_EQ(u.kind(), v1::UPDATE_KIND_REJECTED);
  EXPECT_EQ(publisher_.updates[0].rejection_reason(), "CP-404 is not a known charging point");
  EXPECT_EQ(publisher_.updates[1].rejection_reason(), "CP-003 is BROKEN");
  EXPECT_EQ(publisher_.updates[2].rejection_reason(), "CP-002 is out of order (STOPPED)");
  EXPECT_THAT(publisher_.updates[3].rejection_reason(), HasSubstr("names no charging point"));
  EXPECT_TRUE(sender_.sent.empty());
}

TEST_F(CoordinatorTest, RejectsRequestsThatWaitedLongerThanTheTtl) {
  v1::DriverRequest old = Request("r-1", "CP-001");
  clock_.Advance(absl::Seconds(61));
  AddCp("CP-001", true, v1::ENGINE_STATE_IDLE);  // still reporting
  ASSERT_TRUE(Handle(old, Message()).ok());
  ASSERT_EQ(publisher_.updates.size(), 1u);
  EXPECT_EQ(publisher_.updates[0].kind(), v1::UPDATE_KIND_REJECTED);
  EXPECT_THAT(publisher_.updates[0].rejection_reason(), HasSubstr("expired"));
  EXPECT_TRUE(sender_.sent.empty());
}

TEST_F(CoordinatorTest, ADuplicateRequestIdIsServedOnce) {
  ASSERT_TRUE(Handle(Request("r-1", "CP-001"), Message()).ok());
  ASSERT_TRUE(Handle(Request("r-1", "CP-001"), Message()).ok());
  EXPECT_EQ(sender_.sent.size(), 1u);
  EXPECT_EQ(publisher_.updates.size(), 2u);
}

TEST_F(CoordinatorTest, AHandWrittenRequestGetsAnIdStableAcrossRedelivery) {
  v1::DriverRequest bare;
  bare.set_cp_id("CP-001");  // no request id, no driver id: the key names the driver
  ASSERT_TRUE(Handle(bare, Message(42)).ok());
  ASSERT_TRUE(Handle(bare, Message(42)).ok());
  ASSERT_EQ(sender_.sent.size(), 1u);
  EXPECT_EQ(sender_.sent[0].second.start_supply().driver_id(), "driver-alice");
  EXPECT_EQ(publisher_.updates[0].request_id(), "req-0-42");
}

TEST_F(CoordinatorTest, AFailedPublishIsRetriedWithoutStartingTwice) {
  publisher_.status = absl::UnavailableError("Kafka is away");
  EXPECT_FALSE(Handle(Request("r-1", "CP-001"), Message()).ok());
  publisher_.status = absl::OkStatus();
  ASSERT_TRUE(Handle(Request("r-1", "CP-001"), Message()).ok());
  EXPECT_EQ(sender_.sent.size(), 1u);
  EXPECT_EQ(publisher_.kinds(), (std::vector<v1::UpdateKind>{v1::UPDATE_KIND_ACCEPTED,
                                                              v1::UPDATE_KIND_SUPPLY_STARTED}));
}

TEST_F(CoordinatorTest, ARequestWhoseSessionTheCpAlreadyRunsIsAccepted) {
  // Central started s-r-1, then died before publishing; after its restart
  // the request comes again and the CP reports supplying that session.
  v1::HealthReport report;
  report.set_engine_ok(true);
  report.set_engine_state(v1::ENGINE_STATE_SUPPLYING);
  report.mutable_supply()->set_session_id("s-r-1");
  registry_.Report("CP-001", report);
  ASSERT_TRUE(Handle(Request("r-1", "CP-001"), Message()).ok());
  EXPECT_TRUE(sender_.sent.empty());
  ASSERT_FALSE(publisher_.updates.empty());
  EXPECT_EQ(publisher_.updates[0].kind(), v1::UPDATE_KIND_ACCEPTED);
  EXPECT_EQ(publisher_.updates[0].session_id(), "s-r-1");
}

TEST_F(CoordinatorTest, AStartTheEngineRefusesBecomesARejection) {
  sender_.status = absl::FailedPreconditionError("CP-001 is in fault");
  ASSERT_TRUE(Handle(Request("r-1", "CP-001"), Message()).ok());
  ASSERT_EQ(publisher_.updates.size(), 1u);
  EXPECT_EQ(publisher_.updates[0].kind(), v1::UPDATE_KIND_REJECTED);
  EXPECT_THAT(publisher_.updates[0].rejection_reason(), HasSubstr("could not start"));
  EXPECT_TRUE(coordinator_.Sessions({}).empty());
}

TEST_F(CoordinatorTest, OneSessionPerDriverAndPerCp) {
  ASSERT_TRUE(Handle(Request("r-1", "CP-001"), Message()).ok());
  ASSERT_TRUE(Handle(Request("r-2", "CP-002"), Message()).ok());
  ASSERT_TRUE(
      Handle(Request("r-3", "CP-001", "driver-bob"), Message(7, "driver-bob")).ok());
  ASSERT_EQ(publisher_.updates.size(), 4u);
  EXPECT_THAT(publisher_.updates[2].rejection_reason(), HasSubstr("already has a session at CP-001"));
  EXPECT_THAT(publisher_.updates[3].rejection_reason(), HasSubstr("CP-001 is busy"));
}

TEST_F(CoordinatorTest, EachResultIsTicketedOnce) {
  ASSERT_TRUE(Handle(Request("r-1", "CP-001"), Message()).ok());
  publisher_.updates.clear();
  ASSERT_TRUE(Handle(Result("s-r-1", "r-1")).ok());
  ASSERT_TRUE(Handle(Result("s-r-1", "r-1")).ok());
  ASSERT_EQ(publisher_.updates.size(), 1u);
  EXPECT_EQ(publisher_.updates[0].kind(), v1::UPDATE_KIND_ENDED);
  EXPECT_DOUBLE_EQ(publisher_.updates[0].ticket().energy_kwh(), 0.5);
  EXPECT_EQ(publisher_.updates[0].update_id(), "r-1/ended");
  auto sessions = coordinator_.Sessions({});
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0].state(), v1::SESSION_STATE_ENDED);
  // The CP is free again for the next driver.
  ASSERT_TRUE(Handle(Request("r-2", "CP-001"), Message()).ok());
  EXPECT_EQ(sender_.sent.size(), 2u);
}

// Read from the code before: a result for a session central never started,
// with energy NaN and a negative amount, was ticketed to the driver it named.
TEST_F(CoordinatorTest, AForgedOrNonsensicalResultIsRefusedWithAReasonAndNeverTicketed) {
  v1::SessionResult forged = Result("s-never", "r-never");
  absl::Status refused = Handle(forged);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refused.message()), HasSubstr("no open session s-never"));

  ASSERT_TRUE(Handle(Request("r-1", "CP-001"), Message()).ok());
  publisher_.updates.clear();
  v1::SessionResult nan = Result("s-r-1", "r-1");
  nan.set_energy_kwh(std::nan(""));
  nan.set_amount_eur(-5);
  refused = Handle(nan);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refused.message()), HasSubstr("energy_kwh is NaN"));
  v1::SessionResult other_driver = Result("s-r-1", "r-1");
  other_driver.set_driver_id("driver-mallory");
  refused = Handle(other_driver);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refused.message()), HasSubstr("is driver-alice's at CP-001"));
  EXPECT_TRUE(publisher_.updates.empty());
  // The real result still gets its ticket.
  ASSERT_TRUE(Handle(Result("s-r-1", "r-1")).ok());
  ASSERT_EQ(publisher_.updates.size(), 1u);
  EXPECT_EQ(publisher_.updates[0].kind(), v1::UPDATE_KIND_ENDED);
}

// Property: results that are well-formed JSON but wrong in any way (another
// session, CP or driver; NaN, infinite, negative or huge figures; an amount
// that is not the energy at the price; times out of order) never produce a
// ticket, and are each refused with a reason. A fixed seed keeps it
// repeatable.
TEST_F(CoordinatorTest, RandomWrongResultsNeverProduceATicket) {
  ASSERT_TRUE(Handle(Request("r-1", "CP-001"), Message()).ok());
  publisher_.updates.clear();
  std::mt19937 random(20261127);
  const std::vector<double> figures = {std::nan(""), std::numeric_limits<double>::infinity(),
                                       -1, -0.01, 1e9, 5000};
  const std::vector<std::string> ids = {"s-r-2", "CP-002", "driver-bob", "", "x y",
                                        std::string(80, 'a')};
  for (int i = 0; i < 2000; ++i) {
    v1::SessionResult wrong = Result("s-r-1", "r-1");
    switch (random() % 7) {
      case 0: wrong.set_session_id(ids[random() % ids.size()]); break;
      case 1: wrong.set_cp_id(ids[random() % ids.size()]); break;
      case 2: wrong.set_driver_id(ids[random() % ids.size()]); break;
      case 3: wrong.set_energy_kwh(figures[random() % figures.size()]); break;
      case 4: wrong.set_amount_eur(figures[random() % figures.size()]); break;
      case 5: wrong.set_price_eur_per_kwh(figures[random() % figures.size()]); break;
      default:
        wrong.mutable_started_at()->set_seconds(2000000000);
        wrong.mutable_ended_at()->set_seconds(1000000000);
    }
    const absl::Status outcome = Handle(wrong);
    EXPECT_EQ(outcome.code(), absl::StatusCode::kInvalidArgument)
        << i << ": " << wrong.ShortDebugString();
    EXPECT_FALSE(outcome.message().empty());
  }
  EXPECT_TRUE(publisher_.updates.empty());
  ASSERT_TRUE(Handle(Result("s-r-1", "r-1")).ok());  // the true one still counts
  EXPECT_EQ(publisher_.updates.size(), 1u);
}

TEST_F(CoordinatorTest, AnInvalidRequestIsAnsweredAndOneWithoutADriverIsSetAside) {
  v1::DriverRequest bad = Request("r-1", "CP 001; DROP TABLE");
  ASSERT_TRUE(Handle(bad, Message()).ok());
  ASSERT_EQ(publisher_.updates.size(), 1u);
  EXPECT_EQ(publisher_.updates[0].kind(), v1::UPDATE_KIND_REJECTED);
  EXPECT_THAT(publisher_.updates[0].rejection_reason(), HasSubstr("invalid request: cp_id"));
  v1::DriverRequest nobody = Request("r-2", "CP-001", "");
  KafkaMessage message = Message();
  message.key = "\x01\x02";
  EXPECT_EQ(Handle(nobody, message).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(sender_.sent.empty());
  // The invalid one is on the audit log, with who sent it and from where.
  std::vector<v1::AuditRecord> audit = audit_.records();
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].action(), "request");
  EXPECT_EQ(audit[0].actor(), "driver-alice");
  EXPECT_EQ(audit[0].source(), "evnet.driver.requests/0@7");
  EXPECT_EQ(audit[0].result(), "refused");
  EXPECT_THAT(audit[0].reason(), HasSubstr("cp_id"));
}

TEST_F(CoordinatorTest, ARequestInAnotherDriversNameIsSetAside) {
  const absl::Status refused = Handle(Request("r-1", "CP-001", "driver-bob"), Message());
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refused.message()), HasSubstr("key of another driver"));
  EXPECT_TRUE(publisher_.updates.empty());
  EXPECT_TRUE(sender_.sent.empty());
}

TEST_F(CoordinatorTest, TelemetryFromAnotherCpThanTheSessionsIsRefused) {
  ASSERT_TRUE(Handle(Request("r-1", "CP-001"), Message()).ok());
  v1::SupplyTelemetry telemetry;
  telemetry.set_cp_id("CP-002");
  telemetry.mutable_supply()->set_session_id("s-r-1");
  telemetry.mutable_supply()->set_energy_kwh(1);
  *telemetry.mutable_measured_at() = ToProto(clock_.Now());
  absl::Status refused = coordinator_.HandleTelemetry(telemetry);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refused.message()), HasSubstr("runs at CP-001, not at CP-002"));
  telemetry.set_cp_id("CP-001");
  EXPECT_TRUE(coordinator_.HandleTelemetry(telemetry).ok());
}

TEST_F(CoordinatorTest, RebuildsFromItsLedgerAndServesNothingTwice) {
  v1::DriverUpdate accepted;
  accepted.set_kind(v1::UPDATE_KIND_ACCEPTED);
  accepted.set_request_id("r-1");
  accepted.set_session_id("s-r-1");
  accepted.set_driver_id("driver-alice");
  accepted.set_cp_id("CP-001");
  *accepted.mutable_sent_at() = ToProto(clock_.Now());
  coordinator_.RestoreUpdate(accepted);
  v1::DriverUpdate ended = accepted;
  ended.set_kind(v1::UPDATE_KIND_ENDED);
  ended.set_request_id("r-0");
  ended.set_session_id("s-r-0");
  *ended.mutable_ticket() = Result("s-r-0", "r-0");
  coordinator_.RestoreUpdate(ended);
  coordinator_.FinishRestore();

  // The request that was accepted before the restart is not served again,
  // and the result ticketed before is not ticketed again.
  ASSERT_TRUE(Handle(Request("r-1", "CP-001"), Message()).ok());
  ASSERT_TRUE(Handle(Result("s-r-0", "r-0")).ok());
  EXPECT_TRUE(sender_.sent.empty());
  EXPECT_TRUE(publisher_.updates.empty());
  EXPECT_EQ(coordinator_.RunningSessions(), 1);
  // The open session's result is ticketed once.
  ASSERT_TRUE(Handle(Result("s-r-1", "r-1")).ok());
  ASSERT_TRUE(Handle(Result("s-r-1", "r-1")).ok());
  ASSERT_EQ(publisher_.updates.size(), 1u);
  EXPECT_EQ(publisher_.updates[0].session_id(), "s-r-1");
}

TEST_F(CoordinatorTest, ASessionOlderThanTheLedgerIsLearntFromItsCp) {
  v1::HealthReport report;
  report.set_engine_ok(true);
  report.set_engine_state(v1::ENGINE_STATE_SUPPLYING);
  report.mutable_supply()->set_session_id("s-r-9");
  report.mutable_supply()->set_driver_id("driver-zed");
  registry_.Report("CP-001", report);
  coordinator_.AdoptRunning(registry_.Running());
  std::vector<v1::Session> sessions = coordinator_.Sessions({});
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0].cp_id(), "CP-001");
  EXPECT_EQ(sessions[0].driver_id(), "driver-zed");
  EXPECT_EQ(sessions[0].request_id(), "r-9");
  // The driver is busy there, and told when the CP breaks.
  ASSERT_TRUE(Handle(Request("r-10", "CP-002", "driver-zed"), Message(7, "driver-zed")).ok());
  ASSERT_EQ(publisher_.updates.size(), 1u);
  EXPECT_THAT(publisher_.updates[0].rejection_reason(), HasSubstr("already has a session at CP-001"));
  coordinator_.OnStatusChange({"CP-001", v1::CP_STATUS_SUPPLYING, v1::CP_STATUS_BROKEN});
  ASSERT_EQ(publisher_.updates.size(), 2u);
  EXPECT_EQ(publisher_.updates[1].kind(), v1::UPDATE_KIND_INTERRUPTED);
  // Adopting again changes nothing.
  coordinator_.AdoptRunning(registry_.Running());
  EXPECT_EQ(coordinator_.RunningSessions(), 1);
}

TEST_F(CoordinatorTest, TheDriverIsToldOnceWhenItsCpBreaks) {
  ASSERT_TRUE(Handle(Request("r-1", "CP-001"), Message()).ok());
  publisher_.updates.clear();
  coordinator_.OnStatusChange({"CP-001", v1::CP_STATUS_SUPPLYING, v1::CP_STATUS_BROKEN});
  coordinator_.OnStatusChange({"CP-001", v1::CP_STATUS_DISCONNECTED, v1::CP_STATUS_BROKEN});
  ASSERT_EQ(publisher_.updates.size(), 1u);
  EXPECT_EQ(publisher_.updates[0].kind(), v1::UPDATE_KIND_INTERRUPTED);
  EXPECT_EQ(publisher_.updates[0].driver_id(), "driver-alice");
  EXPECT_THAT(publisher_.updates[0].rejection_reason(), HasSubstr("ticket follows"));
}

TEST_F(CoordinatorTest, ProgressIsForwardedAtMostOncePerInterval) {
  ASSERT_TRUE(Handle(Request("r-1", "CP-001"), Message()).ok());
  publisher_.updates.clear();
  for (int i = 0; i < 6; ++i) {
    v1::SupplyTelemetry telemetry;
    telemetry.set_cp_id("CP-001");
    telemetry.mutable_supply()->set_session_id("s-r-1");
    telemetry.mutable_supply()->set_energy_kwh(0.01 * i);
    *telemetry.mutable_measured_at() = ToProto(clock_.Now());
    coordinator_.HandleTelemetry(telemetry);
    clock_.Advance(absl::Seconds(1));
  }
  ASSERT_EQ(publisher_.updates.size(), 3u);
  EXPECT_EQ(publisher_.updates[0].kind(), v1::UPDATE_KIND_PROGRESS);
  EXPECT_NE(publisher_.updates[0].update_id(), publisher_.updates[1].update_id());
}

TEST_F(CoordinatorTest, OperatorStopEndsTheRunningSession) {
  ASSERT_TRUE(Handle(Request("r-1", "CP-001"), Message()).ok());
  std::optional<absl::Status> stopped;
  coordinator_.StopSessionAt("CP-001", [&](absl::Status s) { stopped = s; });
  ASSERT_TRUE(stopped.has_value() && stopped->ok());
  ASSERT_EQ(sender_.sent.size(), 2u);
  const v1::StopSupplyRequest& stop = sender_.sent[1].second.stop_supply();
  EXPECT_EQ(stop.session_id(), "s-r-1");
  EXPECT_EQ(stop.reason(), v1::SESSION_END_REASON_STOPPED_BY_OPERATOR);
}

TEST_F(CoordinatorTest, ACpThatHasNotAnsweredHoldsUpNoOtherDriver) {
  sender_.hold = true;
  std::optional<absl::Status> first;
  coordinator_.HandleRequest(Request("r-1", "CP-001"), Message(1),
                             [&](absl::Status s) { first = s; });
  EXPECT_FALSE(first.has_value());  // CP-001 has not answered
  std::optional<absl::Status> second;
  coordinator_.HandleRequest(Request("r-2", "CP-002", "driver-bob"), Message(2, "driver-bob"),
                             [&](absl::Status s) { second = s; });
  ASSERT_EQ(sender_.held.size(), 2u);
  sender_.Answer(1, absl::OkStatus());  // CP-002 answers first
  ASSERT_TRUE(second.has_value() && second->ok());
  EXPECT_FALSE(first.has_value());
  ASSERT_EQ(publisher_.updates.size(), 2u);
  EXPECT_EQ(publisher_.updates[0].driver_id(), "driver-bob");
  sender_.Answer(0, absl::OkStatus());
  ASSERT_TRUE(first.has_value() && first->ok());
  EXPECT_EQ(coordinator_.RunningSessions(), 2);
}

TEST_F(CoordinatorTest, AStartThatTimedOutIsStoppedAndItsResultNeverBilled) {
  sender_.status = absl::DeadlineExceededError("CP-001 did not answer within 5s");
  ASSERT_TRUE(Handle(Request("r-1", "CP-001"), Message()).ok());
  ASSERT_EQ(publisher_.updates.size(), 1u);
  EXPECT_EQ(publisher_.updates[0].kind(), v1::UPDATE_KIND_REJECTED);
  EXPECT_EQ(publisher_.updates[0].session_id(), "s-r-1");
  // The engine may have started late: it is told to stop that session.
  ASSERT_EQ(sender_.sent.size(), 2u);
  EXPECT_EQ(sender_.sent[1].second.stop_supply().session_id(), "s-r-1");
  // Its result comes anyway: the driver, told it was refused, is not billed.
  ASSERT_TRUE(Handle(Result("s-r-1", "r-1")).ok());
  EXPECT_EQ(publisher_.updates.size(), 1u);
  EXPECT_TRUE(coordinator_.Sessions({}).empty());
}

TEST_F(CoordinatorTest, ARefusedStartIsRememberedAcrossARestart) {
  v1::DriverUpdate refused;
  refused.set_kind(v1::UPDATE_KIND_REJECTED);
  refused.set_request_id("r-1");
  refused.set_session_id("s-r-1");
  refused.set_driver_id("driver-alice");
  *refused.mutable_sent_at() = ToProto(clock_.Now());
  coordinator_.RestoreUpdate(refused);
  coordinator_.FinishRestore();
  ASSERT_TRUE(Handle(Result("s-r-1", "r-1")).ok());
  EXPECT_TRUE(publisher_.updates.empty());
}

TEST_F(CoordinatorTest, AnOperatorStopThatGotThereFirstKeepsTheStartFromBeingSent) {
  sender_.hold = true;
  std::optional<absl::Status> outcome;
  coordinator_.HandleRequest(Request("r-1", "CP-001"), Message(),
                             [&](absl::Status s) { outcome = s; });
  // The operator stops CP-001 before the start is queued on its link.
  ASSERT_TRUE(registry_.SetStopped("CP-001", true).ok());
  sender_.Answer(0, absl::OkStatus());
  ASSERT_TRUE(outcome.has_value() && outcome->ok());
  EXPECT_TRUE(sender_.sent.empty());  // the start never went out
  ASSERT_EQ(publisher_.updates.size(), 1u);
  EXPECT_EQ(publisher_.updates[0].rejection_reason(), "CP-001 is out of order (STOPPED)");
  EXPECT_EQ(coordinator_.RunningSessions(), 0);
}

TEST_F(CoordinatorTest, MemoryIsBoundedByTheDedupeWindows) {
  for (int i = 0; i < 20; ++i) {
    const std::string id = absl::StrCat("r-", i);
    ASSERT_TRUE(Handle(Request(id, "CP-001"), Message(i)).ok());
    ASSERT_TRUE(Handle(Result(absl::StrCat("s-", id), id)).ok());
  }
  EXPECT_EQ(coordinator_.RunningSessions(), 0);
  EXPECT_EQ(coordinator_.RememberedIds(), 40u);  // 20 requests, 20 tickets
  clock_.Advance(Options().request_ttl + absl::Seconds(1));
  coordinator_.Prune();
  EXPECT_EQ(coordinator_.RememberedIds(), 20u);  // tickets are kept longer
  clock_.Advance(Options().result_dedupe_window);
  coordinator_.Prune();
  EXPECT_EQ(coordinator_.RememberedIds(), 0u);
  // Ended sessions are kept up to keep_ended, for the tickets shown.
  EXPECT_EQ(coordinator_.Sessions({}).size(), 5u);
}

}  // namespace
}  // namespace evnet
