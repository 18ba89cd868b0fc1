#include "cp_engine/charging_engine.h"

#include <stdlib.h>

#include <atomic>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/money.h"
#include "common/proto_time.h"
#include "common/trust/signing.h"
#include "cp_engine/meter.h"
#include "gtest/gtest.h"

namespace evnet {
namespace {

// Keeps what the engine publishes; the test decides when Kafka "acknowledges".
class FakePublisher : public EventPublisher {
 public:
  void PublishTelemetry(const v1::SupplyTelemetry& telemetry) override {
    telemetry_.push_back(telemetry);
  }
  absl::Status PublishResult(const v1::SessionResult& result,
                             std::function<void(absl::Status)> done) override {
    results_.push_back(result);
    // As a Kafka producer replaced while it queued: OK, and no report ever.
    if (!drop_callbacks_) done_.push_back(std::move(done));
    return absl::OkStatus();
  }
  // Reports every outstanding delivery with `status`.
  void Deliver(absl::Status status) {
    std::vector<std::function<void(absl::Status)>> done;
    done.swap(done_);
    for (auto& callback : done) callback(status);
  }

  std::vector<v1::SupplyTelemetry> telemetry_;
  std::vector<v1::SessionResult> results_;
  std::vector<std::function<void(absl::Status)>> done_;
  bool drop_callbacks_ = false;
};

class ChargingEngineTest : public ::testing::Test {
 protected:
  EngineOptions Options(const std::string& dir) {
    EngineOptions options;
    options.info.set_cp_id("CP-001");
    options.info.set_power_kw(22);
    options.info.set_price_eur_per_kwh(0.30);
    options.session_duration = absl::Seconds(10);
    options.state_dir = std::string(getenv("TEST_TMPDIR")) + "/" + dir;
    return options;
  }

  v1::StartSupplyRequest Start(const std::string& session) {
    v1::StartSupplyRequest request;
    request.set_session_id(session);
    request.set_request_id("r-" + session);
    request.set_driver_id("driver-alice");
    return request;
  }

  void TickFor(ChargingEngine& engine, int seconds) {
    for (int i = 0; i < seconds; ++i) {
      clock_.Advance(absl::Seconds(1));
      engine.Tick();
    }
  }

  FakeClock clock_;
  FakePublisher publisher_;
};

TEST_F(ChargingEngineTest, TelemetryCarriesTheMacOfTheSessionsKey) {
  v1::StartSupplyRequest start = Start("s-1");
  start.set_telemetry_key(std::string(32, 'k'));
  ChargingEngine engine(Options("mac"), clock_, publisher_);
  ASSERT_TRUE(engine.Recover().ok());
  ASSERT_TRUE(engine.StartSupply(start).ok());
  TickFor(engine, 3);
  ASSERT_EQ(publisher_.telemetry_.size(), 3u);
  for (const v1::SupplyTelemetry& t : publisher_.telemetry_) {
    EXPECT_TRUE(CheckTelemetryMac(start.telemetry_key(), t).ok());
    EXPECT_FALSE(CheckTelemetryMac(std::string(32, 'x'), t).ok());
  }
}

TEST_F(ChargingEngineTest, SuppliesAndBillsWhatPowerDurationAndPriceSay) {
  ChargingEngine engine(Options("bill"), clock_, publisher_);
  ASSERT_TRUE(engine.Recover().ok());
  ASSERT_TRUE(engine.StartSupply(Start("s-1")).ok());
  EXPECT_EQ(engine.state(), v1::ENGINE_STATE_SUPPLYING);

  TickFor(engine, 9);
  EXPECT_EQ(publisher_.telemetry_.size(), 9u);
  EXPECT_NEAR(publisher_.telemetry_.back().supply().energy_kwh(), 22.0 * 9 / 3600, 1e-9);
  EXPECT_TRUE(publisher_.results_.empty());

  TickFor(engine, 1);
  ASSERT_EQ(publisher_.results_.size(), 1u);
  const v1::SessionResult& result = publisher_.results_[0];
  EXPECT_EQ(result.session_id(), "s-1");
  EXPECT_EQ(result.request_id(), "r-s-1");
  EXPECT_EQ(result.driver_id(), "driver-alice");
  EXPECT_EQ(result.end_reason(), v1::SESSION_END_REASON_UNPLUGGED);
  EXPECT_NEAR(result.energy_kwh(), 22.0 * 10 / 3600, 1e-9);
  EXPECT_EQ(result.amount_cents(), AmountCents(result.energy_kwh(), 0.30));
  EXPECT_DOUBLE_EQ(result.amount_eur(), EurOfCents(result.amount_cents()));
  EXPECT_EQ(FromProto(result.ended_at()) - FromProto(result.started_at()), absl::Seconds(10));
  EXPECT_EQ(engine.state(), v1::ENGINE_STATE_IDLE);
}

TEST_F(ChargingEngineTest, StartIsIdempotentBySessionAndRefusesAnother) {
  ChargingEngine engine(Options("idempotent"), clock_, publisher_);
  ASSERT_TRUE(engine.Recover().ok());
  ASSERT_TRUE(engine.StartSupply(Start("s-1")).ok());
  TickFor(engine, 2);
  auto again = engine.StartSupply(Start("s-1"));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->supply().session_id(), "s-1");
  EXPECT_NEAR(again->supply().energy_kwh(), 22.0 * 2 / 3600, 1e-9);

  auto other = engine.StartSupply(Start("s-2"));
  EXPECT_EQ(other.status().code(), absl::StatusCode::kFailedPrecondition);

  TickFor(engine, 10);  // s-1 ends
  EXPECT_EQ(engine.StartSupply(Start("s-1")).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(engine.StartSupply(v1::StartSupplyRequest()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Central sent a start, died before it wrote that it had, and asks again
// after the session ended: the engine refuses to run it twice and
// publishes its result again, so that central bills it once it holds the
// session open (the first copy may have been set aside as unasked).
TEST_F(ChargingEngineTest, AStartAskedAgainAfterTheSessionEndedPublishesItsResultAgain) {
  ChargingEngine engine(Options("asked-again"), clock_, publisher_);
  ASSERT_TRUE(engine.Recover().ok());
  ASSERT_TRUE(engine.StartSupply(Start("s-1")).ok());
  TickFor(engine, 12);  // s-1 ends
  ASSERT_EQ(publisher_.results_.size(), 1u);
  publisher_.Deliver(absl::OkStatus());  // Kafka has it: nothing pending
  EXPECT_EQ(engine.StartSupply(Start("s-1")).status().code(), absl::StatusCode::kAlreadyExists);
  ASSERT_EQ(publisher_.results_.size(), 2u);
  EXPECT_EQ(publisher_.results_[1].SerializeAsString(),
            publisher_.results_[0].SerializeAsString());
  // Asked a third time while that copy is on its way: not published twice.
  EXPECT_EQ(engine.StartSupply(Start("s-1")).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(publisher_.results_.size(), 2u);
  EXPECT_EQ(engine.PendingResults(), 1);
  publisher_.Deliver(absl::OkStatus());
  EXPECT_EQ(engine.PendingResults(), 0);

  // The same id for another driver, or asked long after the session ran (an
  // id used again): refused, and its result is not published again.
  v1::StartSupplyRequest other_driver = Start("s-1");
  other_driver.set_driver_id("driver-mallory");
  EXPECT_EQ(engine.StartSupply(other_driver).status().code(),
            absl::StatusCode::kFailedPrecondition);
  v1::StartSupplyRequest reused = Start("s-1");
  *reused.mutable_requested_at() = ToProto(clock_.Now() + absl::Hours(1));
  EXPECT_EQ(engine.StartSupply(reused).status().code(), absl::StatusCode::kFailedPrecondition);
  v1::StartSupplyRequest same = Start("s-1");
  *same.mutable_requested_at() = ToProto(clock_.Now() - absl::Seconds(20));
  EXPECT_EQ(engine.StartSupply(same).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(publisher_.results_.size(), 3u) << "published again for the same request only";
}

TEST_F(ChargingEngineTest, EndedSessionsAreRememberedUpToABound) {
  EngineOptions options = Options("remembered");
  // A thousand journals on a real disk: slow, and not what this is about.
  options.save_journal = [](const v1::EngineJournal&) { return absl::OkStatus(); };
  ChargingEngine engine(options, clock_, publisher_);
  ASSERT_TRUE(engine.Recover().ok());
  v1::StopSupplyRequest stop;
  stop.set_reason(v1::SESSION_END_REASON_UNPLUGGED);
  for (int i = 0; i <= 1000; ++i) {  // one more than the engine remembers
    ASSERT_TRUE(engine.StartSupply(Start(absl::StrCat("s-", i))).ok());
    ASSERT_TRUE(engine.StopSupply(stop).ok());
  }
  // A late repeat of a recent session is refused; the oldest is forgotten.
  EXPECT_EQ(engine.StartSupply(Start("s-1000")).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(engine.StartSupply(Start("s-1")).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(engine.StartSupply(Start("s-0")).ok());
}

TEST_F(ChargingEngineTest, TargetEnergyEndsTheSession) {
  ChargingEngine engine(Options("target"), clock_, publisher_);
  ASSERT_TRUE(engine.Recover().ok());
  v1::StartSupplyRequest request = Start("s-1");
  request.set_target_energy_kwh(22.0 * 4 / 3600);  // four seconds' worth
  ASSERT_TRUE(engine.StartSupply(request).ok());
  TickFor(engine, 5);
  ASSERT_EQ(publisher_.results_.size(), 1u);
  EXPECT_EQ(publisher_.results_[0].end_reason(), v1::SESSION_END_REASON_TARGET_ENERGY_REACHED);
  EXPECT_NEAR(publisher_.results_[0].energy_kwh(), request.target_energy_kwh(), 1e-9);
}

TEST_F(ChargingEngineTest, StopEndsTheSessionWithTheGivenReason) {
  ChargingEngine engine(Options("stop"), clock_, publisher_);
  ASSERT_TRUE(engine.Recover().ok());
  ASSERT_TRUE(engine.StartSupply(Start("s-1")).ok());
  TickFor(engine, 3);
  v1::StopSupplyRequest stop;
  stop.set_session_id("s-1");
  stop.set_reason(v1::SESSION_END_REASON_STOPPED_BY_OPERATOR);
  auto stopped = engine.StopSupply(stop);
  ASSERT_TRUE(stopped.ok());
  EXPECT_TRUE(stopped->was_supplying());
  ASSERT_EQ(publisher_.results_.size(), 1u);
  EXPECT_EQ(publisher_.results_[0].end_reason(), v1::SESSION_END_REASON_STOPPED_BY_OPERATOR);
  EXPECT_NEAR(publisher_.results_[0].energy_kwh(), 22.0 * 3 / 3600, 1e-9);

  // Stopping again is harmless and says nothing was running.
  auto again = engine.StopSupply(stop);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->was_supplying());
  EXPECT_EQ(publisher_.results_.size(), 1u);
}

TEST_F(ChargingEngineTest, FaultFailsChecksEndsTheSessionAndRefusesStarts) {
  ChargingEngine engine(Options("fault"), clock_, publisher_);
  ASSERT_TRUE(engine.Recover().ok());
  ASSERT_TRUE(engine.Check().ok());
  ASSERT_TRUE(engine.StartSupply(Start("s-1")).ok());
  TickFor(engine, 2);

  v1::SimulateRequest fault;
  fault.set_action(v1::SIMULATE_ACTION_FAULT);
  ASSERT_TRUE(engine.Simulate(fault).ok());
  EXPECT_EQ(engine.Check().status().code(), absl::StatusCode::kUnavailable);
  ASSERT_EQ(publisher_.results_.size(), 1u);
  EXPECT_EQ(publisher_.results_[0].end_reason(), v1::SESSION_END_REASON_ENGINE_FAILURE);
  EXPECT_EQ(engine.StartSupply(Start("s-2")).status().code(),
            absl::StatusCode::kFailedPrecondition);

  v1::SimulateRequest recover;
  recover.set_action(v1::SIMULATE_ACTION_RECOVER);
  ASSERT_TRUE(engine.Simulate(recover).ok());
  auto check = engine.Check();
  ASSERT_TRUE(check.ok());
  EXPECT_EQ(check->state(), v1::ENGINE_STATE_IDLE);
  EXPECT_EQ(check->info().cp_id(), "CP-001");
}

TEST_F(ChargingEngineTest, CrashMidSessionIsBilledFromTheJournalOnce) {
  {
    ChargingEngine engine(Options("crash"), clock_, publisher_);
    ASSERT_TRUE(engine.Recover().ok());
    ASSERT_TRUE(engine.StartSupply(Start("s-1")).ok());
    TickFor(engine, 5);
    // The engine dies here: no result was produced.
  }
  ASSERT_TRUE(publisher_.results_.empty());
  clock_.Advance(absl::Seconds(30));

  {
    ChargingEngine restarted(Options("crash"), clock_, publisher_);
    ASSERT_TRUE(restarted.Recover().ok());
    ASSERT_EQ(publisher_.results_.size(), 1u);
    const v1::SessionResult& result = publisher_.results_[0];
    EXPECT_EQ(result.session_id(), "s-1");
    EXPECT_EQ(result.end_reason(), v1::SESSION_END_REASON_ENGINE_FAILURE);
    EXPECT_NEAR(result.energy_kwh(), 22.0 * 5 / 3600, 1e-9);
    EXPECT_NEAR(absl::ToDoubleSeconds(FromProto(result.ended_at()) - FromProto(result.started_at())),
                5.0, 1e-6);
    EXPECT_EQ(restarted.state(), v1::ENGINE_STATE_IDLE);
    EXPECT_EQ(restarted.StartSupply(Start("s-1")).status().code(),
              absl::StatusCode::kAlreadyExists);

    // Acknowledged: a third start of the engine publishes nothing again.
    publisher_.Deliver(absl::OkStatus());
    EXPECT_EQ(restarted.PendingResults(), 0);
  }  // stopped: its journal is written
  ChargingEngine third(Options("crash"), clock_, publisher_);
  ASSERT_TRUE(third.Recover().ok());
  EXPECT_EQ(publisher_.results_.size(), 1u);
}

TEST_F(ChargingEngineTest, ARestartWithAnotherPriceBillsTheJournaledSupplyAtItsOwn) {
  {
    EngineOptions options = Options("reprice");
    options.session_duration = absl::Hours(1);
    ChargingEngine engine(options, clock_, publisher_);
    ASSERT_TRUE(engine.Recover().ok());
    ASSERT_TRUE(engine.StartSupply(Start("s-1")).ok());
    TickFor(engine, 600);  // 3.67 kWh: 1.10 EUR at 0.30, 1.83 at 0.50
  }
  ASSERT_TRUE(publisher_.results_.empty());
  EngineOptions dearer = Options("reprice");
  dearer.info.set_price_eur_per_kwh(0.50);
  ChargingEngine restarted(dearer, clock_, publisher_);
  ASSERT_TRUE(restarted.Recover().ok());
  ASSERT_EQ(publisher_.results_.size(), 1u);
  const v1::SessionResult& result = publisher_.results_[0];
  EXPECT_DOUBLE_EQ(result.price_eur_per_kwh(), 0.30);
  EXPECT_NEAR(result.amount_eur(), result.energy_kwh() * 0.30, 0.01);
}

TEST_F(ChargingEngineTest, AJournalEndingInTheFutureEndsNoLaterThanNow) {
  v1::EngineJournal journal;
  journal.mutable_request()->set_session_id("s-1");
  journal.mutable_request()->set_driver_id("driver-alice");
  *journal.mutable_supply()->mutable_started_at() = ToProto(clock_.Now());
  journal.mutable_supply()->set_energy_kwh(5);  // no power: it would never end
  Journal saved(Options("no-power").state_dir);
  ASSERT_TRUE(saved.Open().ok());
  ASSERT_TRUE(saved.Save(journal).ok());
  ChargingEngine engine(Options("no-power"), clock_, publisher_);
  EXPECT_EQ(engine.Recover().code(), absl::StatusCode::kDataLoss);  // 0 EUR for 5 kWh
  journal.mutable_supply()->set_amount_eur(1.5);
  ASSERT_TRUE(saved.Save(journal).ok());
  ChargingEngine again(Options("no-power"), clock_, publisher_);
  ASSERT_TRUE(again.Recover().ok());
  ASSERT_EQ(publisher_.results_.size(), 1u);
  EXPECT_EQ(FromProto(publisher_.results_[0].ended_at()), clock_.Now());
}

TEST_F(ChargingEngineTest, UndeliveredResultIsKeptAndRetried) {
  ChargingEngine engine(Options("retry"), clock_, publisher_);
  ASSERT_TRUE(engine.Recover().ok());
  ASSERT_TRUE(engine.StartSupply(Start("s-1")).ok());
  TickFor(engine, 10);
  ASSERT_EQ(publisher_.results_.size(), 1u);

  publisher_.Deliver(absl::DeadlineExceededError("Kafka is away"));
  EXPECT_EQ(engine.PendingResults(), 1);
  TickFor(engine, 1);
  ASSERT_EQ(publisher_.results_.size(), 2u);  // tried again
  EXPECT_EQ(publisher_.results_[1].session_id(), "s-1");

  publisher_.Deliver(absl::OkStatus());
  EXPECT_EQ(engine.PendingResults(), 0);
  TickFor(engine, 1);
  EXPECT_EQ(publisher_.results_.size(), 2u);
}

TEST_F(ChargingEngineTest, TheAmountIsInCentsRoundedHalfUpOnceOnTheTotal) {
  EngineOptions options = Options("cents");
  options.info.set_power_kw(18);
  options.info.set_price_eur_per_kwh(0.29);
  options.session_duration = absl::Seconds(100);  // 0.5 kWh
  ChargingEngine engine(options, clock_, publisher_);
  ASSERT_TRUE(engine.Recover().ok());
  ASSERT_TRUE(engine.StartSupply(Start("s-1")).ok());
  TickFor(engine, 100);
  ASSERT_EQ(publisher_.results_.size(), 1u);
  EXPECT_NEAR(publisher_.results_[0].energy_kwh(), 0.5, 1e-9);
  EXPECT_EQ(publisher_.results_[0].amount_cents(), 15);  // 0.145 EUR, half up
  EXPECT_DOUBLE_EQ(publisher_.results_[0].amount_eur(), 0.15);
}

TEST_F(ChargingEngineTest, StartSupplyAnswersOnlyOnceTheSessionIsOnDisk) {
  absl::Notification writing, release;
  EngineOptions options = Options("durable");
  // A disk that takes its time over the journal holding the new session.
  options.save_journal = [&](const v1::EngineJournal& journal) {
    if (journal.request().session_id() == "s-1" && !release.HasBeenNotified()) {
      if (!writing.HasBeenNotified()) writing.Notify();
      release.WaitForNotification();
    }
    return absl::OkStatus();
  };
  ChargingEngine engine(options, clock_, publisher_);
  ASSERT_TRUE(engine.Recover().ok());
  absl::Notification answered;
  absl::StatusOr<v1::StartSupplyResponse> started;
  std::thread starter([&] {
    started = engine.StartSupply(Start("s-1"));
    answered.Notify();
  });
  writing.WaitForNotification();
  // The engine's lock is not held across the write: checks still answer.
  absl::StatusOr<v1::CheckResponse> check = engine.Check();
  ASSERT_TRUE(check.ok());
  EXPECT_EQ(check->state(), v1::ENGINE_STATE_SUPPLYING);
  EXPECT_FALSE(answered.WaitForNotificationWithTimeout(absl::Milliseconds(200)))
      << "StartSupply answered before its session was journaled";
  release.Notify();
  starter.join();
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_EQ(started->supply().session_id(), "s-1");
}

TEST_F(ChargingEngineTest, AJournalThatCannotBeWrittenFailsTheStart) {
  std::atomic<bool> disk_full{true};
  EngineOptions options = Options("disk-full");
  options.save_journal = [&](const v1::EngineJournal&) {
    return disk_full ? absl::ResourceExhaustedError("no space left on device") : absl::OkStatus();
  };
  ChargingEngine engine(options, clock_, publisher_);
  ASSERT_TRUE(engine.Recover().ok());
  absl::StatusOr<v1::StartSupplyResponse> started = engine.StartSupply(Start("s-1"));
  EXPECT_EQ(started.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(started.status().message().find("no space left"), std::string::npos)
      << started.status();
  EXPECT_EQ(engine.state(), v1::ENGINE_STATE_IDLE);  // not supplying what is not on disk
  TickFor(engine, 20);
  EXPECT_TRUE(publisher_.results_.empty()) << "a start that failed was billed";

  disk_full = false;
  EXPECT_TRUE(engine.StartSupply(Start("s-1")).ok());
  EXPECT_EQ(engine.state(), v1::ENGINE_STATE_SUPPLYING);
}

TEST_F(ChargingEngineTest, AWallClockSteppedMidSessionNeitherLosesNorInventsEnergy) {
  EngineOptions options = Options("wall-step");
  options.session_duration = absl::Minutes(10);
  ChargingEngine engine(options, clock_, publisher_);
  ASSERT_TRUE(engine.Recover().ok());
  ASSERT_TRUE(engine.StartSupply(Start("s-1")).ok());
  TickFor(engine, 60);
  clock_.StepWall(-absl::Hours(1));  // NTP sets the clock back
  TickFor(engine, 60);
  double last = 0;
  for (const v1::SupplyTelemetry& t : publisher_.telemetry_) {
    EXPECT_GE(t.supply().energy_kwh(), last);
    last = t.supply().energy_kwh();
  }
  EXPECT_NEAR(last, 22.0 * 120 / 3600, 1e-9);
  EXPECT_EQ(FromProto(publisher_.telemetry_.back().measured_at()), clock_.Now());

  clock_.StepWall(absl::Hours(3));  // and far forward
  TickFor(engine, 1);
  EXPECT_EQ(engine.state(), v1::ENGINE_STATE_SUPPLYING) << "ended by a wall clock step";
  EXPECT_NEAR(publisher_.telemetry_.back().supply().energy_kwh(), 22.0 * 121 / 3600, 1e-9);

  v1::StopSupplyRequest stop;
  stop.set_reason(v1::SESSION_END_REASON_UNPLUGGED);
  ASSERT_TRUE(engine.StopSupply(stop).ok());
  ASSERT_EQ(publisher_.results_.size(), 1u);
  const v1::SessionResult& result = publisher_.results_[0];
  EXPECT_NEAR(result.energy_kwh(), 22.0 * 121 / 3600, 1e-9);
  EXPECT_EQ(result.amount_cents(), AmountCents(result.energy_kwh(), 0.30));
  // Its wall start and how long it ran: the steps moved neither.
  EXPECT_EQ(FromProto(result.ended_at()) - FromProto(result.started_at()), absl::Seconds(121));
}

TEST_F(ChargingEngineTest, ASessionEndsAfterItsDurationOnTheSteadyClock) {
  ChargingEngine engine(Options("steady-end"), clock_, publisher_);
  ASSERT_TRUE(engine.Recover().ok());
  ASSERT_TRUE(engine.StartSupply(Start("s-1")).ok());
  TickFor(engine, 4);
  clock_.StepWall(-absl::Minutes(5));
  TickFor(engine, 6);
  ASSERT_EQ(publisher_.results_.size(), 1u);
  const v1::SessionResult& result = publisher_.results_[0];
  EXPECT_NEAR(result.energy_kwh(), 22.0 * 10 / 3600, 1e-9);
  // Its end is its start and how long it ran, whatever the wall clock did.
  EXPECT_EQ(FromProto(result.ended_at()) - FromProto(result.started_at()), absl::Seconds(10));
}

TEST_F(ChargingEngineTest, CheckListsTheResultsKafkaHasNotAcknowledged) {
  ChargingEngine engine(Options("pending"), clock_, publisher_);
  ASSERT_TRUE(engine.Recover().ok());
  v1::StopSupplyRequest stop;
  for (const char* session : {"s-1", "s-2"}) {
    ASSERT_TRUE(engine.StartSupply(Start(session)).ok());
    ASSERT_TRUE(engine.StopSupply(stop).ok());
  }
  absl::StatusOr<v1::CheckResponse> check = engine.Check();
  ASSERT_TRUE(check.ok());
  ASSERT_EQ(check->pending_results_size(), 2);
  EXPECT_EQ(check->pending_results(0), "s-1");
  EXPECT_EQ(check->pending_results(1), "s-2");

  publisher_.Deliver(absl::OkStatus());
  check = engine.Check();
  ASSERT_TRUE(check.ok());
  EXPECT_EQ(check->pending_results_size(), 0);
}

TEST_F(ChargingEngineTest, AResultWhoseDeliveryNeverReportsIsPublishedAgain) {
  EngineOptions options = Options("lost-report");
  options.result_delivery_timeout = absl::Minutes(1);
  ChargingEngine engine(options, clock_, publisher_);
  ASSERT_TRUE(engine.Recover().ok());
  publisher_.drop_callbacks_ = true;
  ASSERT_TRUE(engine.StartSupply(Start("s-1")).ok());
  ASSERT_TRUE(engine.StopSupply(v1::StopSupplyRequest()).ok());
  ASSERT_EQ(publisher_.results_.size(), 1u);

  TickFor(engine, 59);
  EXPECT_EQ(publisher_.results_.size(), 1u) << "published again while its report may come";
  publisher_.drop_callbacks_ = false;
  TickFor(engine, 1);
  ASSERT_EQ(publisher_.results_.size(), 2u);
  EXPECT_EQ(publisher_.results_[1].session_id(), "s-1");
  EXPECT_EQ(engine.PendingResults(), 1);

  publisher_.Deliver(absl::OkStatus());
  EXPECT_EQ(engine.PendingResults(), 0);
  TickFor(engine, 120);
  EXPECT_EQ(publisher_.results_.size(), 2u);
}

TEST_F(ChargingEngineTest, ALateFailureOfAnAbandonedAttemptLeavesTheNewOneInFlight) {
  EngineOptions options = Options("late-report");
  options.result_delivery_timeout = absl::Minutes(1);
  ChargingEngine engine(options, clock_, publisher_);
  ASSERT_TRUE(engine.Recover().ok());
  ASSERT_TRUE(engine.StartSupply(Start("s-1")).ok());
  ASSERT_TRUE(engine.StopSupply(v1::StopSupplyRequest()).ok());
  TickFor(engine, 60);
  ASSERT_EQ(publisher_.results_.size(), 2u);
  ASSERT_EQ(publisher_.done_.size(), 2u);

  publisher_.done_[0](absl::DeadlineExceededError("message timed out"));
  TickFor(engine, 1);
  EXPECT_EQ(publisher_.results_.size(), 2u) << "the attempt in flight was queued once more";
  EXPECT_EQ(engine.PendingResults(), 1);
  publisher_.done_[1](absl::OkStatus());
  EXPECT_EQ(engine.PendingResults(), 0);
  TickFor(engine, 120);
  EXPECT_EQ(publisher_.results_.size(), 2u);
}

TEST(MeterTest, EnergyIsPowerTimesTimeAndTheAmountIsInCents) {
  MeterReading reading = ReadMeter(7.2, 0.35, absl::Minutes(30));
  EXPECT_DOUBLE_EQ(reading.energy_kwh, 3.6);
  EXPECT_DOUBLE_EQ(reading.amount_eur, 1.26);
  EXPECT_EQ(TimeToSupply(22, 11), absl::Minutes(30));
}

}  // namespace
}  // namespace evnet
