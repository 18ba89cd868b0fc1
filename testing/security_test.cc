// Attacks on a running network, secured as tools/ev deploys it (real
// processes, the real broker, certificates from tools/pki/evpki): each is
// refused, nothing else is disturbed, and the audit log says so once.
#include <stdio.h>
#include <sys/wait.h>

#include <atomic>
#include <cstdlib>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "common/files.h"
#include "common/json_codec.h"
#include "common/kafka/kafka_admin.h"
#include "common/trust/transport_security.h"
#include "common/proto_time.h"
#include "common/trust/signing.h"
#include "common/kafka/topics.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "librdkafka/rdkafka.h"
#include "testing/network.h"
#include "testing/test_pki.h"

namespace evnet::test {
namespace {

using ::testing::HasSubstr;

// The audit records of `action` on `target` with `result`.
std::vector<v1::AuditRecord> Matching(const std::vector<v1::AuditRecord>& all,
                                      const std::string& action, const std::string& target,
                                      const std::string& result) {
  std::vector<v1::AuditRecord> out;
  for (const v1::AuditRecord& r : all) {
    if (r.action() == action && r.target() == target && r.result() == result) out.push_back(r);
  }
  return out;
}

// What kcat (a Kafka client nobody on this team wrote) did as role/name of
// network `n`, or with no certificate when `role` is empty.
struct KcatRun {
  int exit_code = -1;
  std::string output;
};
KcatRun Kcat(Network& n, const std::string& role, const std::string& name,
             const std::string& args, const std::string& input = "", int timeout_seconds = 30) {
  std::string command = absl::StrCat("timeout ", timeout_seconds, " kcat -b ",
                                     n.broker().bootstrap_servers(), " -X log_level=3");
  if (!role.empty()) {
    const std::string files = absl::StrCat(n.pki_dir(), "/", role, "/", name);
    absl::StrAppend(&command, " -X security.protocol=ssl -X ssl.ca.location=", n.pki_dir(),
                    "/ca.crt -X ssl.certificate.location=", files,
                    ".crt -X ssl.key.location=", files, ".key");
  }
  const std::string input_file = absl::StrCat(n.dir(), "/kcat.in");
  std::ofstream(input_file) << input;
  absl::StrAppend(&command, " ", args, " <", input_file, " 2>&1");
  KcatRun run;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  char buffer[4096];
  for (size_t got; (got = fread(buffer, 1, sizeof(buffer), pipe)) > 0;) {
    run.output.append(buffer, got);
  }
  const int status = pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

// Revokes the certificate at `file` (under the network's PKI folder) as the
// test's operator, through central's API.
absl::StatusOr<v1::RevokedCertificate> RevokeCertificate(Network& n, const std::string& file,
                                                         const std::string& reason) {
  absl::StatusOr<std::string> pem = ReadFile(n.pki_dir() + file);
  if (!pem.ok()) return pem.status();
  grpc::ClientContext context;
  v1::RevokeCertificateRequest revoke;
  revoke.set_certificate_pem(*pem);
  revoke.set_reason(reason);
  v1::RevokedCertificate revoked;
  const grpc::Status status = n.central().RevokeCertificate(&context, revoke, &revoked);
  if (!status.ok()) return absl::UnavailableError(status.error_message());
  return revoked;
}

TEST(SecurityTest, OnKafkaEachRoleDoesOnlyItsPart) {
  auto started = Network::Start({CpSpec{}});
  ASSERT_TRUE(started.ok()) << started.status();
  Network& n = **started;
  ASSERT_TRUE(n.Pki("issue", "driver driver-mallory").ok());
  ASSERT_TRUE(n.Pki("issue", "operator auditor").ok());
  const std::string forged_result =
      R"({"sessionId":"s-forged","requestId":"r-forged","cpId":"CP-001",)"
      R"("driverId":"driver-mallory","energyKwh":99,"amountEur":0.01})";

  // Without a certificate the broker does not even answer.
  KcatRun anonymous = Kcat(n, "", "", "-L -m 5");
  EXPECT_NE(anonymous.exit_code, 0) << anonymous.output;
  EXPECT_THAT(anonymous.output, ::testing::Not(HasSubstr(kSessionResultsTopic)));

  // A driver cannot join another driver's consumer group (nor any group):
  // none can move another's place past its tickets. What earlier versions
  // granted (every driver in every driver's group) central takes back when
  // it starts.
  {
    absl::StatusOr<std::unique_ptr<KafkaAdmin>> admin =
        KafkaAdmin::Create(n.broker().bootstrap_servers());
    ASSERT_TRUE(admin.ok()) << admin.status();
    ASSERT_TRUE((*admin)
                    ->EnsureAcls({{KafkaAcl::kGroup, "evnet-driver-", true, kRoleDriver,
                                   KafkaAcl::kRead}},
                                 absl::Seconds(10))
                    .ok());
  }
  ASSERT_TRUE(n.Kill("central").ok());
  ASSERT_TRUE(n.Restart("central").ok());
  std::unique_ptr<httplib::Client> probes = n.Probes();
  ASSERT_TRUE(WaitFor(
      [&] {
        httplib::Result ready = probes->Get("/readyz");
        return ready && ready->status == 200;
      },
      absl::Seconds(30)))
      << n.LogOf("central");
  KcatRun hijack = Kcat(n, "driver", "driver-mallory",
                        absl::StrCat("-G evnet-driver-driver-alice -e -o beginning ",
                                     kDriverUpdatesTopic),
                        "", /*timeout_seconds=*/10);
  EXPECT_THAT(hijack.output, HasSubstr("Group authorization failed")) << hijack.output;

  // A driver writes requests and reads updates, nothing else.
  for (const char* topic : {kSessionResultsTopic, kSupplyTelemetryTopic, kDriverUpdatesTopic,
                            kCpRegistryTopic, kAuditTopic}) {
    KcatRun written = Kcat(n, "driver", "driver-mallory",
                           absl::StrCat("-P -t ", topic, " -k CP-001"), forged_result);
    EXPECT_NE(written.exit_code, 0) << topic;
    EXPECT_THAT(written.output, HasSubstr("authorization failed")) << topic;
  }
  // The broker logs each denial: who (by role, or a driver by its id),
  // what, on which topic, from where.
  EXPECT_TRUE(WaitFor(
      [&] {
        return n.broker().Log().find("Principal = User:driver.driver-mallory is Denied "
                                     "operation = DESCRIBE "
                                     "from host = 127.0.0.1 on resource = "
                                     "Topic:LITERAL:evnet.session.results") != std::string::npos;
      },
      absl::Seconds(5)))
      << n.broker().Log();
  KcatRun audit_read =
      Kcat(n, "driver", "driver-mallory", absl::StrCat("-C -t ", kAuditTopic, " -o beginning -e"));
  EXPECT_THAT(audit_read.output, HasSubstr("authorization failed"));
  // An engine writes telemetry and results, and cannot ask for a charge or
  // read what drivers are told.
  KcatRun asked = Kcat(n, "cp", "CP-001", absl::StrCat("-P -t ", kDriverRequestsTopic, " -k x"),
                       R"({"requestId":"r-cp","driverId":"driver-mallory","cpId":"CP-001"})");
  EXPECT_THAT(asked.output, HasSubstr("authorization failed"));
  KcatRun peeked = Kcat(n, "cp", "CP-001",
                        absl::StrCat("-C -t ", kDriverUpdatesTopic, " -o beginning -e"));
  EXPECT_THAT(peeked.output, HasSubstr("authorization failed"));
  // Nor see how much drivers ask (the DESCRIBE a driver's permissions imply).
  KcatRun described = Kcat(n, "cp", "CP-001", absl::StrCat("-L -t ", kDriverRequestsTopic));
  EXPECT_THAT(described.output, HasSubstr("authorization failed")) << described.output;

  // An OCPP gateway writes telemetry and results and keeps its chargers'
  // journals; it cannot ask for a charge, read drivers' updates or the audit.
  ASSERT_TRUE(n.Pki("issue", "gateway gw-test").ok());
  KcatRun gateway_asks = Kcat(n, "gateway", "gw-test",
                              absl::StrCat("-P -t ", kDriverRequestsTopic, " -k x"),
                              R"({"requestId":"r-gw","driverId":"driver-mallory","cpId":"CP-001"})");
  EXPECT_THAT(gateway_asks.output, HasSubstr("authorization failed"));
  for (const char* topic : {kDriverUpdatesTopic, kAuditTopic}) {
    KcatRun gateway_reads =
        Kcat(n, "gateway", "gw-test", absl::StrCat("-C -t ", topic, " -o beginning -e"));
    EXPECT_THAT(gateway_reads.output, HasSubstr("authorization failed")) << topic;
  }

  // What each role may do, it can: a driver's signed request is served,
  // and an operator reads the audit log.
  const std::string own_request =
      R"({"requestId":"r-mallory","driverId":"driver-mallory","cpId":"CP-001"})";
  KcatRun request = Kcat(n, "driver", "driver-mallory",
                         absl::StrCat("-P -t ", kDriverRequestsTopic, " -k driver-mallory"),
                         *n.SignRequest(own_request, "driver-mallory"));
  EXPECT_EQ(request.exit_code, 0) << request.output;
  EXPECT_EQ(n.updates().WaitFor("driver-mallory", v1::UPDATE_KIND_ACCEPTED, 1, absl::Seconds(20))
                .size(),
            1u)
      << n.LogOf("central");
  // Every driver may fetch the updates topic, but what it holds is sealed:
  // only driver-mallory's key opens driver-mallory's updates.
  const std::vector<v1::DriverUpdate> on_kafka =
      n.ReadAll<v1::DriverUpdate>(kDriverUpdatesTopic, kTopicPartitions);
  ASSERT_FALSE(on_kafka.empty());
  for (const v1::DriverUpdate& u : on_kafka) {
    EXPECT_FALSE(u.sealed().empty()) << u.ShortDebugString();
    EXPECT_EQ(u.kind(), v1::UPDATE_KIND_UNSPECIFIED);
    EXPECT_TRUE(u.cp_id().empty() && u.request_id().empty() && u.update_id().empty());
  }
  ASSERT_TRUE(n.Pki("issue", "driver driver-eve").ok());
  KcatRun fetched =
      Kcat(n, "driver", "driver-eve", absl::StrCat("-C -t ", kDriverUpdatesTopic, " -o beginning -e"));
  EXPECT_EQ(fetched.exit_code, 0) << fetched.output;
  EXPECT_THAT(fetched.output, HasSubstr("sealed"));
  EXPECT_THAT(fetched.output, ::testing::Not(HasSubstr("UPDATE_KIND")));
  EXPECT_THAT(fetched.output, ::testing::Not(HasSubstr("CP-001")));

  // A driver cannot ask as another: unsigned, or signed with its own
  // certificate, a request as driver-alice is set aside as forged.
  const std::string as_alice =
      R"({"requestId":"r-as-alice","driverId":"driver-alice","cpId":"CP-001"})";
  for (const std::string& forged : {as_alice, *n.SignRequest(as_alice, "driver-mallory")}) {
    KcatRun sent = Kcat(n, "driver", "driver-mallory",
                        absl::StrCat("-P -t ", kDriverRequestsTopic, " -k driver-alice"), forged);
    EXPECT_EQ(sent.exit_code, 0) << sent.output;
  }
  // Nor replay one for ever: signed without an id or a time, a request
  // could be served again whenever it is sent, so it is refused.
  for (const std::string& timeless :
       {std::string(R"({"requestId":"r-timeless","driverId":"driver-alice","cpId":"CP-001"})"),
        std::string(R"({"driverId":"driver-alice","cpId":"CP-001","requestedAt":"2026-01-01T00:00:00Z"})")}) {
    KcatRun sent = Kcat(n, "driver", "driver-alice",
                        absl::StrCat("-P -t ", kDriverRequestsTopic, " -k driver-alice"),
                        *n.SignRequest(timeless, "driver-alice", /*stamp=*/false));
    EXPECT_EQ(sent.exit_code, 0) << sent.output;
  }
  std::vector<v1::AuditRecord> audit_log;
  ASSERT_TRUE(WaitFor(
      [&] {
        audit_log = n.Audit();
        return Matching(audit_log, "message", "driver-alice", "refused").size() >= 4;
      },
      absl::Seconds(15)));
  const std::vector<v1::AuditRecord> refused =
      Matching(audit_log, "message", "driver-alice", "refused");
  ASSERT_EQ(refused.size(), 4u);
  EXPECT_THAT(refused[0].reason(), HasSubstr("forged: a request as driver-alice"));
  EXPECT_THAT(refused[1].reason(), HasSubstr("driver-mallory"));
  EXPECT_THAT(refused[2].reason(), HasSubstr("must carry its request_id and requested_at"));
  EXPECT_THAT(refused[3].reason(), HasSubstr("must carry its request_id and requested_at"));
  EXPECT_TRUE(n.updates().For("driver-alice").empty());
  KcatRun audit = Kcat(n, "operator", "auditor",
                       absl::StrCat("-C -t ", kAuditTopic, " -o beginning -e -q"));
  EXPECT_EQ(audit.exit_code, 0) << audit.output;
  EXPECT_THAT(audit.output, HasSubstr("cp.enrol"));

  // driver-mallory's certificate is revoked (its phone was stolen): central
  // refuses its requests from then on, and after a restart too.
  {
    absl::StatusOr<v1::RevokedCertificate> revoked =
        RevokeCertificate(n, "/driver/driver-mallory.crt", "phone stolen");
    ASSERT_TRUE(revoked.ok()) << revoked.status();
    EXPECT_EQ(revoked->holder(), "driver driver-mallory");
  }
  EXPECT_TRUE(WaitFor(
      [&] { return !Matching(n.Audit(), "certificate.revoke", "driver driver-mallory", "done").empty(); },
      absl::Seconds(10)));
  ASSERT_TRUE(n.Kill("central").ok());
  ASSERT_TRUE(n.Restart("central").ok());
  ASSERT_TRUE(WaitFor(
      [&] {
        httplib::Result ready = n.Probes()->Get("/readyz");
        return ready && ready->status == 200;
      },
      absl::Seconds(30)))
      << n.LogOf("central");
  KcatRun after_revocation = Kcat(
      n, "driver", "driver-mallory",
      absl::StrCat("-P -t ", kDriverRequestsTopic, " -k driver-mallory"),
      *n.SignRequest(R"({"requestId":"r-mallory-revoked","driverId":"driver-mallory","cpId":"CP-002"})",
                     "driver-mallory"));
  ASSERT_EQ(after_revocation.exit_code, 0) << after_revocation.output;
  std::vector<v1::AuditRecord> revoked_refused;
  ASSERT_TRUE(WaitFor(
      [&] {
        revoked_refused = Matching(n.Audit(), "message", "driver-mallory", "refused");
        return !revoked_refused.empty();
      },
      absl::Seconds(20)))
      << n.LogOf("central");
  EXPECT_THAT(revoked_refused.back().reason(), HasSubstr("was revoked by operator test-operator"));
  EXPECT_THAT(revoked_refused.back().reason(), HasSubstr("phone stolen"));
  for (const v1::DriverUpdate& u : n.updates().For("driver-mallory")) {
    EXPECT_NE(u.request_id(), "r-mallory-revoked") << "a revoked driver's request was answered";
  }

  // An operator's certificate revoked is refused by the engines too (which
  // let operators simulate here, --simulation): they follow the revocations
  // central records, from the moment it does.
  const absl::Status before_revocation = n.Simulate(1, v1::SIMULATE_ACTION_RECOVER, "auditor");
  ASSERT_TRUE(before_revocation.ok()) << before_revocation << "\n" << n.LogOf("cp-e-1");
  {
    absl::StatusOr<v1::RevokedCertificate> revoked =
        RevokeCertificate(n, "/operator/auditor.crt", "left the company");
    ASSERT_TRUE(revoked.ok()) << revoked.status();
  }
  absl::Status simulated;
  EXPECT_TRUE(WaitFor(
      [&] {
        simulated = n.Simulate(1, v1::SIMULATE_ACTION_RECOVER, "auditor");
        return absl::IsPermissionDenied(simulated);
      },
      absl::Seconds(10)))
      << simulated << "\n" << n.LogOf("cp-e-1");
  EXPECT_THAT(simulated.message(), HasSubstr("revoked by operator test-operator"));
  EXPECT_THAT(simulated.message(), HasSubstr("left the company"));
  EXPECT_TRUE(n.Simulate(1, v1::SIMULATE_ACTION_RECOVER).ok()) << "another operator still may";

  // Nothing refused reached a topic, and central was not disturbed.
  for (const v1::SessionResult& r :
       n.ReadAll<v1::SessionResult>(kSessionResultsTopic, kTopicPartitions)) {
    EXPECT_NE(r.session_id(), "s-forged");
  }
  EXPECT_TRUE(n.process("central")->Running());
  EXPECT_THAT(n.Status("CP-001"),
              ::testing::AnyOf(v1::CP_STATUS_ACTIVE, v1::CP_STATUS_SUPPLYING));
}

// Everything started at once, as a deployment does: an engine up before
// central has granted the network's ACLs is refused by the broker (its
// producer fails for good). Once central has, a new producer gets in, and
// the CP's sessions are ticketed.
// How long, at most, the broker held back a client of `role`/`name` of
// network `n` that wrote `bytes` to `topic` as fast as it could (Kafka's
// quota throttle, as the broker reports it in its answers); -1 when not
// all of it was written within a minute.
int LongestThrottleMs(Network& n, const std::string& role, const std::string& name,
                      const std::string& topic, size_t bytes) {
  const std::string files = absl::StrCat(n.pki_dir(), "/", role, "/", name);
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char error[512];
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"bootstrap.servers", n.broker().bootstrap_servers()},
           {"security.protocol", "ssl"},
           {"ssl.ca.location", n.pki_dir() + "/ca.crt"},
           {"ssl.certificate.location", files + ".crt"},
           {"ssl.key.location", files + ".key"},
           {"linger.ms", "0"}}) {
    if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), error, sizeof(error)) !=
        RD_KAFKA_CONF_OK) {
      ADD_FAILURE() << key << ": " << error;
      rd_kafka_conf_destroy(conf);
      return -1;
    }
  }
  static std::atomic<int> longest{0};
  longest = 0;
  rd_kafka_conf_set_throttle_cb(conf, [](rd_kafka_t*, const char*, int32_t, int ms, void*) {
    if (ms > longest.load()) longest = ms;
  });
  rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
  if (producer == nullptr) {
    ADD_FAILURE() << error;
    return -1;
  }
  const std::string chunk(4096, 'x');
  for (size_t sent = 0; sent < bytes; sent += chunk.size()) {
    rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic.c_str()),
                      RD_KAFKA_V_VALUE(const_cast<char*>(chunk.data()), chunk.size()),
                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    rd_kafka_poll(producer, 0);
  }
  const rd_kafka_resp_err_t flushed = rd_kafka_flush(producer, 60'000);
  rd_kafka_poll(producer, 0);  // the last answers' throttle callbacks
  rd_kafka_destroy(producer);
  return flushed == RD_KAFKA_RESP_ERR_NO_ERROR ? longest.load() : -1;
}

// Each driver is its own principal on Kafka, and Kafka's default user
// quota limits each one on its own: one driver writing as fast as it can is
// held back, another driver is not, and neither are central and the CPs.
TEST(SecurityTest, EachDriverWritesWithinAKafkaQuotaOfItsOwn) {
  if (const char* external = getenv("KAFKA_BOOTSTRAP"); external != nullptr && *external != '\0') {
    GTEST_SKIP() << "sets the quotas of a broker of its own (KAFKA_BOOTSTRAP names another)";
  }
  constexpr int kQuota = 16 * 1024;  // bytes a second
  setenv("EVNET_KAFKA_DRIVER_QUOTA", absl::StrCat(kQuota).c_str(), 1);
  auto started = Network::Start({CpSpec{}});
  unsetenv("EVNET_KAFKA_DRIVER_QUOTA");
  ASSERT_TRUE(started.ok()) << started.status();
  Network& n = **started;
  ASSERT_TRUE(WaitFor([&] { return n.broker().Log().find("QUOTAS SET") != std::string::npos; },
                      absl::Seconds(90)))
      << n.broker().Log();
  ASSERT_TRUE(n.Pki("issue", "driver driver-mallory").ok());
  ASSERT_TRUE(n.Pki("issue", "driver driver-alice").ok());
  // Forty seconds' worth of mallory's quota at once (the broker measures a
  // rate over about ten seconds, so a burst of less may pass).
  const int mallory = LongestThrottleMs(n, "driver", "driver-mallory", kDriverRequestsTopic,
                                        40 * kQuota);
  EXPECT_GT(mallory, 0) << "a driver over its quota was not held back";
  // Right after, alice's own request goes through at once: mallory's quota
  // is not hers.
  EXPECT_EQ(LongestThrottleMs(n, "driver", "driver-alice", kDriverRequestsTopic, 1024), 0);
  // A CP writes as much as mallory did, unthrottled.
  EXPECT_EQ(LongestThrottleMs(n, "cp", "CP-001", kSupplyTelemetryTopic, 40 * kQuota), 0);
}

TEST(SecurityTest, AnEngineRefusedBeforeCentralGrantedTheAclsGetsInOnceItHas) {
  auto started = Network::Start({CpSpec{}}, {}, Network::Order::kEnginesRefusedBeforeCentral);
  ASSERT_TRUE(started.ok()) << started.status();
  Network& n = **started;
  EXPECT_THAT(n.LogOf("cp-e-1"), HasSubstr("Cluster authorization failed"));

  ASSERT_TRUE(n.StartDriver("driver-alice", {"CP-001"}).ok());
  auto tickets = n.updates().WaitFor("driver-alice", v1::UPDATE_KIND_ENDED, 1, absl::Seconds(60));
  ASSERT_EQ(tickets.size(), 1u) << n.LogOf("cp-e-1") << n.LogOf("central");
  EXPECT_THAT(n.LogOf("cp-e-1"), HasSubstr("replaced by a new producer"));
  EXPECT_TRUE(n.process("cp-e-1")->Running());
}

TEST(SecurityTest, ARevokedCpIsCutOffWithinASecondAndBackOnlyWhenEnrolledAgain) {
  auto started = Network::Start({CpSpec{}, CpSpec{}});
  ASSERT_TRUE(started.ok()) << started.status();
  Network& n = **started;

  const absl::Time revoked_at = absl::Now();
  ASSERT_TRUE(n.Revoke(2).ok());
  // The link is closed at once: DISCONNECTED as soon as central sweeps.
  ASSERT_TRUE(n.WaitForStatus("CP-002", v1::CP_STATUS_DISCONNECTED, absl::Seconds(1)))
      << n.LogOf("central");
  EXPECT_LT(absl::Now() - revoked_at, absl::Seconds(1));
  EXPECT_TRUE(WaitFor(
      [&] { return n.LogOf("cp-m-2").find("CP-002 was revoked") != std::string::npos; },
      absl::Seconds(5)))
      << n.LogOf("cp-m-2");
  // It keeps trying, and stays out; CP-001 is undisturbed.
  EXPECT_FALSE(n.WaitForStatus("CP-002", v1::CP_STATUS_ACTIVE, absl::Seconds(3)));
  EXPECT_EQ(n.Status("CP-001"), v1::CP_STATUS_ACTIVE);

  // Enrolled again with a new certificate, which its programs read from
  // disk without a restart.
  ASSERT_TRUE(n.Enrol(2).ok());
  EXPECT_TRUE(n.WaitForStatus("CP-002", v1::CP_STATUS_ACTIVE, absl::Seconds(20)))
      << n.LogOf("cp-m-2");
  EXPECT_TRUE(n.process("cp-m-2")->Running());
  EXPECT_TRUE(n.process("cp-e-2")->Running());

  std::vector<v1::AuditRecord> audit;
  ASSERT_TRUE(WaitFor(
      [&] {
        audit = n.Audit();
        return !Matching(audit, "cp.revoke", "CP-002", "done").empty();
      },
      absl::Seconds(10)));
  const std::vector<v1::AuditRecord> revoked = Matching(audit, "cp.revoke", "CP-002", "done");
  ASSERT_EQ(revoked.size(), 1u);
  EXPECT_EQ(revoked[0].actor(), "operator test-operator");
  // Its retries, refused, within a minute: one record; and perhaps one
  // more for the old certificate, if it retried after the new enrolment and
  // before it read its new files.
  std::vector<v1::AuditRecord> revoked_refusals, other_refusals;
  for (const v1::AuditRecord& r : Matching(audit, "monitor.register", "CP-002", "refused")) {
    EXPECT_EQ(r.actor(), "cp CP-002");
    (r.reason() == "CP-002 was revoked" ? revoked_refusals : other_refusals).push_back(r);
  }
  EXPECT_EQ(revoked_refusals.size(), 1u);
  ASSERT_LE(other_refusals.size(), 1u);
  for (const v1::AuditRecord& r : other_refusals) {
    EXPECT_THAT(r.reason(), HasSubstr("enrolled with another certificate"));
  }
  EXPECT_EQ(Matching(audit, "cp.enrol", "CP-002", "done").size(), 2u);  // at start, and again
}

TEST(SecurityTest, MonitorsWithoutAValidCertificateOfTheirOwnCpNeverGetIn) {
  auto started = Network::Start({CpSpec{}});
  ASSERT_TRUE(started.ok()) << started.status();
  Network& n = **started;
  const std::string other_ca = n.dir() + "/other-pki";
  ASSERT_TRUE(test::Evpki("init", other_ca).ok());
  ASSERT_TRUE(test::Evpki("issue", other_ca, "cp CP-001").ok());
  // A certificate of the network's own CA for CP-001, expired at once.
  const std::string expired = n.dir() + "/expired-pki";
  ASSERT_EQ(std::system(absl::StrCat("mkdir -p ", expired, " && cp ", n.pki_dir(), "/ca.* ",
                                     expired).c_str()),
            0);
  ASSERT_TRUE(test::Evpki("issue", expired, "cp CP-001 0").ok());
  ASSERT_TRUE(n.Kill("cp-m-1").ok());
  ASSERT_TRUE(n.WaitForStatus("CP-001", v1::CP_STATUS_DISCONNECTED, absl::Seconds(10)));

  const std::string pki = n.pki_dir();
  // Each speaks to central as soon as its engine has refused it three
  // times: no start-up grace, as their engine is up.
  auto flags = [&](const std::string& dir, const std::string& name) {
    return std::vector<std::string>{"--tls_ca=" + pki + "/ca.crt",
                                    absl::StrCat("--tls_cert=", dir, "/cp/", name, ".crt"),
                                    absl::StrCat("--tls_key=", dir, "/cp/", name, ".key"),
                                    "--startup_grace=0s"};
  };
  // Plaintext, a certificate of another CA, an expired one: the handshake fails.
  ASSERT_TRUE(n.StartMonitor(1, "plaintext", {"--insecure", "--startup_grace=0s"}).ok());
  ASSERT_TRUE(n.StartMonitor(1, "other-ca", flags(other_ca, "CP-001")).ok());
  ASSERT_TRUE(n.StartMonitor(1, "expired", flags(expired, "CP-001")).ok());
  // Another CP's certificate: the monitor itself will not speak as CP-001.
  ASSERT_TRUE(n.Pki("issue", "cp CP-002").ok());
  ASSERT_TRUE(n.StartMonitor(1, "other-cp", flags(pki, "CP-002")).ok());
  EXPECT_TRUE(WaitFor([&] { return !n.process("other-cp")->Running(); }, absl::Seconds(10)));
  EXPECT_THAT(n.LogOf("other-cp"), HasSubstr("names cp CP-002, not cp CP-001"));

  EXPECT_FALSE(n.WaitForStatus("CP-001", v1::CP_STATUS_ACTIVE, absl::Seconds(5)));
  for (const char* name : {"plaintext", "other-ca", "expired"}) {
    EXPECT_TRUE(n.process(name)->Running()) << name << " keeps trying, and says why";
    EXPECT_THAT(n.LogOf(name), HasSubstr("Central unavailable")) << name;
  }
  EXPECT_THAT(n.LogOf("central"), HasSubstr("Handshake failed"));
  // On the audit log, once a minute each however often they retry: the
  // plaintext one, and those whose certificate does not verify (another
  // CA's, an expired one: TLS gives both the same reason).
  std::vector<v1::AuditRecord> refused;
  EXPECT_TRUE(WaitFor(
      [&] {
        refused = Matching(n.Audit(), "tls.handshake", "central", "refused");
        return refused.size() >= 2;
      },
      absl::Seconds(10)));
  std::vector<std::string> reasons;
  for (const v1::AuditRecord& r : refused) reasons.push_back(r.reason());
  EXPECT_THAT(reasons, ::testing::Contains(HasSubstr("certificate verify failed")));
  EXPECT_EQ(reasons.size(), 2u) << ::testing::PrintToString(reasons);
  EXPECT_TRUE(n.process("central")->Running());
  // The CP's own monitor gets back in.
  ASSERT_TRUE(n.Restart("cp-m-1").ok());
  EXPECT_TRUE(n.WaitForStatus("CP-001", v1::CP_STATUS_ACTIVE, absl::Seconds(15)));
}

TEST(SecurityTest, AForgedResultIsNotBilledAndAReplayedOneNotTwice) {
  CpSpec long_session;
  long_session.session_duration = absl::Seconds(60);
  auto started = Network::Start({long_session, CpSpec{}});
  ASSERT_TRUE(started.ok()) << started.status();
  Network& n = **started;
  ASSERT_TRUE(n.StartDriver("driver-alice", {"CP-001"}).ok());
  ASSERT_TRUE(n.WaitForStatus("CP-001", v1::CP_STATUS_SUPPLYING, absl::Seconds(30)));
  std::vector<v1::Session> sessions = n.Sessions();
  ASSERT_EQ(sessions.size(), 1u);

  // Whoever can write to the topic writes a result for that live session:
  // unsigned, and signed by another (enrolled) CP's key.
  v1::SessionResult forged;
  forged.set_session_id(sessions[0].session_id());
  forged.set_request_id(sessions[0].request_id());
  forged.set_cp_id("CP-001");
  forged.set_driver_id("driver-alice");
  *forged.mutable_started_at() = sessions[0].requested_at();
  *forged.mutable_ended_at() = ToProto(absl::Now());
  forged.set_energy_kwh(99);
  forged.set_price_eur_per_kwh(0.30);
  forged.set_amount_eur(29.70);
  forged.set_end_reason(v1::SESSION_END_REASON_UNPLUGGED);
  ASSERT_TRUE(n.Produce(kSessionResultsTopic, "CP-001", ToJson(forged)).ok());
  v1::SessionResult by_another = forged;
  by_another.set_signature(
      *Sign(*ReadFile(n.pki_dir() + "/cp/CP-002.key"), SignedBytes(by_another)));
  ASSERT_TRUE(n.Produce(kSessionResultsTopic, "CP-001", ToJson(by_another)).ok());

  std::vector<v1::AuditRecord> audit;
  ASSERT_TRUE(WaitFor(
      [&] {
        audit = n.Audit();
        return Matching(audit, "message", "CP-001", "refused").size() >= 2;
      },
      absl::Seconds(15)));
  const std::vector<v1::AuditRecord> refused = Matching(audit, "message", "CP-001", "refused");
  ASSERT_EQ(refused.size(), 2u);
  for (const v1::AuditRecord& r : refused) EXPECT_THAT(r.reason(), HasSubstr("forged"));
  // The driver's updates so far reached this test (opened with its key of
  // now: the key renewed below opens only what comes after).
  EXPECT_TRUE(WaitFor([&] { return !n.updates().For("driver-alice").empty(); }, absl::Seconds(10)));
  for (const v1::DriverUpdate& u : n.updates().For("driver-alice")) {
    EXPECT_NE(u.kind(), v1::UPDATE_KIND_ENDED) << "a forged result was billed";
  }
  EXPECT_EQ(n.Status("CP-001"), v1::CP_STATUS_SUPPLYING);

  // Telemetry for the session, written with CP-002's certificate as kcat
  // writes it (Kafka lets every CP write the topic): not its CP's key's
  // MAC, so its driver never sees it; audited once.
  const std::string fake_progress = absl::StrFormat(
      R"({"cpId":"CP-001","measuredAt":"%s","supply":{"sessionId":"%s",)"
      R"("driverId":"driver-alice","powerKw":22,"energyKwh":77,"amountEur":23.1}})",
      absl::FormatTime(absl::RFC3339_full, absl::Now(), absl::UTCTimeZone()),
      sessions[0].session_id());
  for (int i = 0; i < 3; ++i) {
    KcatRun sent = Kcat(n, "cp", "CP-002", absl::StrCat("-P -t ", kSupplyTelemetryTopic, " -k CP-001"),
                        fake_progress);
    ASSERT_EQ(sent.exit_code, 0) << sent.output;
  }
  ASSERT_TRUE(WaitFor([&] { return !Matching(n.Audit(), "telemetry", "CP-001", "refused").empty(); },
                      absl::Seconds(15)))
      << n.LogOf("central");
  // The engine's own samples still reach the driver after the forged ones.
  const size_t progress_before =
      n.updates().WaitFor("driver-alice", v1::UPDATE_KIND_PROGRESS, 1, absl::Seconds(1)).size();
  EXPECT_GT(n.updates()
                .WaitFor("driver-alice", v1::UPDATE_KIND_PROGRESS, progress_before + 1, absl::Seconds(10))
                .size(),
            progress_before);
  for (const v1::DriverUpdate& u : n.updates().For("driver-alice")) {
    EXPECT_NE(u.progress().energy_kwh(), 77) << "forged telemetry reached the driver";
  }
  EXPECT_EQ(Matching(n.Audit(), "telemetry", "CP-001", "refused").size(), 1u);

  // Meanwhile the driver's certificate is renewed: central still seals to
  // the key the driver asked with, and the driver still opens its ticket.
  ASSERT_TRUE(n.Pki("issue", "driver driver-alice").ok());

  // The car leaves: the engine's own, signed result is billed.
  ASSERT_TRUE(n.Simulate(1, v1::SIMULATE_ACTION_UNPLUG).ok());
  auto tickets = n.updates().WaitFor("driver-alice", v1::UPDATE_KIND_ENDED, 1, absl::Seconds(20));
  ASSERT_EQ(tickets.size(), 1u);
  EXPECT_LT(tickets[0].ticket().energy_kwh(), 99);
  EXPECT_TRUE(WaitFor(
      [&] { return n.LogOf("driver-alice").find("Ticket: CP-001") != std::string::npos; },
      absl::Seconds(10)))
      << n.LogOf("driver-alice");

  // Replayed word for word, it is not billed again.
  v1::SessionResult genuine;
  for (const v1::SessionResult& r : n.ReadAll<v1::SessionResult>(kSessionResultsTopic, kTopicPartitions)) {
    if (r.session_id() == forged.session_id() && !r.signature().empty() &&
        r.energy_kwh() != 99) {
      genuine = r;
    }
  }
  ASSERT_FALSE(genuine.session_id().empty());
  ASSERT_TRUE(n.Produce(kSessionResultsTopic, "CP-001", ToJson(genuine)).ok());
  // By the time a later session's result (CP-002's, on the same topic, read
  // by the same consumer seconds after) is billed, the replay was read.
  ASSERT_TRUE(n.StartDriver("driver-bob", {"CP-002"}).ok());
  ASSERT_EQ(n.updates().WaitFor("driver-bob", v1::UPDATE_KIND_ENDED, 1, absl::Seconds(30)).size(),
            1u);
  EXPECT_EQ(n.updates().WaitFor("driver-alice", v1::UPDATE_KIND_ENDED, 2, absl::Seconds(2)).size(),
            1u);
  EXPECT_EQ(Matching(n.Audit(), "message", "CP-001", "refused").size(), 2u);
}

}  // namespace
}  // namespace evnet::test
