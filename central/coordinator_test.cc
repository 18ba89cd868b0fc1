#include "central/coordinator.h"

#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "central/fakes.h"
#include "common/proto_time.h"
#include "common/trust/signing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace evnet {
namespace {

using ::testing::HasSubstr;

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
    options.clock_skew = absl::Seconds(30);
    options.orphan_timeout = absl::Minutes(2);
    options.unasked_grace = absl::Seconds(10);
    options.progress_interval = absl::Seconds(2);
    options.keep_ended = 5;
    return options;
  }

  // A CP of this version MACs its telemetry; `mac` false: an earlier one.
  void AddCp(const std::string& id, bool ok, v1::EngineState state, bool mac = true) {
    v1::ChargingPointInfo info;
    info.set_cp_id(id);
    info.set_telemetry_mac(mac);
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
  FakeCommandSender sender_;
  FakeUpdatePublisher publisher_;
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

TEST_F(CoordinatorTest, AStartTellsItsCpThePriceItsSessionIsHeldAt) {
  v1::ChargingPointInfo info;
  info.set_cp_id("CP-001");
  info.set_telemetry_mac(true);
  info.set_price_eur_per_kwh(0.35);
  (void)registry_.Register(info);
  ASSERT_TRUE(Handle(Request("r-1", "CP-001"), Message()).ok());
  ASSERT_EQ(sender_.sent.size(), 1u);
  EXPECT_DOUBLE_EQ(sender_.sent[0].second.start_supply().price_eur_per_kwh(), 0.35);
  ASSERT_EQ(publisher_.held.count("s-r-1"), 1u);
  EXPECT_DOUBLE_EQ(publisher_.held["s-r-1"].price_eur_per_kwh(), 0.35);
}

TEST_F(CoordinatorTest, ADriversRequestMayNotTakeTheIdOfAChargersOwnTransaction) {
  EXPECT_TRUE(absl::IsInvalidArgument(Handle(Request("card-CP-001-1-1800000000", "CP-001"), Message())));
  EXPECT_TRUE(sender_.sent.empty());
  EXPECT_TRUE(publisher_.updates.empty());
}

TEST_F(CoordinatorTest, AChargersOwnSessionIsOpenedOnceAndNeverReopenedOnceClosed) {
  v1::DriverRequest card = Request("card-CP-001-1-1800000000", "CP-001", "driver-bob");
  auto open = [&](const v1::DriverRequest& request) {
    std::optional<absl::StatusOr<v1::StartSupplyRequest>> opened;
    coordinator_.OpenChargerSession(request, [&](absl::StatusOr<v1::StartSupplyRequest> s) {
      opened = std::move(s);
    });
    EXPECT_TRUE(opened.has_value()) << "left waiting";
    return opened.value_or(absl::InternalError("waiting"));
  };
  absl::StatusOr<v1::StartSupplyRequest> first = open(card);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->session_id(), "s-card-CP-001-1-1800000000");
  EXPECT_EQ(first->driver_id(), "driver-bob");
  EXPECT_FALSE(first->telemetry_key().empty());
  EXPECT_TRUE(sender_.sent.empty()) << "the charger runs it already: no start is sent";
  EXPECT_EQ(open(card)->telemetry_key(), first->telemetry_key()) << "the same session again";
  EXPECT_EQ(publisher_.decisions.size(), 1u);
  // The same id for another driver is not theirs.
  v1::DriverRequest other = card;
  other.set_driver_id("driver-carol");
  EXPECT_TRUE(absl::IsFailedPrecondition(open(other).status()));

  v1::SessionResult result = Result(first->session_id(), card.request_id());
  result.set_driver_id("driver-bob");
  ASSERT_TRUE(Handle(result).ok());
  // Asked again once ticketed (the gateway never heard the answer): refused,
  // not opened again, never billed twice.
  EXPECT_TRUE(absl::IsFailedPrecondition(open(card).status()));
  EXPECT_EQ(publisher_.kinds().back(), v1::UPDATE_KIND_ENDED);
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
  clock_.Advance(absl::Seconds(91));  // request_ttl + clock_skew, and one more
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

// A driver holding its ticket may ask again before central has closed the
// session the ticket ends: the request comes again once the ticket is
// written, and is then served, not refused as busy.
TEST_F(CoordinatorTest, ARequestMeetingItsDriversTicketBeingWrittenComesAgainAndIsServed) {
  ASSERT_TRUE(Handle(Request("r-1", "CP-001"), Message()).ok());
  publisher_.hold = true;
  std::optional<absl::Status> ticketed;
  coordinator_.HandleResult(Result("s-r-1", "r-1"), [&](absl::Status s) { ticketed = s; });
  ASSERT_FALSE(ticketed.has_value());
  // The same driver at another CP, and another driver at the same CP.
  absl::Status again = Handle(Request("r-2", "CP-002"), Message(8));
  EXPECT_EQ(again.code(), absl::StatusCode::kUnavailable) << again;
  absl::Status other = Handle(Request("r-3", "CP-001", "driver-bob"), Message(9, "driver-bob"));
  EXPECT_EQ(other.code(), absl::StatusCode::kUnavailable) << other;
  publisher_.Release();
  ASSERT_TRUE(ticketed.has_value() && ticketed->ok());
  // Come again, both are served.
  ASSERT_TRUE(Handle(Request("r-2", "CP-002"), Message(8)).ok());
  ASSERT_TRUE(Handle(Request("r-3", "CP-001", "driver-bob"), Message(9, "driver-bob")).ok());
  for (const v1::DriverUpdate& u : publisher_.updates) {
    EXPECT_NE(u.kind(), v1::UPDATE_KIND_REJECTED) << u.rejection_reason();
  }
  EXPECT_EQ(sender_.sent.size(), 3u);
}

// The monitor reports once a second: for up to a second after a ticket, its
// CP may still show the supply of the ticketed session. The next driver is
// served, not refused as busy.
TEST_F(CoordinatorTest, ACpStillShowingASessionThatWasTicketedServesTheNextDriver) {
  ASSERT_TRUE(Handle(Request("r-1", "CP-001"), Message()).ok());
  v1::HealthReport supplying;
  supplying.set_engine_ok(true);
  supplying.set_engine_state(v1::ENGINE_STATE_SUPPLYING);
  supplying.mutable_supply()->set_session_id("s-r-1");
  registry_.Report("CP-001", supplying);
  std::optional<absl::Status> ticketed;
  coordinator_.HandleResult(Result("s-r-1", "r-1"), [&](absl::Status s) { ticketed = s; });
  ASSERT_TRUE(ticketed.has_value() && ticketed->ok());
  ASSERT_EQ(registry_.Status("CP-001"), v1::CP_STATUS_SUPPLYING);
  ASSERT_TRUE(Handle(Request("r-2", "CP-001", "driver-bob"), Message(9, "driver-bob")).ok());
  for (const v1::DriverUpdate& u : publisher_.updates) {
    EXPECT_NE(u.kind(), v1::UPDATE_KIND_REJECTED) << u.rejection_reason();
  }
  EXPECT_EQ(sender_.sent.size(), 2u);
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
  // Its key died with the central that sent it: the CP's samples (MACed with
  // that key) reach no driver, and are not audited as forged.
  publisher_.updates.clear();
  v1::SupplyTelemetry telemetry;
  telemetry.set_cp_id("CP-001");
  telemetry.mutable_supply()->set_session_id("s-r-1");
  telemetry.mutable_supply()->set_energy_kwh(1);
  *telemetry.mutable_measured_at() = ToProto(clock_.Now());
  MacTelemetry(std::string(32, 'x'), telemetry);
  EXPECT_TRUE(coordinator_.HandleTelemetry(telemetry).ok());
  EXPECT_TRUE(publisher_.updates.empty());
  EXPECT_TRUE(audit_.records().empty());
}

TEST_F(CoordinatorTest, AStartTheEngineRefusesBecomesARejection) {
  sender_.status = absl::FailedPreconditionError("CP-001 is in fault");
  ASSERT_TRUE(Handle(Request("r-1", "CP-001"), Message()).ok());
  ASSERT_EQ(publisher_.updates.size(), 1u);
  EXPECT_EQ(publisher_.updates[0].kind(), v1::UPDATE_KIND_REJECTED);
  EXPECT_THAT(publisher_.updates[0].rejection_reason(), HasSubstr("could not start"));
  EXPECT_TRUE(coordinator_.Sessions({}).empty());
}

// Central sent the start, died before it wrote so, and serves the request
// again after the supply ended: the CP says the session already ran. It is
// accepted and billed from its result, not refused and lost.
TEST_F(CoordinatorTest, AStartThatAlreadyRanAndEndedIsAcceptedAndBilled) {
  sender_.status = absl::AlreadyExistsError("session s-r-1 has already ended");
  ASSERT_TRUE(Handle(Request("r-1", "CP-001"), Message()).ok());
  ASSERT_FALSE(publisher_.updates.empty());
  EXPECT_EQ(publisher_.updates[0].kind(), v1::UPDATE_KIND_ACCEPTED);
  EXPECT_EQ(publisher_.updates[0].session_id(), "s-r-1");
  ASSERT_TRUE(Handle(Result("s-r-1", "r-1")).ok());
  ASSERT_EQ(publisher_.updates.back().kind(), v1::UPDATE_KIND_ENDED);
  EXPECT_EQ(publisher_.updates.back().ticket().session_id(), "s-r-1");
  EXPECT_GT(publisher_.updates.back().ticket().amount_cents(), 0);
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

v1::OpenSession Held(const std::string& request, v1::OpenSessionState state,
                     absl::Time opened_at) {
  v1::OpenSession record;
  record.set_session_id("s-" + request);
  record.set_request_id(request);
  record.set_driver_id("driver-alice");
  record.set_cp_id("CP-001");
  record.set_state(state);
  record.set_price_eur_per_kwh(0.30);
  *record.mutable_opened_at() = ToProto(opened_at);
  *record.mutable_requested_at() = ToProto(opened_at);
  return record;
}

TEST_F(CoordinatorTest, RebuildsFromItsOpenSessionsAndLedgerAndServesNothingTwice) {
  v1::DriverUpdate accepted;
  accepted.set_kind(v1::UPDATE_KIND_ACCEPTED);
  accepted.set_request_id("r-1");
  accepted.set_session_id("s-r-1");
  accepted.set_driver_id("driver-alice");
  accepted.set_cp_id("CP-001");
  *accepted.mutable_sent_at() = ToProto(clock_.Now());
  coordinator_.RestoreUpdate(accepted);
  coordinator_.RestoreOpenSession(Held("r-1", v1::OPEN_SESSION_STATE_ACCEPTED, clock_.Now()));
  // Opened and closed again: a tombstone.
  coordinator_.RestoreOpenSession(Held("r-0", v1::OPEN_SESSION_STATE_ACCEPTED, clock_.Now()));
  coordinator_.RestoreClosedSession("s-r-0");
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
  // The open session's result is ticketed once, and its record closed.
  ASSERT_TRUE(Handle(Result("s-r-1", "r-1")).ok());
  ASSERT_TRUE(Handle(Result("s-r-1", "r-1")).ok());
  ASSERT_EQ(publisher_.updates.size(), 1u);
  EXPECT_EQ(publisher_.updates[0].session_id(), "s-r-1");
  ASSERT_EQ(publisher_.decisions.size(), 1u);
  EXPECT_EQ(publisher_.decisions[0].closed_session_id, "s-r-1");
}

TEST_F(CoordinatorTest, ASessionAcceptedHoursAgoIsBilledWhenItEndsAfterARestart) {
  // Accepted five hours before central restarted: far older than any
  // window, and its CP no longer runs it (the car left while central was down).
  const absl::Time opened = clock_.Now();
  clock_.Advance(absl::Hours(5));
  coordinator_.RestoreOpenSession(Held("r-1", v1::OPEN_SESSION_STATE_ACCEPTED, opened));
  coordinator_.FinishRestore();
  coordinator_.Reconcile(registry_.Reports(), true);
  v1::SessionResult result = Result("s-r-1", "r-1");
  result.set_energy_kwh(110.0);
  result.set_amount_eur(33.0);
  ASSERT_TRUE(Handle(result).ok());
  ASSERT_EQ(publisher_.updates.size(), 1u);
  EXPECT_EQ(publisher_.updates[0].kind(), v1::UPDATE_KIND_ENDED);
  EXPECT_EQ(publisher_.updates[0].ticket().amount_cents(), 3300);
  EXPECT_EQ(coordinator_.RunningSessions(), 0);
}

// After central's restart, a driver restarted before its ticket sends its
// pending request again (found by the chaos test: the session was reopened
// after its ticket and closed again with a zero ticket). Announced again, it
// never writes the session's record, so that whatever order that decision
// and the ticket land in, the ticket's tombstone is the last word; while the
// ticket is being written, the copy comes again later, as a duplicate.
TEST_F(CoordinatorTest, ARequestSentAgainAroundItsTicketNeverReopensTheSession) {
  const absl::Time opened = clock_.Now();
  clock_.Advance(absl::Minutes(30));  // its answer is older than any window
  coordinator_.RestoreOpenSession(Held("r-1", v1::OPEN_SESSION_STATE_ACCEPTED, opened));
  coordinator_.FinishRestore();
  publisher_.held["s-r-1"] = Held("r-1", v1::OPEN_SESSION_STATE_ACCEPTED, opened);
  v1::DriverRequest again = Request("r-1", "CP-001");
  *again.mutable_requested_at() = ToProto(clock_.Now());  // sent again just now
  // Announced again: the driver is told, the record is not written.
  publisher_.hold = true;
  std::optional<absl::Status> announced;
  coordinator_.HandleRequest(again, Message(), [&](absl::Status s) { announced = s; });
  ASSERT_EQ(publisher_.queued.size(), 1u);
  EXPECT_FALSE(publisher_.queued[0].first.open.has_value());
  ASSERT_FALSE(publisher_.queued[0].first.updates.empty());
  EXPECT_EQ(publisher_.queued[0].first.updates.front().kind(), v1::UPDATE_KIND_ACCEPTED);
  // The ticket is decided while that announcement is still on its way, and
  // lands first.
  std::optional<absl::Status> ticketed;
  coordinator_.HandleResult(Result("s-r-1", "r-1"), [&](absl::Status s) { ticketed = s; });
  ASSERT_EQ(publisher_.queued.size(), 2u);
  std::swap(publisher_.queued[0], publisher_.queued[1]);
  publisher_.Release();
  ASSERT_TRUE(ticketed.has_value() && ticketed->ok());
  ASSERT_TRUE(announced.has_value() && announced->ok());
  EXPECT_EQ(publisher_.held.count("s-r-1"), 0u) << "the session was reopened after its ticket";
  // Another copy while a ticket is being written comes again later.
  coordinator_.RestoreOpenSession(Held("r-2", v1::OPEN_SESSION_STATE_ACCEPTED, opened));
  publisher_.hold = true;
  coordinator_.HandleResult(Result("s-r-2", "r-2"), [](absl::Status) {});
  const absl::Status during = Handle(Request("r-2", "CP-001"), Message());
  EXPECT_EQ(during.code(), absl::StatusCode::kUnavailable) << during;
  EXPECT_EQ(publisher_.queued.size(), 1u);  // the ticket alone
  publisher_.Release();
  EXPECT_EQ(publisher_.held.count("s-r-2"), 0u);
}

TEST_F(CoordinatorTest, EachDecisionCarriesItsOpenSessionChange) {
  ASSERT_TRUE(Handle(Request("r-1", "CP-001"), Message()).ok());
  ASSERT_EQ(publisher_.decisions.size(), 1u);
  const Decision& accepted = publisher_.decisions[0];
  ASSERT_EQ(accepted.updates.size(), 2u);  // accepted, supply started
  ASSERT_TRUE(accepted.open.has_value());
  EXPECT_EQ(accepted.open->state(), v1::OPEN_SESSION_STATE_ACCEPTED);
  EXPECT_EQ(accepted.open->session_id(), "s-r-1");
  ASSERT_TRUE(Handle(Result("s-r-1", "r-1")).ok());
  ASSERT_EQ(publisher_.decisions.size(), 2u);
  EXPECT_EQ(publisher_.decisions[1].updates[0].kind(), v1::UPDATE_KIND_ENDED);
  EXPECT_EQ(publisher_.decisions[1].closed_session_id, "s-r-1");
  EXPECT_TRUE(publisher_.held.empty());
}

// CP-001 reports, healthy, that it runs `session` (none: idle), holding the
// results of `pending`.
void ReportRunning(Registry& registry, const std::string& session,
                   const std::vector<std::string>& pending = {}) {
  v1::HealthReport report;
  report.set_engine_ok(true);
  report.set_engine_state(session.empty() ? v1::ENGINE_STATE_IDLE : v1::ENGINE_STATE_SUPPLYING);
  if (!session.empty()) {
    report.mutable_supply()->set_session_id(session);
    report.mutable_supply()->set_driver_id("driver-zed");
  }
  for (const std::string& id : pending) report.add_pending_results(id);
  registry.Report("CP-001", report);
  registry.Sweep();
}

TEST_F(CoordinatorTest, ASessionNoDriverAskedForIsStoppedAuditedAndNeverBilled) {
  // Started at CP-001 by whoever holds its key, straight at its engine.
  ReportRunning(registry_, "s-x");
  coordinator_.Reconcile(registry_.Reports(), true);
  EXPECT_TRUE(sender_.sent.empty());  // a redelivered request may still claim it
  EXPECT_EQ(coordinator_.RunningSessions(), 0);
  clock_.Advance(absl::Seconds(10));
  ReportRunning(registry_, "s-x");
  coordinator_.Reconcile(registry_.Reports(), true);
  ASSERT_EQ(sender_.sent.size(), 1u);
  EXPECT_EQ(sender_.sent[0].second.stop_supply().session_id(), "s-x");
  // Stopped again while it still runs, not more often than stop_retry.
  coordinator_.Reconcile(registry_.Reports(), true);
  EXPECT_EQ(sender_.sent.size(), 1u);
  clock_.Advance(absl::Seconds(5));
  ReportRunning(registry_, "s-x");
  coordinator_.Reconcile(registry_.Reports(), true);
  EXPECT_EQ(sender_.sent.size(), 2u);
  std::vector<v1::AuditRecord> audited = audit_.records();
  ASSERT_EQ(audited.size(), 1u);
  EXPECT_EQ(audited[0].action(), "session.unasked");
  EXPECT_THAT(audited[0].reason(), HasSubstr("s-x"));
  // Its result is refused (set aside, audited by the bridge), never ticketed.
  v1::SessionResult result = Result("s-x", "x");
  result.set_driver_id("driver-victim");
  absl::Status refused = Handle(result);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refused.message()), HasSubstr("unasked"));
  EXPECT_TRUE(publisher_.updates.empty());
}

TEST_F(CoordinatorTest, ACpFailingWhileItsSessionsTicketIsWrittenDoesNotReopenTheSession) {
  ASSERT_TRUE(Handle(Request("r-1", "CP-001"), Message()).ok());
  ASSERT_EQ(publisher_.held.count("s-r-1"), 1u);
  publisher_.hold = true;
  std::optional<absl::Status> billed;
  coordinator_.HandleResult(Result("s-r-1", "r-1"), [&](absl::Status s) { billed = s; });
  ASSERT_EQ(publisher_.queued.size(), 1u);
  // The engine's failure is seen while the ticket's transaction is open.
  coordinator_.OnStatusChange({"CP-001", v1::CP_STATUS_SUPPLYING, v1::CP_STATUS_BROKEN});
  EXPECT_EQ(publisher_.queued.size(), 1u) << "a decision after the ticket's would reopen it";
  publisher_.Release();
  ASSERT_TRUE(billed.has_value() && billed->ok());
  EXPECT_EQ(publisher_.held.count("s-r-1"), 0u);
  EXPECT_TRUE(coordinator_.Sessions({}).empty() ||
              coordinator_.Sessions({})[0].state() == v1::SESSION_STATE_ENDED);
}

TEST_F(CoordinatorTest, AResultForASessionBeingClosedAsLostComesAgainAndIsNotBilledTwice) {
  ASSERT_TRUE(Handle(Request("r-1", "CP-001"), Message()).ok());
  publisher_.updates.clear();
  // Its CP reports idle for the whole orphan timeout: the zero ticket is
  // being written when the engine's own result arrives.
  publisher_.hold = true;
  for (int i = 0; i < 122 && publisher_.queued.empty(); ++i) {
    ReportRunning(registry_, "");
    coordinator_.Reconcile(registry_.Reports(), true);
    clock_.Advance(absl::Seconds(1));
  }
  ASSERT_EQ(publisher_.queued.size(), 1u);
  const absl::Status again = Handle(Result("s-r-1", "r-1"));
  EXPECT_EQ(again.code(), absl::StatusCode::kUnavailable);
  publisher_.Release();
  EXPECT_TRUE(Handle(Result("s-r-1", "r-1")).ok());  // redelivered: already ticketed
  int tickets = 0;
  for (const auto& u : publisher_.updates) tickets += u.kind() == v1::UPDATE_KIND_ENDED ? 1 : 0;
  EXPECT_EQ(tickets, 1);
}

TEST_F(CoordinatorTest, ASessionAcceptedOnAnEarlierVersionsLedgerIsHeldAtItsCpsRegisteredPrice) {
  v1::ChargingPointInfo info;
  info.set_cp_id("CP-001");
  info.set_price_eur_per_kwh(0.42);
  (void)registry_.Register(info);
  v1::DriverUpdate accepted;
  accepted.set_kind(v1::UPDATE_KIND_ACCEPTED);
  accepted.set_session_id("s-r-7");
  accepted.set_request_id("r-7");
  accepted.set_driver_id("driver-alice");
  accepted.set_cp_id("CP-001");
  *accepted.mutable_sent_at() = ToProto(clock_.Now() - absl::Hours(2));
  const v1::OpenSession record = coordinator_.RecordOfAccepted(accepted);
  EXPECT_EQ(record.session_id(), "s-r-7");
  EXPECT_EQ(record.request_id(), "r-7");
  EXPECT_EQ(record.driver_id(), "driver-alice");
  EXPECT_EQ(record.cp_id(), "CP-001");
  EXPECT_EQ(record.state(), v1::OPEN_SESSION_STATE_ACCEPTED);
  EXPECT_EQ(record.price_eur_per_kwh(), 0.42);
  EXPECT_EQ(FromProto(record.opened_at()), clock_.Now() - absl::Hours(2));
  EXPECT_EQ(FromProto(record.requested_at()), clock_.Now() - absl::Hours(2));
  EXPECT_TRUE(record.telemetry_key().empty());  // its CP was never sent one
}

TEST_F(CoordinatorTest, ARestoredSessionItsCpNoLongerRunsIsClosedWithAZeroTicketAfterTheTimeout) {
  v1::OpenSession record;
  record.set_session_id("s-r-9");
  record.set_request_id("r-9");
  record.set_driver_id("driver-bob");
  record.set_cp_id("CP-001");
  record.set_state(v1::OPEN_SESSION_STATE_ACCEPTED);
  record.set_interrupted(true);  // its driver was told its CP failed under it
  SessionCoordinator restarted(Options(), clock_, registry_, sender_, publisher_, metrics_);
  restarted.RestoreOpenSession(record);
  restarted.FinishRestore();
  auto tickets = [&] {
    std::vector<v1::DriverUpdate> out;
    for (const auto& u : publisher_.updates) {
      if (u.kind() == v1::UPDATE_KIND_ENDED) out.push_back(u);
    }
    return out;
  };
  for (int i = 0; i < 119; ++i) {
    ReportRunning(registry_, "");
    restarted.Reconcile(registry_.Reports(), true);
    clock_.Advance(absl::Seconds(1));
  }
  EXPECT_TRUE(tickets().empty()) << "closed before --orphan_timeout";
  for (int i = 0; i < 3; ++i) {
    ReportRunning(registry_, "");
    restarted.Reconcile(registry_.Reports(), true);
    clock_.Advance(absl::Seconds(1));
  }
  ASSERT_EQ(tickets().size(), 1u);
  EXPECT_EQ(tickets()[0].ticket().end_reason(), v1::SESSION_END_REASON_CLOSED_UNCONFIRMED);
}

TEST_F(CoordinatorTest, AReportThatStillShowsASessionJustTicketedStopsAndAuditsNothing) {
  ASSERT_TRUE(Handle(Request("r-1", "CP-001"), Message()).ok());
  ASSERT_TRUE(Handle(Result("s-r-1", "r-1")).ok());
  sender_.sent.clear();
  for (int i = 0; i < 3; ++i) {
    ReportRunning(registry_, "s-r-1");  // a report from before the car left
    coordinator_.Reconcile(registry_.Reports(), true);
    clock_.Advance(absl::Seconds(10));
  }
  EXPECT_TRUE(sender_.sent.empty());
  EXPECT_TRUE(audit_.records().empty());
}

TEST_F(CoordinatorTest, ARefusedStartStillRunningIsStoppedUntilItsCpConfirms) {
  sender_.status = absl::DeadlineExceededError("CP-001 did not answer within 5s");
  ASSERT_TRUE(Handle(Request("r-1", "CP-001"), Message()).ok());
  ASSERT_EQ(publisher_.decisions.size(), 1u);
  ASSERT_TRUE(publisher_.decisions[0].open.has_value());
  EXPECT_EQ(publisher_.decisions[0].open->state(), v1::OPEN_SESSION_STATE_REFUSED);
  ASSERT_EQ(sender_.sent.size(), 2u);  // the start, then its stop
  // The start reached the engine late: it runs; stops keep going to it.
  sender_.status = absl::DeadlineExceededError("no answer");
  clock_.Advance(absl::Seconds(5));
  ReportRunning(registry_, "s-r-1");
  coordinator_.Reconcile(registry_.Reports(), true);
  EXPECT_EQ(sender_.sent.size(), 3u);
  clock_.Advance(absl::Minutes(10));  // past every window
  ReportRunning(registry_, "s-r-1");
  coordinator_.Reconcile(registry_.Reports(), true);
  EXPECT_EQ(sender_.sent.size(), 4u);
  EXPECT_EQ(sender_.sent[3].second.stop_supply().session_id(), "s-r-1");
  // A copy of the request is not served again, however late.
  ASSERT_TRUE(Handle(Request("r-1", "CP-001"), Message()).ok());
  EXPECT_EQ(publisher_.updates.size(), 1u);
  // The engine stops it at last; its result closes it, unbilled.
  ReportRunning(registry_, "", {"s-r-1"});
  ASSERT_TRUE(Handle(Result("s-r-1", "r-1")).ok());
  EXPECT_EQ(publisher_.updates.size(), 1u);
  EXPECT_TRUE(publisher_.held.empty());
  EXPECT_EQ(coordinator_.RunningSessions(), 0);
}

TEST_F(CoordinatorTest, ARefusedSessionItsCpNeverRanIsLetGoAfterTheBound) {
  sender_.status = absl::DeadlineExceededError("CP-001 did not answer within 5s");
  ASSERT_TRUE(Handle(Request("r-1", "CP-001"), Message()).ok());
  ASSERT_EQ(publisher_.held.size(), 1u);
  ReportRunning(registry_, "");
  coordinator_.Reconcile(registry_.Reports(), true);
  clock_.Advance(absl::Minutes(2));
  ReportRunning(registry_, "");
  coordinator_.Reconcile(registry_.Reports(), true);
  EXPECT_TRUE(publisher_.held.empty());
  // A late result is still recognised as the refused session's, unbilled.
  ASSERT_TRUE(Handle(Result("s-r-1", "r-1")).ok());
  EXPECT_EQ(publisher_.updates.size(), 1u);
}

TEST_F(CoordinatorTest, ASessionItsCpLostIsClosedWithAnAuditedZeroTicket) {
  ASSERT_TRUE(Handle(Request("r-1", "CP-001"), Message()).ok());
  publisher_.updates.clear();
  // The engine restarted without the session (its journal never reached
  // disk): it is idle, healthy, and holds no result.
  ReportRunning(registry_, "");
  coordinator_.Reconcile(registry_.Reports(), true);
  clock_.Advance(absl::Minutes(1));
  ReportRunning(registry_, "");
  coordinator_.Reconcile(registry_.Reports(), true);
  EXPECT_TRUE(publisher_.updates.empty());  // not yet: the bound is 2 min
  clock_.Advance(absl::Minutes(1));
  ReportRunning(registry_, "");
  coordinator_.Reconcile(registry_.Reports(), true);
  ASSERT_EQ(publisher_.updates.size(), 1u);
  const v1::DriverUpdate& ended = publisher_.updates[0];
  EXPECT_EQ(ended.kind(), v1::UPDATE_KIND_ENDED);
  EXPECT_EQ(ended.ticket().end_reason(), v1::SESSION_END_REASON_CLOSED_UNCONFIRMED);
  EXPECT_EQ(ended.ticket().energy_kwh(), 0);
  EXPECT_EQ(ended.ticket().amount_cents(), 0);
  EXPECT_TRUE(publisher_.held.empty());
  EXPECT_EQ(coordinator_.RunningSessions(), 0);
  std::vector<v1::AuditRecord> audited = audit_.records();
  ASSERT_EQ(audited.size(), 1u);
  EXPECT_EQ(audited[0].action(), "session.close");
  EXPECT_THAT(audited[0].reason(), HasSubstr("zero ticket"));
  // Its result, should it come after all, is not billed twice.
  ASSERT_TRUE(Handle(Result("s-r-1", "r-1")).ok());
  EXPECT_EQ(publisher_.updates.size(), 1u);
}

TEST_F(CoordinatorTest, ASessionIsNotClosedWhileItsCpHoldsItsResultOrResultsWait) {
  ASSERT_TRUE(Handle(Request("r-1", "CP-001"), Message()).ok());
  publisher_.updates.clear();
  for (int i = 0; i < 5; ++i) {
    ReportRunning(registry_, "", {"s-r-1"});  // ended; Kafka does not have it yet
    coordinator_.Reconcile(registry_.Reports(), true);
    clock_.Advance(absl::Minutes(1));
  }
  for (int i = 0; i < 5; ++i) {
    ReportRunning(registry_, "");
    coordinator_.Reconcile(registry_.Reports(), /*results_caught_up=*/false);
    clock_.Advance(absl::Minutes(1));
  }
  for (int i = 0; i < 5; ++i) {
    // A broken CP's engine may come back with its journal.
    AddCp("CP-001", false, v1::ENGINE_STATE_FAULT);
    coordinator_.Reconcile(registry_.Reports(), true);
    clock_.Advance(absl::Minutes(1));
  }
  ReportRunning(registry_, "", {"s-r-1"});
  EXPECT_TRUE(publisher_.updates.empty());
  EXPECT_EQ(coordinator_.RunningSessions(), 1);
  ASSERT_TRUE(Handle(Result("s-r-1", "r-1")).ok());
  ASSERT_EQ(publisher_.updates.size(), 1u);
  EXPECT_EQ(publisher_.updates[0].ticket().end_reason(), v1::SESSION_END_REASON_UNPLUGGED);
}

TEST_F(CoordinatorTest, AResultMustCarryThePriceTheCpWasRegisteredWith) {
  v1::ChargingPointInfo info;
  info.set_cp_id("CP-001");
  info.set_price_eur_per_kwh(0.29);
  (void)registry_.Register(info);
  ASSERT_TRUE(Handle(Request("r-1", "CP-001"), Message()).ok());
  v1::SessionResult pricier = Result("s-r-1", "r-1");
  pricier.set_price_eur_per_kwh(2.90);
  pricier.set_amount_eur(1.45);
  absl::Status refused = Handle(pricier);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refused.message()), HasSubstr("registered at 0.2900 EUR/kWh"));
  v1::SessionResult miscounted = Result("s-r-1", "r-1");
  miscounted.set_price_eur_per_kwh(0.29);
  miscounted.set_amount_cents(14);  // 0.5 kWh at 0.29 is 14.5 cents: 15
  miscounted.set_amount_eur(0.14);
  refused = Handle(miscounted);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refused.message()), HasSubstr("which is 15 cents"));
  ASSERT_EQ(publisher_.updates.size(), 2u);  // accepted, started: nothing billed
  v1::SessionResult honest = Result("s-r-1", "r-1");
  honest.set_price_eur_per_kwh(0.29);
  honest.set_amount_cents(15);
  honest.set_amount_eur(0.15);
  ASSERT_TRUE(Handle(honest).ok());
  ASSERT_EQ(publisher_.updates.size(), 3u);
  EXPECT_EQ(publisher_.updates[2].ticket().amount_cents(), 15);
  EXPECT_DOUBLE_EQ(publisher_.updates[2].ticket().amount_eur(), 0.15);
}

TEST_F(CoordinatorTest, TwoCopiesOfARequestHandledAtOnceGetOneOutcome) {
  sender_.hold = true;
  std::optional<absl::Status> first, second;
  coordinator_.HandleRequest(Request("r-1", "CP-001"), Message(),
                             [&](absl::Status s) { first = s; });
  coordinator_.HandleRequest(Request("r-1", "CP-001"), Message(),
                             [&](absl::Status s) { second = s; });
  ASSERT_TRUE(second.has_value() && second->ok());  // ignored as a copy
  ASSERT_EQ(sender_.held.size(), 1u);
  sender_.Answer(0, absl::OkStatus());
  ASSERT_TRUE(first.has_value() && first->ok());
  EXPECT_EQ(publisher_.kinds(), (std::vector<v1::UpdateKind>{v1::UPDATE_KIND_ACCEPTED,
                                                              v1::UPDATE_KIND_SUPPLY_STARTED}));
}

TEST_F(CoordinatorTest, ADriverClockWithinTheSkewIsServedAndOneBeyondItIsTold) {
  v1::DriverRequest behind = Request("r-1", "CP-001");
  *behind.mutable_requested_at() = ToProto(clock_.Now() - absl::Seconds(80));
  ASSERT_TRUE(Handle(behind, Message()).ok());
  ASSERT_EQ(publisher_.updates.size(), 2u);
  EXPECT_EQ(publisher_.updates[0].kind(), v1::UPDATE_KIND_ACCEPTED);
  v1::DriverRequest ahead = Request("r-2", "CP-002", "driver-bob");
  *ahead.mutable_requested_at() = ToProto(clock_.Now() + absl::Minutes(5));
  ASSERT_TRUE(Handle(ahead, Message(8, "driver-bob")).ok());
  ASSERT_EQ(publisher_.updates.size(), 3u);
  EXPECT_EQ(publisher_.updates[2].kind(), v1::UPDATE_KIND_REJECTED);
  EXPECT_THAT(publisher_.updates[2].rejection_reason(), HasSubstr("check the clock of driver-bob"));
}

TEST_F(CoordinatorTest, ACopyOfAnAnsweredRequestIsIgnoredForAsLongAsItCouldBeServed) {
  ASSERT_TRUE(Handle(Request("r-1", "CP-003"), Message()).ok());  // broken: rejected
  ASSERT_EQ(publisher_.updates.size(), 1u);
  // The latest a copy can still pass the age check: stamped clock_skew
  // ahead, arriving request_ttl + clock_skew after that.
  clock_.Advance(absl::Seconds(60 + 2 * 30));
  coordinator_.Prune();
  AddCp("CP-003", true, v1::ENGINE_STATE_IDLE);
  v1::DriverRequest copy = Request("r-1", "CP-003");
  *copy.mutable_requested_at() = ToProto(clock_.Now() - absl::Seconds(89));
  ASSERT_TRUE(Handle(copy, Message()).ok());
  EXPECT_EQ(publisher_.updates.size(), 1u);
  EXPECT_TRUE(sender_.sent.empty());
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
  const std::string key = sender_.sent[0].second.start_supply().telemetry_key();
  publisher_.updates.clear();
  for (int i = 0; i < 6; ++i) {
    v1::SupplyTelemetry telemetry;
    telemetry.set_cp_id("CP-001");
    telemetry.mutable_supply()->set_session_id("s-r-1");
    telemetry.mutable_supply()->set_energy_kwh(0.01 * i);
    *telemetry.mutable_measured_at() = ToProto(clock_.Now());
    MacTelemetry(key, telemetry);
    EXPECT_TRUE(coordinator_.HandleTelemetry(telemetry).ok());
    clock_.Advance(absl::Seconds(1));
  }
  ASSERT_EQ(publisher_.updates.size(), 3u);
  EXPECT_EQ(publisher_.updates[0].kind(), v1::UPDATE_KIND_PROGRESS);
  EXPECT_NE(publisher_.updates[0].update_id(), publisher_.updates[1].update_id());
}

// A sample read while the session's ticket is being written reaches no
// driver: its progress could land after the ticket.
TEST_F(CoordinatorTest, NoProgressIsSentOnceTheSessionsTicketIsBeingWritten) {
  ASSERT_TRUE(Handle(Request("r-1", "CP-001"), Message()).ok());
  const std::string key = sender_.sent[0].second.start_supply().telemetry_key();
  publisher_.hold = true;
  std::optional<absl::Status> ticketed;
  coordinator_.HandleResult(Result("s-r-1", "r-1"), [&](absl::Status s) { ticketed = s; });
  ASSERT_FALSE(ticketed.has_value());
  publisher_.updates.clear();
  v1::SupplyTelemetry telemetry;
  telemetry.set_cp_id("CP-001");
  telemetry.mutable_supply()->set_session_id("s-r-1");
  telemetry.mutable_supply()->set_energy_kwh(0.5);
  clock_.Advance(absl::Seconds(10));  // well past the progress interval
  *telemetry.mutable_measured_at() = ToProto(clock_.Now());
  MacTelemetry(key, telemetry);
  EXPECT_TRUE(coordinator_.HandleTelemetry(telemetry).ok());
  EXPECT_TRUE(publisher_.updates.empty()) << publisher_.updates[0].ShortDebugString();
  publisher_.Release();
  ASSERT_TRUE(ticketed.has_value() && ticketed->ok());
  EXPECT_EQ(publisher_.kinds(), std::vector<v1::UpdateKind>{v1::UPDATE_KIND_ENDED});
}

TEST_F(CoordinatorTest, OnlyTelemetryMacedWithTheSessionsKeyReachesItsDriver) {
  ASSERT_TRUE(Handle(Request("r-1", "CP-001"), Message()).ok());
  // A key of its own, sent to the CP with the start and held with the session.
  const std::string key = sender_.sent[0].second.start_supply().telemetry_key();
  ASSERT_EQ(key.size(), 32u);
  EXPECT_EQ(publisher_.held.at("s-r-1").telemetry_key(), key);
  ASSERT_TRUE(Handle(Request("r-2", "CP-002", "driver-bob"), Message(8, "driver-bob")).ok());
  ASSERT_EQ(sender_.sent.size(), 2u);
  EXPECT_NE(sender_.sent[1].second.start_supply().telemetry_key(), key);
  publisher_.updates.clear();

  auto sample = [&](double kwh) {
    v1::SupplyTelemetry telemetry;
    telemetry.set_cp_id("CP-001");
    telemetry.mutable_supply()->set_session_id("s-r-1");
    telemetry.mutable_supply()->set_driver_id("driver-alice");
    telemetry.mutable_supply()->set_energy_kwh(kwh);
    *telemetry.mutable_measured_at() = ToProto(clock_.Now());
    return telemetry;
  };
  // Unsigned, or MACed with another key (another CP's session's): dropped,
  // audited once for the session.
  EXPECT_TRUE(coordinator_.HandleTelemetry(sample(9)).ok());
  v1::SupplyTelemetry other = sample(9);
  MacTelemetry(sender_.sent[1].second.start_supply().telemetry_key(), other);
  EXPECT_TRUE(coordinator_.HandleTelemetry(other).ok());
  // MACed right, then changed on the way.
  v1::SupplyTelemetry changed = sample(1);
  MacTelemetry(key, changed);
  changed.mutable_supply()->set_energy_kwh(9);
  EXPECT_TRUE(coordinator_.HandleTelemetry(changed).ok());
  EXPECT_TRUE(publisher_.updates.empty());
  std::vector<v1::AuditRecord> audit = audit_.records();
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].action(), "telemetry");
  EXPECT_EQ(audit[0].result(), "refused");
  EXPECT_THAT(audit[0].reason(), HasSubstr("s-r-1"));

  // Its CP's own sample goes to the driver.
  v1::SupplyTelemetry own = sample(1.5);
  MacTelemetry(key, own);
  EXPECT_TRUE(coordinator_.HandleTelemetry(own).ok());
  ASSERT_EQ(publisher_.updates.size(), 1u);
  EXPECT_EQ(publisher_.updates[0].kind(), v1::UPDATE_KIND_PROGRESS);
  EXPECT_EQ(publisher_.updates[0].progress().energy_kwh(), 1.5);
}

TEST_F(CoordinatorTest, ACpOfAnEarlierVersionGetsNoKeyAndItsProgressStillReachesItsDriver) {
  AddCp("CP-OLD", true, v1::ENGINE_STATE_IDLE, /*mac=*/false);
  ASSERT_TRUE(Handle(Request("r-1", "CP-OLD"), Message()).ok());
  ASSERT_EQ(sender_.sent.size(), 1u);
  EXPECT_TRUE(sender_.sent[0].second.start_supply().telemetry_key().empty());
  EXPECT_TRUE(publisher_.held.at("s-r-1").telemetry_key().empty());
  publisher_.updates.clear();
  v1::SupplyTelemetry telemetry;
  telemetry.set_cp_id("CP-OLD");
  telemetry.mutable_supply()->set_session_id("s-r-1");
  telemetry.mutable_supply()->set_energy_kwh(1);
  *telemetry.mutable_measured_at() = ToProto(clock_.Now());
  EXPECT_TRUE(coordinator_.HandleTelemetry(telemetry).ok());
  EXPECT_EQ(publisher_.updates.size(), 1u);
  EXPECT_TRUE(audit_.records().empty());
}

TEST_F(CoordinatorTest, ARestartedCentralChecksTelemetryWithTheKeyItsSessionRecordHolds) {
  v1::OpenSession record;
  record.set_session_id("s-r-9");
  record.set_request_id("r-9");
  record.set_driver_id("driver-alice");
  record.set_cp_id("CP-001");
  record.set_state(v1::OPEN_SESSION_STATE_ACCEPTED);
  record.set_telemetry_key(std::string(32, 'k'));
  SessionCoordinator restarted(Options(), clock_, registry_, sender_, publisher_, metrics_);
  restarted.RestoreOpenSession(record);
  restarted.FinishRestore();
  v1::SupplyTelemetry telemetry;
  telemetry.set_cp_id("CP-001");
  telemetry.mutable_supply()->set_session_id("s-r-9");
  telemetry.mutable_supply()->set_energy_kwh(2);
  *telemetry.mutable_measured_at() = ToProto(clock_.Now());
  EXPECT_TRUE(restarted.HandleTelemetry(telemetry).ok());
  EXPECT_TRUE(publisher_.updates.empty());
  MacTelemetry(record.telemetry_key(), telemetry);
  EXPECT_TRUE(restarted.HandleTelemetry(telemetry).ok());
  EXPECT_EQ(publisher_.updates.size(), 1u);
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
  clock_.Advance(Options().request_ttl + 2 * Options().clock_skew + absl::Seconds(1));
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
