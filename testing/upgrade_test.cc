// Upgrade safety on real processes and the real broker: during a rolling
// upgrade, today's programs read what newer ones write. Every message type
// here carries fields (and an enum value) that today's code does not know;
// each is read, acted on, and nothing is lost or set aside.
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/files.h"
#include "common/json_codec.h"
#include "common/money.h"
#include "common/proto_time.h"
#include "common/trust/signing.h"
#include "common/kafka/topics.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/network.h"

namespace evnet::test {
namespace {

using ::testing::HasSubstr;

TEST(UpgradeTest, MessagesOfANewerVersionAreReadAndNothingIsLost) {
  CpSpec long_sessions;
  long_sessions.session_duration = absl::Hours(1);  // its result comes from the test
  auto net = Network::Start({CpSpec{}, long_sessions});
  ASSERT_TRUE(net.ok()) << net.status();
  Network& n = **net;
  auto produce = [&](const char* topic, const std::string& key, const std::string& value) {
    return n.Produce(topic, key, value);
  };

  // A newer driver's request: served to the end, with a ticket.
  ASSERT_TRUE(n.ProduceRequest("driver-newer",
                      R"({"requestId":"newer-1","driverId":"driver-newer","cpId":"CP-001",)"
                      R"("vehicle":{"plate":"1234-ABC","batteryKwh":77},)"
                      R"("paymentMethod":"PAYMENT_METHOD_FROM_THE_FUTURE"})")
                  .ok());
  auto tickets = n.updates().WaitFor("driver-newer", v1::UPDATE_KIND_ENDED, 1, absl::Seconds(30));
  ASSERT_EQ(tickets.size(), 1u) << n.LogOf("central");
  EXPECT_EQ(tickets[0].request_id(), "newer-1");

  // A newer engine's telemetry and result for a session central started
  // at CP-002: progress for the driver, then the ticket, billed as sent.
  ASSERT_TRUE(n.ProduceRequest("driver-newer2",
                      R"({"requestId":"newer-2","driverId":"driver-newer2","cpId":"CP-002"})")
                  .ok());
  auto accepted =
      n.updates().WaitFor("driver-newer2", v1::UPDATE_KIND_ACCEPTED, 1, absl::Seconds(30));
  ASSERT_EQ(accepted.size(), 1u) << n.LogOf("central");
  const std::string session = accepted[0].session_id();
  // CP-002's own engine reports progress too, and central forwards at most
  // one sample a second: send the newer one until a driver sees it. MACed
  // with the session's key (from central's record of it), over the fields
  // this version knows.
  std::string telemetry_key;
  for (const auto& held : n.ReadAll<v1::OpenSession>(kCentralSessionsTopic, kTopicPartitions)) {
    if (held.session_id() == session) telemetry_key = held.telemetry_key();
  }
  ASSERT_FALSE(telemetry_key.empty());
  const std::string newer_fields =
      absl::StrFormat(R"("cpId":"CP-002","measuredAt":"2030-01-01T00:00:00Z",)"
                      R"("supply":{"sessionId":"%s","driverId":"driver-newer2",)"
                      R"("powerKw":22,"energyKwh":4.25,"amountEur":1.28,)"
                      R"("phases":3},"temperatureC":41.5)",
                      session);
  absl::StatusOr<v1::SupplyTelemetry> known = FromJson<v1::SupplyTelemetry>("{" + newer_fields + "}");
  ASSERT_TRUE(known.ok()) << known.status();
  MacTelemetry(telemetry_key, *known);
  const std::string newer_telemetry =
      absl::StrCat("{", newer_fields, R"(,"mac":")", absl::Base64Escape(known->mac()), "\"}");
  auto newer_progress_seen = [&] {
    for (const v1::DriverUpdate& u : n.updates().For("driver-newer2")) {
      if (u.kind() == v1::UPDATE_KIND_PROGRESS && u.progress().energy_kwh() == 4.25) return true;
    }
    return false;
  };
  bool seen = false;
  for (absl::Time deadline = absl::Now() + absl::Seconds(30); !seen && absl::Now() < deadline;) {
    ASSERT_TRUE(produce(kSupplyTelemetryTopic, "CP-002", newer_telemetry).ok());
    seen = WaitFor(newer_progress_seen, absl::Seconds(2));
  }
  EXPECT_TRUE(seen) << n.LogOf("central");
  // Signed with CP-002's key over what is billed, as a newer engine does;
  // its new fields and end reason are not covered, and central drops them.
  v1::SessionResult billed_fields;
  billed_fields.set_session_id(session);
  billed_fields.set_request_id("newer-2");
  billed_fields.set_cp_id("CP-002");
  billed_fields.set_driver_id("driver-newer2");
  *billed_fields.mutable_started_at() = ToProto(absl::FromUnixSeconds(1893456000));
  *billed_fields.mutable_ended_at() = ToProto(absl::FromUnixSeconds(1893456000 + 720));
  billed_fields.set_energy_kwh(4.4);
  billed_fields.set_price_eur_per_kwh(0.3);
  billed_fields.set_amount_eur(1.32);
  absl::StatusOr<std::string> signature =
      Sign(*ReadFile(n.pki_dir() + "/cp/CP-002.key"), SignedBytes(billed_fields));
  ASSERT_TRUE(signature.ok()) << signature.status();
  ASSERT_TRUE(produce(kSessionResultsTopic, "CP-002",
                      absl::StrFormat(R"({"sessionId":"%s","requestId":"newer-2",)"
                                      R"("cpId":"CP-002","driverId":"driver-newer2",)"
                                      R"("startedAt":"2030-01-01T00:00:00Z",)"
                                      R"("endedAt":"2030-01-01T00:12:00Z","energyKwh":4.4,)"
                                      R"("priceEurPerKwh":0.3,"amountEur":1.32,)"
                                      R"("endReason":"SESSION_END_REASON_BATTERY_HEATED",)"
                                      R"("meterStopWh":123456,"signature":"%s",)"
                                      R"("meterSignature":"abc"})",
                                      session, absl::Base64Escape(*signature)))
                  .ok());
  auto billed =
      n.updates().WaitFor("driver-newer2", v1::UPDATE_KIND_ENDED, 1, absl::Seconds(30));
  ASSERT_EQ(billed.size(), 1u) << n.LogOf("central");
  EXPECT_EQ(billed[0].ticket().energy_kwh(), 4.4);
  EXPECT_EQ(billed[0].ticket().amount_eur(), 1.32);

  // A newer central's registry record: today's central restarts with it.
  ASSERT_TRUE(produce(kCpRegistryTopic, "CP-NEWER",
                      R"({"info":{"cpId":"CP-NEWER","location":"Elche","priceEurPerKwh":0.4,)"
                      R"("powerKw":50,"connectors":[{"type":"CCS2"}]},)"
                      R"("enrolledAt":"2030-01-01T00:00:00Z","certificateSerial":"0a:1b"})")
                  .ok());
  ASSERT_TRUE(n.Kill("central").ok());
  ASSERT_TRUE(n.Restart("central").ok());
  EXPECT_TRUE(n.WaitForStatus("CP-NEWER", v1::CP_STATUS_DISCONNECTED, absl::Seconds(30)))
      << n.LogOf("central");
  EXPECT_TRUE(n.WaitForStatus("CP-001", v1::CP_STATUS_ACTIVE, absl::Seconds(30)));

  // A newer central's update, waiting in Kafka for a driver that comes
  // back: today's driver shows it.
  ASSERT_TRUE(n.StartDriver("driver-today", {"CP-001"}).ok());
  ASSERT_EQ(n.updates().WaitFor("driver-today", v1::UPDATE_KIND_ENDED, 1, absl::Seconds(30)).size(),
            1u);
  ASSERT_TRUE(WaitFor([&] { return !n.process("driver-today")->Running(); }, absl::Seconds(20)))
      << n.LogOf("driver-today");
  ASSERT_TRUE(produce(kDriverUpdatesTopic, "driver-today",
                      R"({"updateId":"u-newer-1","driverId":"driver-today","cpId":"CP-001",)"
                      R"("kind":"UPDATE_KIND_REJECTED","rejectionReason":"said by a newer central",)"
                      R"("carbonGramsPerKwh":120,"locale":"es-ES"})")
                  .ok());
  ASSERT_TRUE(n.Restart("driver-today").ok());
  EXPECT_TRUE(WaitFor(
      [&] { return n.LogOf("driver-today").find("said by a newer central") != std::string::npos; },
      absl::Seconds(20)))
      << n.LogOf("driver-today");

  // Nothing was set aside, and nothing was ticketed twice.
  EXPECT_THAT(n.LogOf("central"), ::testing::Not(HasSubstr("Set aside")));
  EXPECT_EQ(n.updates().WaitFor("driver-newer", v1::UPDATE_KIND_ENDED, 2, absl::Seconds(1)).size(),
            1u);
}

// An earlier central kept its open sessions on its ledger only. Upgraded,
// central finds evnet.central.sessions new, imports the sessions its ledger
// accepted and never ended (once), and bills their results when they come.
TEST(UpgradeTest, AnEarlierVersionsOpenSessionsAreImportedFromItsLedgerAndBilled) {
  auto net = Network::Start({CpSpec{}, CpSpec{}});
  ASSERT_TRUE(net.ok()) << net.status();
  Network& n = **net;
  ASSERT_TRUE(n.Kill("central").ok());

  // What the earlier central left: one session accepted and running at
  // CP-002, one accepted and ticketed, one whose start failed.
  auto booked = [&](const std::string& session, const std::string& request, v1::UpdateKind kind) {
    v1::DriverUpdate update;
    update.set_update_id("u-" + request + "-" + v1::UpdateKind_Name(kind));
    update.set_request_id(request);
    update.set_driver_id("driver-earlier");
    update.set_cp_id("CP-002");
    update.set_session_id(session);
    update.set_kind(kind);
    *update.mutable_sent_at() = ToProto(absl::Now() - absl::Hours(2));
    return n.Produce(kCentralLedgerTopic, request, ToJson(update));
  };
  ASSERT_TRUE(booked("s-earlier-open", "earlier-1", v1::UPDATE_KIND_ACCEPTED).ok());
  ASSERT_TRUE(booked("s-earlier-ended", "earlier-2", v1::UPDATE_KIND_ACCEPTED).ok());
  ASSERT_TRUE(booked("s-earlier-ended", "earlier-2", v1::UPDATE_KIND_ENDED).ok());
  ASSERT_TRUE(booked("s-earlier-failed", "earlier-3", v1::UPDATE_KIND_REJECTED).ok());

  ASSERT_TRUE(n.Restart("central").ok());
  ASSERT_TRUE(WaitFor([&] { return absl::StrContains(n.LogOf("central"), "imported 1 open session"); },
                      absl::Seconds(30)))
      << n.LogOf("central");

  // Its CP's result comes (the car left while central was being upgraded):
  // billed once, at the CP's registered price.
  v1::SessionResult result;
  result.set_session_id("s-earlier-open");
  result.set_request_id("earlier-1");
  result.set_cp_id("CP-002");
  result.set_driver_id("driver-earlier");
  *result.mutable_started_at() = ToProto(absl::Now() - absl::Hours(2));
  *result.mutable_ended_at() = ToProto(absl::Now() - absl::Minutes(1));
  result.set_energy_kwh(30.5);
  result.set_price_eur_per_kwh(0.30);
  result.set_amount_cents(AmountCents(30.5, 0.30));
  result.set_amount_eur(EurOfCents(result.amount_cents()));
  result.set_end_reason(v1::SESSION_END_REASON_UNPLUGGED);
  ASSERT_TRUE(SignResult(*ReadFile(n.pki_dir() + "/cp/CP-002.key"), result).ok());
  ASSERT_TRUE(n.Produce(kSessionResultsTopic, "CP-002", ToJson(result)).ok());
  auto tickets = [&] {
    std::vector<v1::SessionResult> out;
    for (const auto& u : n.ReadAll<v1::DriverUpdate>(kCentralLedgerTopic, kTopicPartitions)) {
      if (u.kind() == v1::UPDATE_KIND_ENDED && u.session_id() == "s-earlier-open") {
        out.push_back(u.ticket());
      }
    }
    return out;
  };
  ASSERT_TRUE(WaitFor([&] { return !tickets().empty(); }, absl::Seconds(30))) << n.LogOf("central");
  EXPECT_EQ(tickets()[0].amount_cents(), 915);

  // Restarted again, central imports nothing more: the topic is no longer new.
  auto count = [&](const std::string& needle) {
    const std::string log = n.FullLogOf("central");
    size_t times = 0;
    for (size_t at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) ++times;
    return times;
  };
  ASSERT_EQ(count("Rebuilt from Kafka"), 2u);
  ASSERT_TRUE(n.Kill("central").ok());
  ASSERT_TRUE(n.Restart("central").ok());
  ASSERT_TRUE(WaitFor([&] { return count("Rebuilt from Kafka") == 3; }, absl::Seconds(30)))
      << n.LogOf("central");
  EXPECT_EQ(count("open session(s) from the ledger"), 1u) << n.FullLogOf("central");
  EXPECT_EQ(tickets().size(), 1u);
}

}  // namespace
}  // namespace evnet::test
