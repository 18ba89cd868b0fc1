#include "ocpp_gateway/charger.h"

#include <cstdlib>
#include <deque>

#include "common/clock.h"
#include "common/json_codec.h"
#include "common/proto_time.h"
#include "common/trust/signing.h"
#include "common/kafka/topics.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace evnet::ocpp {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// What a charger did: frames to the charger, messages to central, records
// to Kafka (whose delivery the test reports when it chooses).
class FakeLinks : public ChargerLinks {
 public:
  struct Record {
    std::string topic, key, value;
    std::function<void(absl::Status)> done;
  };
  void SendToCharger(const std::string& frame) override { frames.push_back(frame); }
  bool SendToCentral(const v1::MonitorMessage& message) override {
    if (!linked) return false;
    central.push_back(message);
    return true;
  }
  void Publish(absl::string_view topic, const std::string& key, const std::string& value,
               std::function<void(absl::Status)> done) override {
    records.push_back({std::string(topic), key, value, std::move(done)});
  }
  // Shared at once, unless a test holds it back.
  void ShareJournal(const v1::OcppChargerJournal& journal,
                    std::function<void(absl::Status)> done) override {
    shared.push_back(journal);
    if (hold_journals) {
      held.push_back(std::move(done));
    } else {
      done(absl::OkStatus());
    }
  }
  std::string TakeFrame() {
    if (frames.empty()) return "";
    std::string frame = frames.front();
    frames.pop_front();
    return frame;
  }
  // The last health report, and the command results, sent to central.
  v1::HealthReport LastHealth() const {
    for (auto it = central.rbegin(); it != central.rend(); ++it) {
      if (it->has_health()) return it->health();
    }
    return {};
  }
  std::vector<v1::CommandResult> Results() const {
    std::vector<v1::CommandResult> out;
    for (const auto& m : central) {
      if (m.has_command_result()) out.push_back(m.command_result());
    }
    return out;
  }
  // The last Authorize asked of central.
  v1::Authorize LastAsk() const {
    for (auto it = central.rbegin(); it != central.rend(); ++it) {
      if (it->has_authorize()) return it->authorize();
    }
    return {};
  }
  std::vector<Record> Published(const char* topic) const {
    std::vector<Record> out;
    for (const Record& r : records) {
      if (r.topic == topic) out.push_back(r);
    }
    return out;
  }

  std::vector<v1::OcppChargerJournal> shared;
  bool linked = true;  // to central
  bool hold_journals = false;
  std::vector<std::function<void(absl::Status)>> held;
  std::deque<std::string> frames;
  std::vector<v1::MonitorMessage> central;
  std::vector<Record> records;
};

const absl::Time kNow = absl::FromUnixSeconds(1800000000);
const std::string kTelemetryKey(32, 'k');

class ChargerTest : public ::testing::Test {
 protected:
  void SetUp() override { charger_ = Make(); }

  std::unique_ptr<Charger> Make(double price_eur_per_kwh = 0.40,
                                const LocalList* local_list = nullptr) {
    ChargerOptions options;
    options.info.set_cp_id("OCPP-1");
    options.info.set_price_eur_per_kwh(price_eur_per_kwh);
    options.info.set_power_kw(11);
    options.clock = &clock_;
    options.local_list = local_list;
    options.ask_charger = ask_charger_;
    options.journal_path = std::string(getenv("TEST_TMPDIR")) + "/" +
                           ::testing::UnitTest::GetInstance()->current_test_info()->name() +
                           ".json";
    auto charger = std::make_unique<Charger>(options, links_);
    EXPECT_TRUE(charger->Recover().ok());
    return charger;
  }

  // The frame answering `call` from the charger.
  std::string Say(const std::string& call) {
    charger_->OnFrame(call);
    return links_.TakeFrame();
  }

  // Central asks for a session; the charger accepts the remote start.
  std::string StartSession(const std::string& session = "s-1") {
    v1::CentralCommand command;
    command.set_command_id("start-" + session);
    command.mutable_start_supply()->set_session_id(session);
    command.mutable_start_supply()->set_request_id(session.substr(2));
    command.mutable_start_supply()->set_driver_id("driver-alice");
    command.mutable_start_supply()->set_telemetry_key(kTelemetryKey);
    charger_->OnCommand(command);
    return links_.TakeFrame();
  }

  // Central answers the last ask: `status`, and for an accepted start, a
  // session of `driver`.
  void CentralSays(const std::string& status, const std::string& driver = "") {
    const v1::Authorize ask = links_.LastAsk();
    ASSERT_FALSE(ask.ask_id().empty()) << "central was not asked";
    v1::CentralCommand answer;
    answer.set_command_id(ask.ask_id());
    answer.mutable_authorization()->set_status(status);
    if (status == "Accepted" && ask.has_start()) {
      v1::StartSupplyRequest* session = answer.mutable_authorization()->mutable_session();
      session->set_session_id("s-card-1");
      session->set_request_id("card-1");
      session->set_driver_id(driver);
      session->set_telemetry_key(kTelemetryKey);
    }
    charger_->OnCommand(answer);
  }

  FakeClock clock_{kNow};
  FakeLinks links_;
  bool ask_charger_ = false;  // the reconciliation's TriggerMessages
  std::unique_ptr<Charger> charger_;
};

constexpr char kStart[] =
    R"([2,"c1","StartTransaction",{"connectorId":1,"idTag":"driver-alice","meterStart":5000,"timestamp":"2027-01-15T08:00:00Z"}])";
constexpr char kStop[] =
    R"([2,"c9","StopTransaction",{"transactionId":1,"meterStop":12500,"timestamp":"2027-01-15T08:30:00Z","reason":"EVDisconnected"}])";

TEST_F(ChargerTest, BootAndHeartbeatAreAnswered) {
  const std::string boot =
      Say(R"([2,"b","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}])");
  EXPECT_THAT(boot, StartsWith(R"([3,"b",{"status":"Accepted","currentTime":")"));
  EXPECT_THAT(boot, HasSubstr(R"("interval":60)"));
  EXPECT_THAT(Say(R"([2,"h","Heartbeat",{}])"), StartsWith(R"([3,"h",{"currentTime":"2027-01-15)"));
  EXPECT_EQ(charger_->Hello().register_().cp_id(), "OCPP-1");
}

TEST_F(ChargerTest, StatusNotificationIsTheCpsHealth) {
  Say(R"([2,"s","StatusNotification",{"connectorId":1,"errorCode":"GroundFailure","status":"Faulted"}])");
  EXPECT_FALSE(links_.LastHealth().engine_ok());
  EXPECT_EQ(links_.LastHealth().engine_state(), v1::ENGINE_STATE_FAULT);
  Say(R"([2,"s","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"Available"}])");
  EXPECT_TRUE(links_.LastHealth().engine_ok());
  EXPECT_EQ(links_.LastHealth().engine_state(), v1::ENGINE_STATE_IDLE);
}

TEST_F(ChargerTest, ASessionIsBilledFromTheChargersMeterOnce) {
  const std::string remote = StartSession();
  EXPECT_THAT(remote, StartsWith(R"([2,"evnet-1","RemoteStartTransaction",{"connectorId":1,"idTag":"driver-alice"}])"));
  EXPECT_TRUE(links_.Results().empty()) << "answered before the charger did";
  Say(R"([3,"evnet-1",{"status":"Accepted"}])");
  ASSERT_EQ(links_.Results().size(), 1u);
  EXPECT_EQ(links_.Results()[0].code(), 0);

  EXPECT_EQ(Say(kStart), R"([3,"c1",{"idTagInfo":{"status":"Accepted"},"transactionId":1}])");
  EXPECT_EQ(links_.LastHealth().engine_state(), v1::ENGINE_STATE_SUPPLYING);
  EXPECT_EQ(links_.LastHealth().supply().session_id(), "s-1");
  // A repeat of StartTransaction is the same transaction.
  EXPECT_EQ(Say(kStart), R"([3,"c1",{"idTagInfo":{"status":"Accepted"},"transactionId":1}])");

  Say(R"([2,"m","MeterValues",{"connectorId":1,"transactionId":1,"meterValue":[{"timestamp":"2027-01-15T08:10:00Z","sampledValue":[{"value":"7.5","measurand":"Energy.Active.Import.Register","unit":"kWh"},{"value":"11000","measurand":"Power.Active.Import","unit":"W"}]}]}])");
  ASSERT_EQ(links_.Published(kSupplyTelemetryTopic).size(), 1u);
  auto telemetry = FromJson<v1::SupplyTelemetry>(links_.Published(kSupplyTelemetryTopic)[0].value);
  ASSERT_TRUE(telemetry.ok());
  EXPECT_DOUBLE_EQ(telemetry->supply().energy_kwh(), 2.5);  // 7500 - 5000 Wh
  EXPECT_DOUBLE_EQ(telemetry->supply().power_kw(), 11);
  EXPECT_DOUBLE_EQ(telemetry->supply().amount_eur(), 1.0);
  EXPECT_TRUE(CheckTelemetryMac(kTelemetryKey, *telemetry).ok());  // central's key for the session

  // Answered only once Kafka has the result.
  EXPECT_EQ(Say(kStop), "");
  auto results = links_.Published(kSessionResultsTopic);
  ASSERT_EQ(results.size(), 1u);
  auto result = FromJson<v1::SessionResult>(results[0].value);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->session_id(), "s-1");
  EXPECT_EQ(result->driver_id(), "driver-alice");
  EXPECT_DOUBLE_EQ(result->energy_kwh(), 7.5);
  EXPECT_EQ(result->amount_cents(), 300);
  EXPECT_DOUBLE_EQ(result->amount_eur(), 3.0);
  EXPECT_EQ(result->end_reason(), v1::SESSION_END_REASON_UNPLUGGED);
  EXPECT_EQ(result->ended_at().seconds() - result->started_at().seconds(), 1800);
  results[0].done(absl::OkStatus());
  EXPECT_EQ(links_.TakeFrame(), R"([3,"c9",{"idTagInfo":{"status":"Accepted"}}])");
  EXPECT_EQ(links_.LastHealth().engine_state(), v1::ENGINE_STATE_IDLE);

  // Sent again after a reconnect: answered, not billed again.
  EXPECT_EQ(Say(kStop), R"([3,"c9",{"idTagInfo":{"status":"Accepted"}}])");
  EXPECT_EQ(links_.Published(kSessionResultsTopic).size(), 1u);
}

// A three-phase charger's registers: the whole when given, else the sum of
// the phases (neutral and line-to-line readings add nothing); the car's
// own values and a signed meter's blob are no reading; every context is.
TEST_F(ChargerTest, MeterValuesPerPhaseAreSummedUnlessTheWholeIsGiven) {
  StartSession();
  Say(R"([3,"evnet-1",{"status":"Accepted"}])");
  Say(kStart);  // meterStart 5000 Wh
  auto last = [&] {
    auto telemetry = FromJson<v1::SupplyTelemetry>(links_.Published(kSupplyTelemetryTopic).back().value);
    EXPECT_TRUE(telemetry.ok());
    return telemetry->supply();
  };
  Say(R"([2,"m1","MeterValues",{"connectorId":1,"transactionId":1,"meterValue":[{"timestamp":"2027-01-15T08:10:00Z","sampledValue":[
      {"value":"2.5","measurand":"Energy.Active.Import.Register","unit":"kWh","phase":"L1","context":"Sample.Periodic"},
      {"value":"2.5","measurand":"Energy.Active.Import.Register","unit":"kWh","phase":"L2","context":"Sample.Periodic"},
      {"value":"2.5","measurand":"Energy.Active.Import.Register","unit":"kWh","phase":"L3","context":"Sample.Periodic"},
      {"value":"230","measurand":"Energy.Active.Import.Register","unit":"Wh","phase":"N"},
      {"value":"3700","measurand":"Power.Active.Import","unit":"W","phase":"L1-N"},
      {"value":"3700","measurand":"Power.Active.Import","unit":"W","phase":"L2-N"},
      {"value":"3600","measurand":"Power.Active.Import","unit":"W","phase":"L3-N"},
      {"value":"400","measurand":"Power.Active.Import","unit":"W","phase":"L1-L2"},
      {"value":"80","measurand":"SoC","unit":"Percent","location":"EV"},
      {"value":"9000","measurand":"Energy.Active.Import.Register","location":"EV"},
      {"value":"AAECAw==","format":"SignedData","measurand":"Energy.Active.Import.Register"}]}]}])");
  EXPECT_DOUBLE_EQ(last().energy_kwh(), 2.5);  // 7500 - 5000 Wh
  EXPECT_DOUBLE_EQ(last().power_kw(), 11);
  Say(R"([2,"m2","MeterValues",{"connectorId":1,"transactionId":1,"meterValue":[{"timestamp":"2027-01-15T08:20:00Z","sampledValue":[
      {"value":"3000","measurand":"Energy.Active.Import.Register","unit":"Wh","phase":"L1","context":"Transaction.End"},
      {"value":"9000","measurand":"Energy.Active.Import.Register","unit":"Wh","context":"Transaction.End"}]}]}])");
  EXPECT_DOUBLE_EQ(last().energy_kwh(), 4.0) << "the whole, not the phase";
}

// A security event is answered at once (never holding the charger's queue)
// and goes to central, for its audit log.
TEST_F(ChargerTest, ASecurityEventIsAnsweredAtOnceAndToldToCentral) {
  EXPECT_EQ(
      Say(R"([2,"e1","SecurityEventNotification",{"type":"TamperDetectionActivated","timestamp":"2027-01-15T08:00:00Z","techInfo":"lid opened"}])"),
      R"([3,"e1",{}])");
  ASSERT_FALSE(links_.central.empty());
  const v1::MonitorMessage& told = links_.central.back();
  ASSERT_TRUE(told.has_security_event());
  EXPECT_EQ(told.security_event().type(), "TamperDetectionActivated");
  EXPECT_EQ(told.security_event().tech_info(), "lid opened");
  EXPECT_EQ(FromProto(told.security_event().at()),
            absl::FromCivil(absl::CivilSecond(2027, 1, 15, 8, 0, 0), absl::UTCTimeZone()));
  // One OCPP does not allow is its CALLERROR, and nothing for central.
  const size_t before = links_.central.size();
  EXPECT_THAT(Say(R"([2,"e2","SecurityEventNotification",{"techInfo":"no type"}])"),
              HasSubstr("OccurenceConstraintViolation"));
  EXPECT_EQ(links_.central.size(), before);
  // While central is out of reach the charger is told to send it again:
  // nothing would have recorded it.
  links_.linked = false;
  EXPECT_THAT(
      Say(R"([2,"e3","SecurityEventNotification",{"type":"TamperDetectionActivated","timestamp":"2027-01-15T08:01:00Z"}])"),
      StartsWith(R"([4,"e3","InternalError")"));
}

// A StopTransaction with id -1 (or one the gateway never gave) is the stop
// of the running transaction of the same idTag, billed once; without a
// matching idTag it bills nothing.
TEST_F(ChargerTest, AStopWithAnUnknownTransactionIdIsMatchedByItsIdTag) {
  StartSession();
  Say(R"([3,"evnet-1",{"status":"Accepted"}])");
  Say(kStart);  // meterStart 5000 Wh, transaction 1
  EXPECT_EQ(
      Say(R"([2,"c8","StopTransaction",{"transactionId":-1,"idTag":"driver-bob","meterStop":6000,"timestamp":"2027-01-15T08:30:00Z"}])"),
      R"([3,"c8",{}])");
  EXPECT_EQ(
      Say(R"([2,"c8","StopTransaction",{"transactionId":-1,"meterStop":6000,"timestamp":"2027-01-15T08:30:00Z"}])"),
      R"([3,"c8",{}])");
  // A stale stop: from before the transaction began, or below its meterStart.
  EXPECT_EQ(
      Say(R"([2,"c8","StopTransaction",{"transactionId":-1,"idTag":"driver-alice","meterStop":6000,"timestamp":"2027-01-15T07:30:00Z"}])"),
      R"([3,"c8",{}])");
  EXPECT_EQ(
      Say(R"([2,"c8","StopTransaction",{"transactionId":-1,"idTag":"driver-alice","meterStop":4000,"timestamp":"2027-01-15T08:30:00Z"}])"),
      R"([3,"c8",{}])");
  EXPECT_TRUE(links_.Published(kSessionResultsTopic).empty()) << "billed without a match";
  EXPECT_EQ(
      Say(R"([2,"c9","StopTransaction",{"transactionId":-1,"idTag":"DRIVER-ALICE","meterStop":6000,"timestamp":"2027-01-15T08:30:00Z"}])"),
      "");
  auto results = links_.Published(kSessionResultsTopic);
  ASSERT_EQ(results.size(), 1u);
  auto result = FromJson<v1::SessionResult>(results[0].value);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->session_id(), "s-1");
  EXPECT_DOUBLE_EQ(result->energy_kwh(), 1.0);
  results[0].done(absl::OkStatus());
  EXPECT_EQ(links_.TakeFrame(), R"([3,"c9",{"idTagInfo":{"status":"Accepted"}}])");
  EXPECT_EQ(links_.LastHealth().engine_state(), v1::ENGINE_STATE_IDLE);
  // Its repeat finds nothing running: answered, not billed again.
  Say(R"([2,"c9","StopTransaction",{"transactionId":-1,"idTag":"driver-alice","meterStop":6000,"timestamp":"2027-01-15T08:30:00Z"}])");
  EXPECT_EQ(links_.Published(kSessionResultsTopic).size(), 1u);
}

TEST_F(ChargerTest, TheResultsAmountIsInCentsRoundedHalfUpOnTheTotal) {
  charger_ = Make(0.29);
  StartSession();
  Say(R"([3,"evnet-1",{"status":"Accepted"}])");
  Say(kStart);  // meterStart 5000 Wh
  Say(R"([2,"c9","StopTransaction",{"transactionId":1,"meterStop":5500,"timestamp":"2027-01-15T08:30:00Z"}])");
  auto results = links_.Published(kSessionResultsTopic);
  ASSERT_EQ(results.size(), 1u);
  auto result = FromJson<v1::SessionResult>(results[0].value);
  ASSERT_TRUE(result.ok());
  EXPECT_DOUBLE_EQ(result->energy_kwh(), 0.5);
  EXPECT_EQ(result->amount_cents(), 15);  // 0.145 EUR, half up: not 0.14
  EXPECT_DOUBLE_EQ(result->amount_eur(), 0.15);
}

TEST_F(ChargerTest, AResultKafkaRefusedIsAnErrorTheChargerRetries) {
  StartSession();
  Say(R"([3,"evnet-1",{"status":"Accepted"}])");
  Say(kStart);
  Say(kStop);
  links_.Published(kSessionResultsTopic)[0].done(absl::UnavailableError("broker down"));
  EXPECT_THAT(links_.TakeFrame(), StartsWith(R"([4,"c9","InternalError")"));
  Say(kStop);
  auto results = links_.Published(kSessionResultsTopic);
  ASSERT_EQ(results.size(), 2u);
  results[1].done(absl::OkStatus());
  EXPECT_EQ(links_.TakeFrame(), R"([3,"c9",{"idTagInfo":{"status":"Accepted"}}])");
}

TEST_F(ChargerTest, ATransactionSurvivesTheGatewaysRestart) {
  StartSession();
  Say(R"([3,"evnet-1",{"status":"Accepted"}])");
  Say(kStart);
  charger_ = Make();  // a new gateway process, the same state dir
  charger_->Tick();
  EXPECT_EQ(links_.LastHealth().engine_state(), v1::ENGINE_STATE_SUPPLYING);
  Say(kStop);
  auto results = links_.Published(kSessionResultsTopic);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_DOUBLE_EQ(FromJson<v1::SessionResult>(results[0].value)->energy_kwh(), 7.5);
}

TEST_F(ChargerTest, ARemoteStartThatSurvivesTheGatewayIsStillMatched) {
  StartSession();
  Say(R"([3,"evnet-1",{"status":"Accepted"}])");
  charger_ = Make();
  EXPECT_THAT(Say(kStart), HasSubstr(R"("status":"Accepted")"));
}

constexpr char kCardStart[] =
    R"([2,"c1","StartTransaction",{"connectorId":1,"idTag":"04A2B3C4","meterStart":5000,"timestamp":"2027-01-15T08:00:00Z"}])";

TEST_F(ChargerTest, ACardCentralAcceptsIsASessionOfItsDriverBilledFromTheMeter) {
  EXPECT_EQ(Say(kCardStart), "") << "answered once central has judged the card";
  const v1::Authorize ask = links_.LastAsk();
  EXPECT_EQ(ask.id_tag(), "04A2B3C4");
  EXPECT_EQ(ask.start().transaction_id(), 1);
  EXPECT_EQ(ask.start().meter_start_wh(), 5000);
  EXPECT_EQ(FromProto(ask.start().started_at()), absl::FromUnixSeconds(1800000000));
  EXPECT_EQ(links_.LastHealth().engine_state(), v1::ENGINE_STATE_UNSPECIFIED)
      << "not supplying anything central knows of yet";
  CentralSays("Accepted", "driver-bob");
  EXPECT_EQ(links_.TakeFrame(), R"([3,"c1",{"idTagInfo":{"status":"Accepted"},"transactionId":1}])");
  EXPECT_EQ(links_.LastHealth().engine_state(), v1::ENGINE_STATE_SUPPLYING);
  EXPECT_EQ(links_.LastHealth().supply().session_id(), "s-card-1");
  // The charger sends it again (our answer was lost): the same, unasked.
  const size_t asked = links_.central.size();
  EXPECT_EQ(Say(kCardStart), R"([3,"c1",{"idTagInfo":{"status":"Accepted"},"transactionId":1}])");
  EXPECT_FALSE(links_.central[asked].has_authorize());

  EXPECT_EQ(Say(kStop), "") << "answered once Kafka has the result";
  const auto results = links_.Published(kSessionResultsTopic);
  ASSERT_EQ(results.size(), 1u);
  results[0].done(absl::OkStatus());
  EXPECT_THAT(links_.TakeFrame(), HasSubstr(R"("status":"Accepted")"));
  absl::StatusOr<v1::SessionResult> result = FromJson<v1::SessionResult>(results[0].value);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->session_id(), "s-card-1");
  EXPECT_EQ(result->driver_id(), "driver-bob");
  EXPECT_DOUBLE_EQ(result->energy_kwh(), 7.5);
}

TEST_F(ChargerTest, ACardCentralRefusesIsAnsweredAsCentralSaysAndNeverBilled) {
  Say(kCardStart);
  CentralSays("Blocked");
  EXPECT_EQ(links_.TakeFrame(), R"([3,"c1",{"idTagInfo":{"status":"Blocked"},"transactionId":1}])");
  EXPECT_EQ(links_.LastHealth().engine_state(), v1::ENGINE_STATE_IDLE);
  EXPECT_EQ(Say(kCardStart), R"([3,"c1",{"idTagInfo":{"status":"Blocked"},"transactionId":1}])");
  EXPECT_THAT(Say(kStop), HasSubstr(R"("status":"Accepted")"));
  EXPECT_TRUE(links_.Published(kSessionResultsTopic).empty());
}

TEST_F(ChargerTest, ACardStartCentralCannotJudgeNowIsToBeSentAgain) {
  links_.linked = false;
  EXPECT_THAT(Say(kCardStart), HasSubstr(R"([4,"c1","InternalError","central cannot say now)"));
  links_.linked = true;
  EXPECT_EQ(Say(kCardStart), "");
  clock_.Advance(absl::Seconds(5));  // central is silent
  charger_->Tick();
  EXPECT_THAT(links_.TakeFrame(), HasSubstr(R"([4,"c1","InternalError")"));
  // Sent again, it is the same transaction, and central's answer counts.
  EXPECT_EQ(Say(kCardStart), "");
  EXPECT_EQ(links_.LastAsk().start().transaction_id(), 1);
  CentralSays("Accepted", "driver-bob");
  EXPECT_THAT(links_.TakeFrame(), HasSubstr(R"("transactionId":1)"));
}

TEST_F(ChargerTest, AStopOfACardStartCentralNeverJudgedIsBilledOnceItDoes) {
  links_.linked = false;  // the charger gave up on its StartTransaction
  Say(kCardStart);
  links_.linked = true;
  EXPECT_EQ(Say(kStop), "") << "central is asked first";
  EXPECT_EQ(links_.LastAsk().start().transaction_id(), 1);
  CentralSays("Accepted", "driver-bob");
  const auto results = links_.Published(kSessionResultsTopic);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(FromJson<v1::SessionResult>(results[0].value)->driver_id(), "driver-bob");
  results[0].done(absl::OkStatus());
  EXPECT_THAT(links_.TakeFrame(), HasSubstr(R"("status":"Accepted")"));
}

TEST_F(ChargerTest, AuthorizeIsAnsweredAsCentralSaysOrWithAnErrorWhenItCannot) {
  Say(R"([2,"a1","Authorize",{"idTag":"04A2B3C4"}])");
  EXPECT_EQ(links_.LastAsk().id_tag(), "04A2B3C4");
  EXPECT_FALSE(links_.LastAsk().has_start());
  CentralSays("Expired");
  EXPECT_EQ(links_.TakeFrame(), R"([3,"a1",{"idTagInfo":{"status":"Expired"}}])");
  // Never "Invalid" for want of an answer: the charger would remember it.
  links_.linked = false;
  EXPECT_THAT(Say(R"([2,"a2","Authorize",{"idTag":"04A2B3C4"}])"),
              HasSubstr(R"([4,"a2","InternalError","cannot authorize now: central is not reachable")"));
  // The driver a remote start waits for is let in at once.
  StartSession();
  EXPECT_EQ(Say(R"([2,"a3","Authorize",{"idTag":"driver-alice"}])"),
            R"([3,"a3",{"idTagInfo":{"status":"Accepted"}}])");
}

// The CALL in `frame`, which the charger answers with `payload`.
Frame Answer(Charger& charger, const std::string& frame, const std::string& payload) {
  auto parsed = ParseFrame(frame);
  EXPECT_TRUE(std::holds_alternative<Frame>(parsed)) << frame;
  if (!std::holds_alternative<Frame>(parsed)) return {};
  const Frame call = std::get<Frame>(parsed);
  charger.OnFrame(absl::StrCat(R"([3,")", call.id, R"(",)", payload, "]"));
  return call;
}

TEST_F(ChargerTest, TheChargersLocalListIsSentWholeThenWhatChanged) {
  LocalList cards;
  auto card = [&](const std::string& tag, v1::IdTokenStatus status, absl::Time changed) {
    v1::IdToken token;
    token.set_id_tag(tag);
    token.set_driver_id("driver-alice");
    token.set_status(status);
    *token.mutable_changed_at() = ToProto(changed);
    cards.Take(token);
  };
  card("04A2B3C4", v1::ID_TOKEN_STATUS_ACCEPTED, kNow - absl::Hours(2));
  card("LOST-1", v1::ID_TOKEN_STATUS_BLOCKED, kNow - absl::Hours(1));
  charger_ = Make(0.40, &cards);
  charger_->Tick();
  EXPECT_EQ(Answer(*charger_, links_.TakeFrame(), R"({"listVersion":0})").action,
            "GetLocalListVersion");
  charger_->Tick();
  EXPECT_EQ(Answer(*charger_, links_.TakeFrame(),
                   R"({"unknownKey":["LocalAuthListMaxLength","SendLocalListMaxLength"]})")
                .action,
            "GetConfiguration");
  charger_->Tick();
  const std::string full = links_.TakeFrame();
  EXPECT_THAT(full, HasSubstr(R"("SendLocalList",{"listVersion":1799996400,)"));
  EXPECT_THAT(full, HasSubstr(R"({"idTag":"04A2B3C4","idTagInfo":{"status":"Accepted"}})"));
  EXPECT_THAT(full, HasSubstr(R"({"idTag":"LOST-1","idTagInfo":{"status":"Blocked"}})"));
  EXPECT_THAT(full, HasSubstr(R"("updateType":"Full")"));
  Answer(*charger_, full, R"({"status":"Accepted"})");
  charger_->Tick();
  EXPECT_EQ(links_.TakeFrame(), "") << "up to date";

  card("NEW-1", v1::ID_TOKEN_STATUS_ACCEPTED, kNow);
  charger_->Tick();
  const std::string change = links_.TakeFrame();
  EXPECT_THAT(change, HasSubstr(R"("updateType":"Differential")"));
  EXPECT_THAT(change, HasSubstr("NEW-1"));
  EXPECT_THAT(change, Not(HasSubstr("04A2B3C4")));
  Answer(*charger_, change, R"({"status":"NotSupported"})");
  card("NEW-2", v1::ID_TOKEN_STATUS_ACCEPTED, kNow + absl::Seconds(1));
  charger_->Tick();
  EXPECT_EQ(links_.TakeFrame(), "") << "not again on this connection";
  charger_->Disconnected();
  charger_->Tick();
  EXPECT_EQ(Answer(*charger_, links_.TakeFrame(), R"({"listVersion":-1})").action,
            "GetLocalListVersion");
  charger_->Tick();
  EXPECT_EQ(links_.TakeFrame(), "") << "a charger that keeps no list is sent none";
}

TEST_F(ChargerTest, TheLocalListIsSentInPartsTheChargerTakesUpToWhatItHolds) {
  LocalList cards;
  for (const char* tag : {"CARD-A", "CARD-B", "CARD-C", "CARD-D"}) {
    v1::IdToken token;
    token.set_id_tag(tag);
    token.set_driver_id("driver-alice");
    token.set_status(v1::ID_TOKEN_STATUS_ACCEPTED);
    *token.mutable_changed_at() = ToProto(kNow - absl::Hours(1));
    cards.Take(token);
  }
  charger_ = Make(0.40, &cards);
  charger_->Tick();
  Answer(*charger_, links_.TakeFrame(), R"({"listVersion":0})");
  charger_->Tick();
  const std::string ask = links_.TakeFrame();
  EXPECT_THAT(ask, HasSubstr(R"({"key":["LocalAuthListMaxLength","SendLocalListMaxLength"]})"));
  // It holds 3 cards and takes 2 at a time.
  Answer(*charger_, ask,
         R"({"configurationKey":[{"key":"LocalAuthListMaxLength","readonly":true,"value":"3"},)"
         R"({"key":"SendLocalListMaxLength","readonly":true,"value":"2"}]})");
  charger_->Tick();
  const std::string first = links_.TakeFrame();
  // Until the last part is taken, its version says it is not whole.
  EXPECT_THAT(first, HasSubstr(R"("SendLocalList",{"listVersion":1,)"));
  EXPECT_THAT(first, HasSubstr(R"("updateType":"Full")"));
  EXPECT_THAT(first, HasSubstr("CARD-A"));
  EXPECT_THAT(first, HasSubstr("CARD-B"));
  EXPECT_THAT(first, Not(HasSubstr("CARD-C")));
  Answer(*charger_, first, R"({"status":"Accepted"})");
  const std::string second = links_.TakeFrame();
  EXPECT_THAT(second, HasSubstr(R"("SendLocalList",{"listVersion":1799996400,)"));
  EXPECT_THAT(second, HasSubstr(R"("updateType":"Differential")"));
  EXPECT_THAT(second, HasSubstr("CARD-C"));
  EXPECT_THAT(second, Not(HasSubstr("CARD-D"))) << "more than it holds";
  Answer(*charger_, second, R"({"status":"Accepted"})");
  charger_->Tick();
  EXPECT_EQ(links_.TakeFrame(), "") << "up to date";
}

// Runs a remote-started transaction of driver-alice with a meter value:
// 2.5 kWh so far.
void Charging(Charger& charger, FakeLinks& links) {
  charger.OnFrame(R"([2,"s1","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"Charging"}])");
  charger.OnFrame(kStart);
  charger.OnFrame(R"([2,"m1","MeterValues",{"connectorId":1,"transactionId":1,"meterValue":[{"timestamp":"2027-01-15T08:10:00Z","sampledValue":[{"value":"7500"}]}]}])");
  links.frames.clear();
}

TEST_F(ChargerTest, AfterEachConnectionTheChargerIsAskedForItsStatusAndMeter) {
  ask_charger_ = true;
  charger_ = Make();
  StartSession();
  Say(R"([3,"evnet-1",{"status":"Accepted"}])");
  Charging(*charger_, links_);
  charger_->Tick();
  EXPECT_THAT(links_.TakeFrame(), HasSubstr(R"("TriggerMessage",{"requestedMessage":"StatusNotification"})"));
  charger_->OnFrame(R"([3,"evnet-2",{"status":"Accepted"}])");
  EXPECT_THAT(links_.TakeFrame(),
              HasSubstr(R"("TriggerMessage",{"requestedMessage":"MeterValues","connectorId":1})"));
  charger_->OnFrame(R"([3,"evnet-3",{"status":"Accepted"}])");
  charger_->Tick();
  EXPECT_EQ(links_.TakeFrame(), "") << "once per connection";
  // Silent for the bound: asked for a meter value, once per bound.
  clock_.Advance(absl::Minutes(5));
  charger_->Tick();
  EXPECT_THAT(links_.TakeFrame(), HasSubstr(R"("requestedMessage":"MeterValues")"));
  charger_->Tick();
  EXPECT_EQ(links_.TakeFrame(), "");
  // Back after a disconnection: asked again.
  charger_->Disconnected();
  charger_->Tick();
  EXPECT_THAT(links_.TakeFrame(), HasSubstr(R"("requestedMessage":"StatusNotification")"));
}

TEST_F(ChargerTest, ATransactionTheChargerDroppedIsClosedFromItsLastMeterReading) {
  StartSession();
  Say(R"([3,"evnet-1",{"status":"Accepted"}])");
  Charging(*charger_, links_);
  // The charger ends it, but its StopTransaction never comes (it gave up).
  Say(R"([2,"s2","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"Available"}])");
  clock_.Advance(absl::Minutes(2) - absl::Seconds(1));
  charger_->Tick();
  EXPECT_TRUE(links_.Published(kSessionResultsTopic).empty()) << "its stop may still come";
  clock_.Advance(absl::Seconds(1));
  charger_->Tick();
  const auto results = links_.Published(kSessionResultsTopic);
  ASSERT_EQ(results.size(), 1u);
  absl::StatusOr<v1::SessionResult> result = FromJson<v1::SessionResult>(results[0].value);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->session_id(), "s-1");
  EXPECT_EQ(result->end_reason(), v1::SESSION_END_REASON_RECONCILED);
  EXPECT_DOUBLE_EQ(result->energy_kwh(), 2.5);
  EXPECT_EQ(result->amount_cents(), 100);
  charger_->Tick();
  EXPECT_EQ(links_.Published(kSessionResultsTopic).size(), 1u) << "closed once";
  results[0].done(absl::OkStatus());
  bool told = false;
  for (const v1::MonitorMessage& m : links_.central) {
    if (m.has_reconciled()) {
      told = true;
      EXPECT_EQ(m.reconciled().session_id(), "s-1");
      EXPECT_THAT(m.reconciled().detail(), HasSubstr("never sent its StopTransaction"));
    }
  }
  EXPECT_TRUE(told) << "central audits it";
  EXPECT_EQ(links_.LastHealth().engine_state(), v1::ENGINE_STATE_IDLE);
  // Its StopTransaction after all: acknowledged, not billed again.
  EXPECT_THAT(Say(kStop), HasSubstr(R"("status":"Accepted")"));
  EXPECT_EQ(links_.Published(kSessionResultsTopic).size(), 1u);
}

TEST_F(ChargerTest, OnlyItsOwnConnectorIdleAndUnmeteredClosesATransaction) {
  StartSession();
  Say(R"([3,"evnet-1",{"status":"Accepted"}])");
  Charging(*charger_, links_);
  // The whole charger (connector 0) is Available: its connector 1 charges on.
  Say(R"([2,"s2","StatusNotification",{"connectorId":0,"errorCode":"NoError","status":"Available"}])");
  clock_.Advance(absl::Minutes(3));
  charger_->Tick();
  EXPECT_TRUE(links_.Published(kSessionResultsTopic).empty());
  // Connector 1 says Available, yet its meter goes on: it runs.
  Say(R"([2,"s3","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"Available"}])");
  clock_.Advance(absl::Seconds(30));
  Say(R"([2,"m2","MeterValues",{"connectorId":1,"transactionId":1,"meterValue":[{"timestamp":"2027-01-15T08:20:00Z","sampledValue":[{"value":"8500"}]}]}])");
  clock_.Advance(absl::Minutes(3));
  charger_->Tick();
  EXPECT_TRUE(links_.Published(kSessionResultsTopic).empty()) << "metered after it said Available";
}

TEST_F(ChargerTest, AStopKafkaDidNotTakeIsNeverClosedFromTheLastReading) {
  StartSession();
  Say(R"([3,"evnet-1",{"status":"Accepted"}])");
  Charging(*charger_, links_);
  Say(R"([2,"s2","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"Available"}])");
  Say(kStop);
  ASSERT_EQ(links_.Published(kSessionResultsTopic).size(), 1u);
  links_.Published(kSessionResultsTopic)[0].done(absl::UnavailableError("broker down"));
  EXPECT_THAT(links_.TakeFrame(), HasSubstr("not recorded yet; send it again"));
  clock_.Advance(absl::Minutes(5));
  charger_->Tick();
  EXPECT_EQ(links_.Published(kSessionResultsTopic).size(), 1u)
      << "the charger holds its stop and sends it again: its meterStop is the bill";
  Say(kStop);
  ASSERT_EQ(links_.Published(kSessionResultsTopic).size(), 2u);
  EXPECT_DOUBLE_EQ(FromJson<v1::SessionResult>(links_.Published(kSessionResultsTopic)[1].value)
                       ->energy_kwh(),
                   7.5);
}

TEST_F(ChargerTest, AStopWithoutItsIdIsMatchedByTheCardThatBeganIt) {
  Say(kCardStart);
  CentralSays("Accepted", "driver-bob");
  links_.frames.clear();
  Say(R"([2,"c9","StopTransaction",{"transactionId":-1,"idTag":"04a2b3c4","meterStop":9000,"timestamp":"2027-01-15T08:30:00Z","reason":"Local"}])");
  const auto results = links_.Published(kSessionResultsTopic);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(FromJson<v1::SessionResult>(results[0].value)->driver_id(), "driver-bob");
  EXPECT_DOUBLE_EQ(FromJson<v1::SessionResult>(results[0].value)->energy_kwh(), 4.0);
}

TEST_F(ChargerTest, ASessionIsBilledAtThePriceCentralHoldsItAt) {
  v1::CentralCommand command;
  command.set_command_id("start-s-1");
  command.mutable_start_supply()->set_session_id("s-1");
  command.mutable_start_supply()->set_request_id("1");
  command.mutable_start_supply()->set_driver_id("driver-alice");
  command.mutable_start_supply()->set_price_eur_per_kwh(0.25);
  charger_->OnCommand(command);
  Say(R"([3,"evnet-1",{"status":"Accepted"}])");
  Say(kStart);
  Say(kStop);
  const auto results = links_.Published(kSessionResultsTopic);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_DOUBLE_EQ(FromJson<v1::SessionResult>(results[0].value)->price_eur_per_kwh(), 0.25);
  EXPECT_EQ(FromJson<v1::SessionResult>(results[0].value)->amount_cents(), 188);
}

TEST_F(ChargerTest, AStopThatComesWithinTheGraceIsBilledFromItsMeterStop) {
  StartSession();
  Say(R"([3,"evnet-1",{"status":"Accepted"}])");
  Charging(*charger_, links_);
  Say(R"([2,"s2","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"Available"}])");
  clock_.Advance(absl::Minutes(1));
  charger_->Tick();
  Say(kStop);
  ASSERT_EQ(links_.Published(kSessionResultsTopic).size(), 1u);
  EXPECT_DOUBLE_EQ(FromJson<v1::SessionResult>(links_.Published(kSessionResultsTopic)[0].value)
                       ->energy_kwh(),
                   7.5);
  clock_.Advance(absl::Minutes(5));
  charger_->Tick();
  EXPECT_EQ(links_.Published(kSessionResultsTopic).size(), 1u) << "its result is on its way";
  links_.Published(kSessionResultsTopic)[0].done(absl::OkStatus());
  charger_->Tick();
  EXPECT_EQ(links_.Published(kSessionResultsTopic).size(), 1u);
}

TEST_F(ChargerTest, ANewPriceIsToldToCentralAndBillsOnlyTransactionsThatBeginAfterIt) {
  StartSession();
  Say(R"([3,"evnet-1",{"status":"Accepted"}])");
  Say(kStart);
  v1::ChargingPointInfo info = charger_->info();
  info.set_price_eur_per_kwh(0.50);
  info.set_location("Lot B");
  charger_->SetInfo(info);
  ASSERT_TRUE(links_.central.back().has_register_());
  EXPECT_DOUBLE_EQ(links_.central.back().register_().price_eur_per_kwh(), 0.50);
  EXPECT_EQ(links_.central.back().register_().location(), "Lot B");
  EXPECT_TRUE(links_.central.back().register_().charger_operations());
  const size_t told = links_.central.size();
  charger_->SetInfo(info);
  EXPECT_EQ(links_.central.size(), told) << "nothing changed, nothing said";

  charger_ = Make();  // the price it began with survives the gateway
  charger_->SetInfo(info);
  Say(kStop);
  const auto results = links_.Published(kSessionResultsTopic);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_DOUBLE_EQ(FromJson<v1::SessionResult>(results[0].value)->price_eur_per_kwh(), 0.40);
  EXPECT_EQ(FromJson<v1::SessionResult>(results[0].value)->amount_cents(), 300);
}

TEST_F(ChargerTest, ARemoteStartUnansweredFailsTheCommand) {
  StartSession();
  clock_.Advance(absl::Seconds(5));
  charger_->Tick();
  ASSERT_EQ(links_.Results().size(), 1u);
  EXPECT_EQ(links_.Results()[0].code(), static_cast<int>(absl::StatusCode::kDeadlineExceeded));
  // The charger did not start it: a late StartTransaction is no longer its
  // session, but one central is asked about.
  EXPECT_EQ(Say(kStart), "");
  EXPECT_EQ(links_.LastAsk().id_tag(), "driver-alice");
  EXPECT_TRUE(links_.LastAsk().has_start());
}

TEST_F(ChargerTest, AStepOfTheWallClockNeitherFiresNorHoldsACallsTimeout) {
  StartSession();
  clock_.StepWall(absl::Hours(1));
  charger_->Tick();
  EXPECT_TRUE(links_.Results().empty()) << "an hour on the wall clock is no time on the steady one";
  clock_.Advance(absl::Seconds(5));
  charger_->Tick();
  ASSERT_EQ(links_.Results().size(), 1u);
  EXPECT_EQ(links_.Results()[0].code(), static_cast<int>(absl::StatusCode::kDeadlineExceeded));
}

TEST_F(ChargerTest, AStartNobodyBeginsEndsAfterItsTimeoutWhicheverWayTheWallClockSteps) {
  StartSession();
  Say(R"([3,"evnet-1",{"status":"Accepted"}])");
  clock_.StepWall(absl::Hours(1));
  charger_->Tick();
  EXPECT_TRUE(links_.Published(kSessionResultsTopic).empty());
  // Set back by two hours, then the whole timeout passes: it ends all the same.
  clock_.StepWall(-absl::Hours(2));
  clock_.Advance(absl::Minutes(3) + absl::Seconds(1));
  charger_->Tick();
  ASSERT_EQ(links_.Published(kSessionResultsTopic).size(), 1u);
  EXPECT_EQ(FromJson<v1::SessionResult>(links_.Published(kSessionResultsTopic)[0].value)->energy_kwh(), 0);
}

TEST_F(ChargerTest, AStartPendingInTheJournalKeepsWhatIsLeftOfItsTimeoutAcrossARestart) {
  StartSession();
  Say(R"([3,"evnet-1",{"status":"Accepted"}])");
  clock_.Advance(absl::Minutes(2));
  charger_ = Make();  // a new gateway process, the same state dir
  charger_->Tick();
  EXPECT_TRUE(links_.Published(kSessionResultsTopic).empty());
  clock_.Advance(absl::Minutes(1) + absl::Seconds(1));
  charger_->Tick();
  EXPECT_EQ(links_.Published(kSessionResultsTopic).size(), 1u);
}

TEST_F(ChargerTest, AJournalAdoptedWithTheSamePendingStartKeepsItsSteadyDeadline) {
  StartSession();
  Say(R"([3,"evnet-1",{"status":"Accepted"}])");
  ASSERT_FALSE(links_.shared.empty());
  v1::OcppChargerJournal same = links_.shared.back();
  same.set_revision(same.revision() + 1);  // another gateway's later copy
  clock_.StepWall(absl::Minutes(2));        // the wall clock jumps; no time passes
  charger_->Adopt(same);
  clock_.Advance(absl::Minutes(2));
  charger_->Tick();
  EXPECT_TRUE(links_.Published(kSessionResultsTopic).empty()) << "2 of its 3 minutes passed";
  clock_.Advance(absl::Minutes(1) + absl::Seconds(1));
  charger_->Tick();
  EXPECT_EQ(links_.Published(kSessionResultsTopic).size(), 1u);
}

TEST_F(ChargerTest, ARejectedOrBusyStartFailsWithAReason) {
  StartSession();
  Say(R"([3,"evnet-1",{"status":"Rejected"}])");
  ASSERT_EQ(links_.Results().size(), 1u);
  EXPECT_EQ(links_.Results()[0].code(), static_cast<int>(absl::StatusCode::kFailedPrecondition));
  Say(R"([2,"s","StatusNotification",{"connectorId":1,"errorCode":"GroundFailure","status":"Faulted"}])");
  StartSession("s-2");
  ASSERT_EQ(links_.Results().size(), 2u);
  EXPECT_THAT(links_.Results()[1].message(), HasSubstr("Faulted"));
}

TEST_F(ChargerTest, TheOperatorsStopAndResumeAreChangeAvailability) {
  v1::CentralCommand stop;
  stop.set_command_id("inoperative-1");
  stop.mutable_availability()->set_operative(false);
  charger_->OnCommand(stop);
  EXPECT_THAT(links_.TakeFrame(),
              HasSubstr(R"("ChangeAvailability",{"connectorId":1,"type":"Inoperative"})"));
  Say(R"([3,"evnet-1",{"status":"Accepted"}])");
  EXPECT_EQ(links_.Results().back().code(), 0);
  // The charger says it is Unavailable: as the operator wants, not a fault.
  Say(R"([2,"s","StatusNotification",{"connectorId":0,"errorCode":"NoError","status":"Unavailable"}])");
  EXPECT_TRUE(links_.LastHealth().engine_ok());
  v1::CentralCommand resume;
  resume.set_command_id("operative-1");
  resume.mutable_availability()->set_operative(true);
  charger_->OnCommand(resume);
  EXPECT_THAT(links_.TakeFrame(), HasSubstr(R"({"connectorId":1,"type":"Operative"})"));
}

// OCPP-J: a central system has one CALL outstanding at a time. The
// operator's stop of a CP that is charging is ChangeAvailability and then
// RemoteStopTransaction: the second goes once the first is answered.
TEST_F(ChargerTest, OneCallIsOutstandingAtATimeTheOthersWaitInOrder) {
  StartSession();
  Say(R"([3,"evnet-1",{"status":"Accepted"}])");
  Say(kStart);
  v1::CentralCommand inoperative;
  inoperative.set_command_id("inoperative-1");
  inoperative.mutable_availability()->set_operative(false);
  charger_->OnCommand(inoperative);
  v1::CentralCommand stop;
  stop.set_command_id("stop-1");
  stop.mutable_stop_supply()->set_reason(v1::SESSION_END_REASON_STOPPED_BY_OPERATOR);
  charger_->OnCommand(stop);
  EXPECT_THAT(links_.TakeFrame(), HasSubstr(R"([2,"evnet-2","ChangeAvailability")"));
  EXPECT_EQ(links_.TakeFrame(), "") << "a second CALL went out before the first was answered";
  // An answer to the one still waiting is no answer: it was never sent.
  charger_->OnFrame(R"([3,"evnet-3",{"status":"Accepted"}])");
  EXPECT_EQ(links_.TakeFrame(), "");
  charger_->OnFrame(R"([3,"evnet-2",{"status":"Accepted"}])");
  EXPECT_THAT(links_.TakeFrame(), HasSubstr(R"([2,"evnet-3","RemoteStopTransaction")"));
  charger_->OnFrame(R"([3,"evnet-3",{"status":"Accepted"}])");
  const std::vector<v1::CommandResult> results = links_.Results();
  ASSERT_GE(results.size(), 2u);
  EXPECT_EQ(results[results.size() - 2].command_id(), "inoperative-1");
  EXPECT_EQ(results.back().command_id(), "stop-1");
  EXPECT_EQ(results.back().code(), 0);
}

v1::CentralCommand Operation(const std::string& id, const std::string& action,
                             const std::string& payload,
                             absl::Duration timeout = absl::ZeroDuration()) {
  v1::CentralCommand command;
  command.set_command_id(id);
  command.mutable_charger_operation()->set_action(action);
  command.mutable_charger_operation()->set_payload_json(payload);
  if (timeout > absl::ZeroDuration()) {
    *command.mutable_charger_operation()->mutable_timeout() = ToProto(timeout);
  }
  return command;
}

// An operator's operation goes to the charger as its CALL, and the
// charger's answer goes back to central as the charger gave it.
TEST_F(ChargerTest, AnOperationIsOneCallAndItsAnswerGoesBackAsTheChargerGaveIt) {
  EXPECT_TRUE(charger_->Hello().register_().charger_operations());
  charger_->OnCommand(Operation("op-1", "GetConfiguration", R"({"key":["HeartbeatInterval"]})"));
  EXPECT_EQ(links_.TakeFrame(), R"([2,"evnet-1","GetConfiguration",{"key":["HeartbeatInterval"]}])");
  charger_->OnCommand(Operation("op-2", "Reset", R"({"type":"Soft"})"));
  EXPECT_EQ(links_.TakeFrame(), "") << "one CALL at a time";
  charger_->OnFrame(
      R"([3,"evnet-1",{"configurationKey":[{"key":"HeartbeatInterval","readonly":false,"value":"60"}],"unknownKey":[]}])");
  EXPECT_EQ(links_.TakeFrame(), R"([2,"evnet-2","Reset",{"type":"Soft"}])");
  charger_->OnFrame(R"([3,"evnet-2",{"status":"Rejected"}])");
  const std::vector<v1::CommandResult> results = links_.Results();
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].command_id(), "op-1");
  EXPECT_EQ(results[0].code(), 0);
  EXPECT_THAT(results[0].answer_json(), HasSubstr(R"("value":"60")"));
  EXPECT_EQ(results[1].command_id(), "op-2");
  EXPECT_EQ(results[1].code(), 0) << "a Rejected is the charger's answer, shown as it is";
  EXPECT_EQ(results[1].answer_json(), R"({"status":"Rejected"})");
}

// What the operator asks is checked against OCPP 1.6 before the charger
// hears of it; what the charger answers is checked before the operator
// does. Neither, when wrong, changes anything.
TEST_F(ChargerTest, AnOperationOrAnAnswerOcppDoesNotAllowGetsAClearError) {
  charger_->OnCommand(Operation("op-1", "Reset", R"({"type":"Sideways"})"));
  charger_->OnCommand(Operation("op-2", "RemoteStartTransaction", R"({"idTag":"x"})"));
  charger_->OnCommand(Operation("op-3", "Heartbeat", "{}"));
  charger_->OnCommand(Operation("op-4", "UnlockConnector", "{}"));
  EXPECT_EQ(links_.TakeFrame(), "") << "nothing reached the charger";
  std::vector<v1::CommandResult> results = links_.Results();
  ASSERT_EQ(results.size(), 4u);
  for (const v1::CommandResult& result : results) {
    EXPECT_EQ(result.code(), static_cast<int>(absl::StatusCode::kInvalidArgument))
        << result.command_id();
  }
  EXPECT_THAT(results[0].message(), HasSubstr("is not one of Hard|Soft"));
  EXPECT_THAT(results[1].message(), HasSubstr("not an operation the gateway relays"));
  EXPECT_THAT(results[2].message(), HasSubstr("not an operation the gateway relays"));
  EXPECT_THAT(results[3].message(), HasSubstr("connectorId: is required"));

  charger_->OnCommand(Operation("op-5", "UnlockConnector", R"({"connectorId":1})"));
  EXPECT_THAT(links_.TakeFrame(), HasSubstr("UnlockConnector"));
  charger_->OnFrame(R"([3,"evnet-1",{"status":"Opened"}])");
  charger_->OnCommand(Operation("op-6", "ClearCache", ""));
  EXPECT_EQ(links_.TakeFrame(), R"([2,"evnet-2","ClearCache",{}])");
  charger_->OnFrame(R"([4,"evnet-2","NotSupported","no cache here",{}])");
  results = links_.Results();
  ASSERT_EQ(results.size(), 6u);
  EXPECT_EQ(results[4].code(), static_cast<int>(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(results[4].message(), HasSubstr("the charger's answer is not valid"));
  EXPECT_EQ(results[4].answer_json(), "");
  EXPECT_EQ(results[5].code(), static_cast<int>(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(results[5].message(), HasSubstr("NotSupported: no cache here"));
}

// An operation waits as long as the operator said (a charger may take its
// time over a configuration), not the supply commands' few seconds.
TEST_F(ChargerTest, AnOperationWaitsForItsAnswerAsLongAsTheOperatorSaid) {
  charger_->OnCommand(Operation("op-1", "TriggerMessage",
                                R"({"requestedMessage":"StatusNotification"})", absl::Seconds(20)));
  EXPECT_THAT(links_.TakeFrame(), HasSubstr("TriggerMessage"));
  // A command behind it waits, and says why it was never sent.
  v1::CentralCommand inoperative;
  inoperative.set_command_id("inoperative-1");
  inoperative.mutable_availability()->set_operative(false);
  charger_->OnCommand(inoperative);
  clock_.Advance(absl::Seconds(4));
  charger_->Tick();
  ASSERT_EQ(links_.Results().size(), 1u);
  EXPECT_EQ(links_.Results()[0].command_id(), "inoperative-1");
  EXPECT_THAT(links_.Results()[0].message(),
              HasSubstr("not sent within 4s: the charger was still to answer TriggerMessage"));
  clock_.Advance(absl::Seconds(15));
  charger_->Tick();
  EXPECT_EQ(links_.Results().size(), 1u) << "timed out before the operator's 20 s";
  clock_.Advance(absl::Seconds(2));
  charger_->Tick();
  ASSERT_EQ(links_.Results().size(), 2u);
  EXPECT_EQ(links_.Results()[1].command_id(), "op-1");
  EXPECT_EQ(links_.Results()[1].code(), static_cast<int>(absl::StatusCode::kDeadlineExceeded));
  EXPECT_THAT(links_.Results()[1].message(), HasSubstr("did not answer within 20s"));
}

// A call waiting behind one the charger never answers times out from when
// it was asked, like the one outstanding: central hears of both in time.
TEST_F(ChargerTest, ACallWaitingBehindAnUnansweredOneTimesOutFromWhenItWasAsked) {
  v1::CentralCommand inoperative;
  inoperative.set_command_id("inoperative-1");
  inoperative.mutable_availability()->set_operative(false);
  charger_->OnCommand(inoperative);
  clock_.Advance(absl::Seconds(2));
  v1::CentralCommand operative;
  operative.set_command_id("operative-1");
  operative.mutable_availability()->set_operative(true);
  charger_->OnCommand(operative);
  EXPECT_THAT(links_.TakeFrame(), HasSubstr("Inoperative"));
  clock_.Advance(absl::Seconds(2));
  charger_->Tick();  // the first timed out; the second goes, with 2 s left
  EXPECT_THAT(links_.TakeFrame(), HasSubstr(R"("type":"Operative")"));
  ASSERT_EQ(links_.Results().size(), 1u);
  EXPECT_EQ(links_.Results()[0].code(), static_cast<int>(absl::StatusCode::kDeadlineExceeded));
  clock_.Advance(absl::Seconds(2));
  charger_->Tick();
  ASSERT_EQ(links_.Results().size(), 2u);
  EXPECT_EQ(links_.Results()[1].command_id(), "operative-1");
  EXPECT_EQ(links_.Results()[1].code(), static_cast<int>(absl::StatusCode::kDeadlineExceeded));
}

TEST_F(ChargerTest, CentralsStopOfARunningSessionIsRemoteStop) {
  StartSession();
  Say(R"([3,"evnet-1",{"status":"Accepted"}])");
  Say(kStart);
  v1::CentralCommand stop;
  stop.set_command_id("stop-1");
  stop.mutable_stop_supply()->set_reason(v1::SESSION_END_REASON_STOPPED_BY_OPERATOR);
  charger_->OnCommand(stop);
  EXPECT_THAT(links_.TakeFrame(), HasSubstr(R"("RemoteStopTransaction",{"transactionId":1})"));
  Say(R"([3,"evnet-2",{"status":"Accepted"}])");
  Say(R"([2,"c9","StopTransaction",{"transactionId":1,"meterStop":6000,"timestamp":"2027-01-15T08:30:00Z","reason":"Remote"}])");
  auto result = FromJson<v1::SessionResult>(links_.Published(kSessionResultsTopic)[0].value);
  EXPECT_EQ(result->end_reason(), v1::SESSION_END_REASON_STOPPED_BY_OPERATOR);
}

TEST_F(ChargerTest, BadFramesGetCallErrorsAndChangeNothing) {
  EXPECT_THAT(Say("[2,"), StartsWith(R"([4,"-1","FormationViolation")"));
  EXPECT_THAT(Say(R"([2,"x","Dance",{}])"), StartsWith(R"([4,"x","NotImplemented")"));
  EXPECT_THAT(Say(R"([2,"x","ChangeAvailability",{"connectorId":0,"type":"Operative"}])"),
              StartsWith(R"([4,"x","NotSupported")"));
  EXPECT_THAT(Say(R"([2,"x","StopTransaction",{"meterStop":1}])"),
              StartsWith(R"([4,"x","OccurenceConstraintViolation")"));
  // An answer to nothing we asked is ignored.
  EXPECT_EQ(Say(R"([3,"nobody",{}])"), "");
  EXPECT_TRUE(links_.records.empty());
}

TEST_F(ChargerTest, ATransactionIsAnsweredOnlyOnceEveryGatewayCanReadIt) {
  StartSession();
  Say(R"([3,"evnet-1",{"status":"Accepted"}])");
  links_.hold_journals = true;
  EXPECT_EQ(Say(kStart), "");
  ASSERT_FALSE(links_.held.empty());
  links_.held.back()(absl::OkStatus());
  EXPECT_EQ(links_.TakeFrame(), R"([3,"c1",{"idTagInfo":{"status":"Accepted"},"transactionId":1}])");
  EXPECT_EQ(links_.shared.back().transactions(0).session().session_id(), "s-1");
}

TEST_F(ChargerTest, AChargerThatMovedGatewaysIsBilledWhereItStops) {
  // Gateway A starts the transaction and shares its journal.
  StartSession();
  Say(R"([3,"evnet-1",{"status":"Accepted"}])");
  Say(kStart);
  const v1::OcppChargerJournal from_a = links_.shared.back();
  // Gateway B (no local file: another machine) takes the charger up.
  ChargerOptions options;
  options.info.set_cp_id("OCPP-1");
  options.info.set_price_eur_per_kwh(0.40);
  options.clock = &clock_;
  FakeLinks b_links;
  Charger b(options, b_links);
  ASSERT_TRUE(b.Recover(from_a).ok());
  b.OnFrame(kStop);
  ASSERT_EQ(b_links.Published(kSessionResultsTopic).size(), 1u);
  EXPECT_DOUBLE_EQ(
      FromJson<v1::SessionResult>(b_links.Published(kSessionResultsTopic)[0].value)->energy_kwh(),
      7.5);
  b_links.Published(kSessionResultsTopic)[0].done(absl::OkStatus());
  // Back at A, which still thinks it supplies: B's newer journal wins.
  charger_->Adopt(b_links.shared.back());
  charger_->Tick();
  EXPECT_EQ(links_.LastHealth().engine_state(), v1::ENGINE_STATE_IDLE);
  // And an older journal never replaces a newer one.
  charger_->Adopt(from_a);
  charger_->Tick();
  EXPECT_EQ(links_.LastHealth().engine_state(), v1::ENGINE_STATE_IDLE);
}

}  // namespace
}  // namespace evnet::ocpp

namespace evnet::ocpp {
namespace {

// A two-connector charger is two CPs behind one WebSocket: each CP's
// Charger starts and stops on its own connector, numbers its transactions
// apart from the other's, and their calls share the socket's one
// outstanding CALL.
TEST(ConnectorTest, TwoConnectorsAreTwoCpsSharingOneCallAtATime) {
  FakeClock clock(kNow);
  FakeLinks links_1, links_2;
  std::deque<std::string> socket;  // what both wrote to the charger
  CallQueue calls("OCPP-2C", [&](const std::string& frame) { socket.push_back(frame); });
  auto make = [&](int32_t connector, FakeLinks& links) {
    ChargerOptions options;
    options.info.set_cp_id(ConnectorCpId("OCPP-2C", connector));
    options.info.set_price_eur_per_kwh(0.40);
    options.connector_id = connector;
    options.calls = &calls;
    options.clock = &clock;
    options.ask_charger = false;
    auto charger = std::make_unique<Charger>(options, links);
    EXPECT_TRUE(charger->Recover().ok());
    return charger;
  };
  std::unique_ptr<Charger> first = make(1, links_1);
  std::unique_ptr<Charger> second = make(2, links_2);
  EXPECT_EQ(second->id(), "OCPP-2C-2");

  auto start = [](const std::string& session, const std::string& driver) {
    v1::CentralCommand command;
    command.set_command_id("start-" + session);
    command.mutable_start_supply()->set_session_id(session);
    command.mutable_start_supply()->set_request_id(session.substr(2));
    command.mutable_start_supply()->set_driver_id(driver);
    command.mutable_start_supply()->set_telemetry_key(kTelemetryKey);
    return command;
  };
  second->OnCommand(start("s-2", "driver-bob"));
  first->OnCommand(start("s-1", "driver-alice"));
  // Connector 2's remote start is sent; connector 1's waits behind it.
  ASSERT_EQ(socket.size(), 1u);
  EXPECT_EQ(socket[0],
            R"([2,"evnet-1","RemoteStartTransaction",{"connectorId":2,"idTag":"driver-bob"}])");
  calls.OnResult(std::get<Frame>(ParseFrame(R"([3,"evnet-1",{"status":"Accepted"}])")));
  ASSERT_EQ(socket.size(), 2u);
  EXPECT_EQ(socket[1],
            R"([2,"evnet-2","RemoteStartTransaction",{"connectorId":1,"idTag":"driver-alice"}])");
  calls.OnResult(std::get<Frame>(ParseFrame(R"([3,"evnet-2",{"status":"Accepted"}])")));
  ASSERT_EQ(links_2.Results().size(), 1u);
  EXPECT_EQ(links_2.Results()[0].command_id(), "start-s-2");
  ASSERT_EQ(links_1.Results().size(), 1u);
  EXPECT_EQ(links_1.Results()[0].command_id(), "start-s-1");

  // Each connector's transaction is its CP's session, under ids apart.
  second->OnFrame(R"([2,"c2","StartTransaction",{"connectorId":2,"idTag":"driver-bob","meterStart":100,"timestamp":"2027-01-15T08:00:00Z"}])");
  EXPECT_EQ(links_2.TakeFrame(),
            R"([3,"c2",{"idTagInfo":{"status":"Accepted"},"transactionId":2000001}])");
  first->OnFrame(R"([2,"c1","StartTransaction",{"connectorId":1,"idTag":"driver-alice","meterStart":5000,"timestamp":"2027-01-15T08:00:00Z"}])");
  EXPECT_EQ(links_1.TakeFrame(),
            R"([3,"c1",{"idTagInfo":{"status":"Accepted"},"transactionId":1}])");
  EXPECT_EQ(second->Holds(2000001), Charger::Holding::kRunning);
  EXPECT_EQ(first->Holds(2000001), Charger::Holding::kNone);
  EXPECT_TRUE(second->RunsFor("DRIVER-BOB"));
  EXPECT_FALSE(first->RunsFor("driver-bob"));

  // Connector 2's stop bills connector 2's CP, from its own meter.
  second->OnFrame(R"([2,"c3","StopTransaction",{"transactionId":2000001,"meterStop":2100,"timestamp":"2027-01-15T08:30:00Z"}])");
  auto results = links_2.Published(kSessionResultsTopic);
  ASSERT_EQ(results.size(), 1u);
  auto result = FromJson<v1::SessionResult>(results[0].value);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->cp_id(), "OCPP-2C-2");
  EXPECT_EQ(result->driver_id(), "driver-bob");
  EXPECT_DOUBLE_EQ(result->energy_kwh(), 2.0);
  EXPECT_TRUE(links_1.Published(kSessionResultsTopic).empty());
  EXPECT_EQ(first->running_transactions(), 1);

  // The operator stopping connector 2's CP makes only connector 2 inoperative.
  v1::CentralCommand stop;
  stop.set_command_id("inoperative-2");
  stop.mutable_availability()->set_operative(false);
  second->OnCommand(stop);
  EXPECT_THAT(socket.back(), HasSubstr(R"("ChangeAvailability",{"connectorId":2,"type":"Inoperative"})"));
}

}  // namespace
}  // namespace evnet::ocpp
