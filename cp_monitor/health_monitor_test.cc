#include "cp_monitor/health_monitor.h"

#include <vector>

#include "common/proto_time.h"
#include "gtest/gtest.h"

namespace evnet {
namespace {

class FakeEngine : public EngineClient {
 public:
  absl::StatusOr<v1::CheckResponse> Check(absl::Duration) override {
    if (!up) return absl::UnavailableError("connection refused");
    v1::CheckResponse response;
    response.mutable_info()->set_cp_id(cp_id);
    response.mutable_info()->set_power_kw(22);
    response.set_state(supplying ? v1::ENGINE_STATE_SUPPLYING : v1::ENGINE_STATE_IDLE);
    if (supplying) response.mutable_supply()->set_session_id("s-1");
    for (const std::string& id : pending) response.add_pending_results(id);
    return response;
  }
  absl::Status StartSupply(const v1::StartSupplyRequest& request, absl::Duration) override {
    starts.push_back(request);
    return up ? absl::OkStatus() : absl::UnavailableError("connection refused");
  }
  absl::Status StopSupply(const v1::StopSupplyRequest& request, absl::Duration) override {
    stops.push_back(request);
    return absl::OkStatus();
  }

  bool up = true;
  bool supplying = false;
  std::vector<std::string> pending;  // results Kafka has not acknowledged
  std::string cp_id = "CP-001";
  std::vector<v1::StartSupplyRequest> starts;
  std::vector<v1::StopSupplyRequest> stops;
};

class FakeUplink : public CentralUplink {
 public:
  bool Send(const v1::MonitorMessage& message) override {
    if (!connected) return false;
    sent.push_back(message);
    return true;
  }
  const v1::HealthReport& last_health() const {
    for (auto it = sent.rbegin(); it != sent.rend(); ++it) {
      if (it->has_health()) return it->health();
    }
    static const v1::HealthReport* none = new v1::HealthReport();
    return *none;
  }
  bool connected = true;
  std::vector<v1::MonitorMessage> sent;
};

class MonitorTest : public ::testing::Test {
 protected:
  explicit MonitorTest(MonitorOptions options = Options())
      : monitor_(std::move(options), clock_, engine_) {
    monitor_.set_uplink(&uplink_);
  }

  static MonitorOptions Options() {
    MonitorOptions options;
    options.cp_id = "CP-001";
    options.failure_threshold = 3;
    return options;
  }

  // One check per second, as the monitor's ticker does.
  void Check() {
    clock_.Advance(absl::Seconds(1));
    monitor_.CheckOnce();
  }

  FakeClock clock_;
  FakeEngine engine_;
  FakeUplink uplink_;
  Monitor monitor_;
};

TEST_F(MonitorTest, HealthyEngineIsReportedOkEverySecondWithTheCheckTime) {
  Check();
  Check();
  ASSERT_FALSE(uplink_.sent.empty());
  EXPECT_TRUE(uplink_.last_health().engine_ok());
  EXPECT_EQ(uplink_.last_health().engine_state(), v1::ENGINE_STATE_IDLE);
  EXPECT_EQ(FromProto(uplink_.last_health().checked_at()), clock_.Now());
}

TEST_F(MonitorTest, FaultIsDeclaredOnTheThirdFailureInARowNotBefore) {
  Check();
  engine_.up = false;
  Check();
  Check();
  EXPECT_TRUE(uplink_.last_health().engine_ok());
  EXPECT_EQ(uplink_.last_health().consecutive_failures(), 2);
  EXPECT_FALSE(monitor_.engine_faulty());
  Check();
  EXPECT_TRUE(monitor_.engine_faulty());
  EXPECT_FALSE(uplink_.last_health().engine_ok());
  EXPECT_EQ(uplink_.last_health().engine_state(), v1::ENGINE_STATE_FAULT);
  EXPECT_EQ(uplink_.last_health().consecutive_failures(), 3);
}

TEST_F(MonitorTest, AFailingCheckIsKnownSoThatTheNextComesSooner) {
  Check();
  EXPECT_FALSE(monitor_.checks_failing());
  engine_.up = false;
  Check();
  EXPECT_TRUE(monitor_.checks_failing());
  engine_.up = true;
  Check();
  EXPECT_FALSE(monitor_.checks_failing());
}

TEST_F(MonitorTest, TheEngineIsKnownOnceItAnswered) {
  engine_.up = false;
  Check();
  EXPECT_FALSE(monitor_.engine_known());
  engine_.up = true;
  Check();
  EXPECT_TRUE(monitor_.engine_known());
  engine_.up = false;
  Check();
  EXPECT_TRUE(monitor_.engine_known());  // it answered once: its info stands
}

// A monitor started (at the clock's start) before its engine listens.
class MonitorStartTest : public MonitorTest {
 protected:
  MonitorStartTest() : MonitorTest(WithGrace()) { engine_.up = false; }
  static MonitorOptions WithGrace() {
    MonitorOptions options = Options();
    options.startup_grace = absl::Seconds(10);
    return options;
  }
  void Checks(int n) {
    for (int i = 0; i < n; ++i) Check();
  }
};

TEST_F(MonitorStartTest, AnEngineStartingLateWithinTheGraceIsNoFault) {
  Checks(9);  // nine seconds of refused checks
  EXPECT_FALSE(monitor_.engine_faulty());
  EXPECT_TRUE(uplink_.sent.empty()) << "central was told something before the engine answered";
  engine_.up = true;
  Checks(1);
  EXPECT_TRUE(monitor_.engine_known());
  EXPECT_TRUE(uplink_.last_health().engine_ok());
  EXPECT_EQ(uplink_.last_health().consecutive_failures(), 0);
  // Once it has answered, a failure counts at once: no grace after start.
  engine_.up = false;
  Checks(3);
  EXPECT_TRUE(monitor_.engine_faulty());
}

TEST_F(MonitorStartTest, AnEngineThatNeverComesUpIsAFaultAfterTheGrace) {
  int checks = 0;
  while (!monitor_.engine_faulty() && checks < 30) {
    Checks(1);
    ++checks;
  }
  EXPECT_TRUE(monitor_.engine_faulty());
  EXPECT_EQ(checks, 12);  // nine checks within the grace, then three failures
  EXPECT_FALSE(uplink_.last_health().engine_ok());
}

TEST_F(MonitorStartTest, AWallClockSetBackDoesNotStretchTheGrace) {
  clock_.StepWall(-absl::Hours(1));
  int checks = 0;
  while (!monitor_.engine_faulty() && checks < 30) {
    Checks(1);
    ++checks;
  }
  EXPECT_TRUE(monitor_.engine_faulty());
  EXPECT_EQ(checks, 12);  // as without the step: the grace is ten seconds of time passing
  EXPECT_EQ(FromProto(uplink_.last_health().checked_at()), clock_.Now());
}

TEST_F(MonitorTest, ReportsCarryTheResultsTheEngineStillHolds) {
  engine_.pending = {"s-1", "s-2"};
  Check();
  ASSERT_EQ(uplink_.last_health().pending_results_size(), 2);
  EXPECT_EQ(uplink_.last_health().pending_results(0), "s-1");
  EXPECT_EQ(uplink_.last_health().pending_results(1), "s-2");
  EXPECT_EQ(monitor_.LastReport().health().pending_results_size(), 2);

  // An engine that does not answer still holds them in its journal.
  engine_.up = false;
  for (int i = 0; i < 3; ++i) Check();
  ASSERT_TRUE(monitor_.engine_faulty());
  EXPECT_EQ(uplink_.last_health().pending_results_size(), 2);

  engine_.up = true;
  engine_.pending = {"s-2"};
  Check();
  ASSERT_EQ(uplink_.last_health().pending_results_size(), 1);
  EXPECT_EQ(uplink_.last_health().pending_results(0), "s-2");
  engine_.pending.clear();
  Check();
  EXPECT_EQ(uplink_.last_health().pending_results_size(), 0);
}

TEST_F(MonitorTest, ASuccessInBetweenResetsTheCount) {
  engine_.up = false;
  Check();
  Check();
  engine_.up = true;
  Check();
  engine_.up = false;
  Check();
  Check();
  EXPECT_FALSE(monitor_.engine_faulty());
  Check();
  EXPECT_TRUE(monitor_.engine_faulty());
}

TEST_F(MonitorTest, FirstSuccessAfterAFaultRestoresHealth) {
  engine_.up = false;
  for (int i = 0; i < 5; ++i) Check();
  ASSERT_TRUE(monitor_.engine_faulty());
  engine_.up = true;
  engine_.supplying = true;
  Check();
  EXPECT_FALSE(monitor_.engine_faulty());
  EXPECT_TRUE(uplink_.last_health().engine_ok());
  EXPECT_EQ(uplink_.last_health().engine_state(), v1::ENGINE_STATE_SUPPLYING);
  EXPECT_EQ(uplink_.last_health().supply().session_id(), "s-1");
}

TEST_F(MonitorTest, AFaultWhileCentralIsAwayIsReportedWhenItIsBack) {
  uplink_.connected = false;
  engine_.up = false;
  for (int i = 0; i < 3; ++i) Check();
  EXPECT_TRUE(uplink_.sent.empty());
  v1::MonitorMessage pending = monitor_.LastReport();
  EXPECT_FALSE(pending.health().engine_ok());
  uplink_.connected = true;
  Check();
  EXPECT_FALSE(uplink_.last_health().engine_ok());
}

TEST_F(MonitorTest, RegistrationCarriesWhatTheEngineSaysAboutItself) {
  EXPECT_EQ(monitor_.Registration().register_().cp_id(), "CP-001");
  Check();
  // The engine's info changed what central knows: a new registration went up.
  ASSERT_GE(uplink_.sent.size(), 2u);
  EXPECT_TRUE(uplink_.sent[0].has_register_());
  EXPECT_DOUBLE_EQ(uplink_.sent[0].register_().power_kw(), 22);
  EXPECT_DOUBLE_EQ(monitor_.Registration().register_().power_kw(), 22);
}

TEST_F(MonitorTest, AnEngineWithAnotherIdCountsAsFailing) {
  engine_.cp_id = "CP-999";
  for (int i = 0; i < 3; ++i) Check();
  EXPECT_TRUE(monitor_.engine_faulty());
}

TEST_F(MonitorTest, CommandsAreRelayedAndTheirOutcomeReported) {
  v1::CentralCommand start;
  start.set_command_id("c-1");
  start.mutable_start_supply()->set_session_id("s-9");
  v1::CommandResult ok = monitor_.HandleCommand(start);
  EXPECT_EQ(ok.command_id(), "c-1");
  EXPECT_EQ(ok.code(), 0);
  ASSERT_EQ(engine_.starts.size(), 1u);
  EXPECT_EQ(engine_.starts[0].session_id(), "s-9");

  engine_.up = false;
  v1::CommandResult failed = monitor_.HandleCommand(start);
  EXPECT_EQ(failed.code(), static_cast<int>(absl::StatusCode::kUnavailable));
  EXPECT_NE(failed.message().find("refused"), std::string::npos);

  v1::CentralCommand stop;
  stop.set_command_id("c-2");
  stop.mutable_stop_supply()->set_reason(v1::SESSION_END_REASON_STOPPED_BY_OPERATOR);
  EXPECT_EQ(monitor_.HandleCommand(stop).code(), 0);
  ASSERT_EQ(engine_.stops.size(), 1u);
  EXPECT_EQ(engine_.stops[0].reason(), v1::SESSION_END_REASON_STOPPED_BY_OPERATOR);

  EXPECT_EQ(monitor_.HandleCommand(v1::CentralCommand()).code(),
            static_cast<int>(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace evnet
