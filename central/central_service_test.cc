// CentralService on a real gRPC server on a loopback port, in-process: the
// monitors' links and the watch stream as clients see them.
#include "central/central_service.h"

#include <functional>
#include <memory>
#include <optional>
#include <cstdlib>
#include <fstream>
#include <set>

#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "central/books_service.h"
#include "central/central_core.h"
#include "central/fakes.h"
#include "common/clock.h"
#include "common/files.h"
#include "common/proto_time.h"
#include "common/grpc/grpc_channel.h"
#include "common/grpc/grpc_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/test_pki.h"

namespace evnet {
namespace {

using ::testing::HasSubstr;

class CentralServiceTest : public ::testing::Test {
 protected:
  static constexpr absl::Duration kRegisterTimeout = absl::Seconds(2);
  explicit CentralServiceTest(const TransportSecurity& security = TransportSecurity::Insecure())
      : core_({absl::Seconds(3), kRegisterTimeout, {}, security.insecure, &clock_},
              {publisher_, store_, enrolment_store_, enrolment_store_,
               [this](const v1::RevokedCertificate& record, Done done) {
                 revoked_.push_back(record);
                 done(absl::OkStatus());
               },
               audit_, &sender_}) {
    registry_.FinishRestore();
    enrolments_.FinishRestore();
    revocations_.FinishRestore();
    id_tokens_.FinishRestore();
    server_ = *GrpcServer::Start({"127.0.0.1:0", {&service_, &books_service_}, security});
    if (security.insecure) stub_ = StubAs(security);
  }
  std::unique_ptr<v1::CentralService::Stub> StubAs(const TransportSecurity& security) {
    return v1::CentralService::NewStub(
        MakeCentralChannel(absl::StrCat("127.0.0.1:", server_->port()), security));
  }
  ~CentralServiceTest() override {
    service_.CloseWatches();
    server_->Shutdown();
  }

  // Waits until `condition` on the registry holds, waking on each of its
  // changes, or until `timeout` passes.
  bool Eventually(const std::function<bool()>& condition,
                  absl::Duration timeout = absl::Seconds(5)) {
    const absl::Time deadline = absl::Now() + timeout;
    uint64_t seen = registry_.version();
    while (!condition()) {
      if (absl::Now() >= deadline) return false;
      seen = registry_.WaitForChange(seen, deadline - absl::Now());
    }
    return true;
  }

  struct Monitor {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReaderWriter<v1::MonitorMessage, v1::CentralCommand>> stream;
  };

  // Opens a link for `cp_id`, registers, and waits for central's answer.
  std::unique_ptr<Monitor> Connect(const std::string& cp_id) {
    return Connect(*stub_, cp_id);
  }
  static std::unique_ptr<Monitor> Connect(v1::CentralService::Stub& stub,
                                          const std::string& cp_id) {
    auto monitor = std::make_unique<Monitor>();
    monitor->stream = stub.MonitorLink(&monitor->context);
    v1::MonitorMessage hello;
    hello.mutable_register_()->set_cp_id(cp_id);
    EXPECT_TRUE(monitor->stream->Write(hello));
    v1::CentralCommand registered;
    EXPECT_TRUE(monitor->stream->Read(&registered));
    EXPECT_TRUE(registered.has_registered());
    return monitor;
  }
  static void Report(Monitor& monitor, bool ok) {
    v1::MonitorMessage health;
    health.mutable_health()->set_engine_ok(ok);
    health.mutable_health()->set_engine_state(ok ? v1::ENGINE_STATE_IDLE : v1::ENGINE_STATE_FAULT);
    ASSERT_TRUE(monitor.stream->Write(health));
  }

  FakeClock clock_;
  FakeCommandSender sender_;
  FakeUpdatePublisher publisher_;
  FakeStore store_;
  FakeStore enrolment_store_;
  MemoryAuditLog audit_;
  std::vector<v1::RevokedCertificate> revoked_;  // as Kafka would keep them
  // Central as the program wires it, commands to `sender_`.
  CentralCore core_;
  Metrics& metrics_ = core_.metrics;
  Registry& registry_ = core_.registry;
  LinkHub& hub_ = core_.hub;
  SessionCoordinator& coordinator_ = core_.coordinator;
  Enrolments& enrolments_ = core_.enrolments;
  Revocations& revocations_ = core_.revocations;
  Access& access_ = core_.access;
  IdTokens& id_tokens_ = core_.id_tokens;
  CentralServiceImpl& service_ = core_.service;
  // Central keeps no books here: access is decided before they are asked.
  BooksServiceImpl books_service_{nullptr, "no books in this test", access_, audit_};
  std::unique_ptr<GrpcServer> server_;
  std::unique_ptr<v1::CentralService::Stub> stub_;
};

TEST_F(CentralServiceTest, AReplacedMonitorsEndLeavesTheCpOnItsNewLink) {
  std::unique_ptr<Monitor> old_monitor = Connect("CP-001");
  Report(*old_monitor, true);
  ASSERT_TRUE(Eventually([&] { return registry_.Status("CP-001") == v1::CP_STATUS_ACTIVE; }));
  // A command on the old link that it never answers: its failure shows
  // when central has finished with the old link.
  absl::Notification orphan_failed;
  hub_.SendCommand("CP-001", v1::CentralCommand(), absl::Seconds(30),
                   [] { return absl::OkStatus(); },
                   [&](absl::Status s) {
                     EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
                     orphan_failed.Notify();
                   });
  v1::CentralCommand command;
  ASSERT_TRUE(old_monitor->stream->Read(&command));

  clock_.Advance(absl::Seconds(4));  // the old monitor fell silent
  std::unique_ptr<Monitor> new_monitor = Connect("CP-001");
  Report(*new_monitor, true);
  // Central closed the old link...
  EXPECT_FALSE(old_monitor->stream->Read(&command));
  EXPECT_EQ(old_monitor->stream->Finish().error_code(), grpc::StatusCode::ABORTED);
  ASSERT_TRUE(orphan_failed.WaitForNotificationWithTimeout(absl::Seconds(5)));
  // ... and its end did not make the live CP look disconnected: no change
  // at all comes after the new monitor's report.
  EXPECT_EQ(hub_.Connected(), 1);
  ASSERT_TRUE(Eventually([&] { return registry_.Status("CP-001") == v1::CP_STATUS_ACTIVE; }));
  const uint64_t settled = registry_.version();
  EXPECT_EQ(registry_.WaitForChange(settled, absl::Milliseconds(300)), settled);
  EXPECT_EQ(registry_.Status("CP-001"), v1::CP_STATUS_ACTIVE);
  new_monitor->stream->WritesDone();
  EXPECT_TRUE(new_monitor->stream->Finish().ok());
  EXPECT_TRUE(Eventually([&] { return registry_.Status("CP-001") == v1::CP_STATUS_DISCONNECTED; }));
}

// The charger's ask, and central's answer to it (other commands skipped).
v1::Authorization Ask(grpc::ClientReaderWriter<v1::MonitorMessage, v1::CentralCommand>& link,
                      const std::string& ask_id, const std::string& id_tag,
                      std::optional<v1::ChargerStart> start = std::nullopt) {
  v1::MonitorMessage ask;
  ask.mutable_authorize()->set_ask_id(ask_id);
  ask.mutable_authorize()->set_id_tag(id_tag);
  if (start.has_value()) *ask.mutable_authorize()->mutable_start() = *start;
  EXPECT_TRUE(link.Write(ask));
  v1::CentralCommand command;
  while (link.Read(&command)) {
    if (command.command_id() == ask_id) return command.authorization();
  }
  ADD_FAILURE() << "no answer to " << ask_id;
  return v1::Authorization();
}

TEST_F(CentralServiceTest, ACardSwipedAtAChargerOpensOneSessionOfItsDriver) {
  auto put = [&](const std::string& tag, const std::string& driver, v1::IdTokenStatus status) {
    grpc::ClientContext context;
    v1::PutIdTokenRequest request;
    request.set_id_tag(tag);
    request.set_driver_id(driver);
    request.set_status(status);
    v1::IdToken token;
    EXPECT_TRUE(stub_->PutIdToken(&context, request, &token).ok());
    return token;
  };
  put("card-1", "driver-alice", v1::ID_TOKEN_STATUS_ACCEPTED);
  put("CARD-2", "driver-bob", v1::ID_TOKEN_STATUS_BLOCKED);
  {
    absl::MutexLock lock(&enrolment_store_.mu);
    ASSERT_EQ(enrolment_store_.id_tokens.size(), 2u) << "each change is in Kafka first";
  }
  std::unique_ptr<Monitor> first = Connect("OCPP-001");
  std::unique_ptr<Monitor> second = Connect("OCPP-002");
  Report(*first, true);
  Report(*second, true);
  ASSERT_TRUE(Eventually([&] {
    return registry_.Status("OCPP-001") == v1::CP_STATUS_ACTIVE &&
           registry_.Status("OCPP-002") == v1::CP_STATUS_ACTIVE;
  }));

  // Authorize alone opens nothing.
  EXPECT_EQ(Ask(*first->stream, "a1", "CARD-1").status(), "Accepted");
  EXPECT_EQ(Ask(*first->stream, "a2", "CARD-2").status(), "Blocked");
  EXPECT_EQ(Ask(*first->stream, "a3", "CARD-404").status(), "Invalid");
  EXPECT_TRUE(publisher_.updates.empty());

  v1::ChargerStart start;
  start.set_transaction_id(7);
  *start.mutable_started_at() = ToProto(clock_.Now());
  start.set_meter_start_wh(1000);
  start.set_connector_id(1);
  const v1::Authorization opened = Ask(*first->stream, "s1", "Card-1", start);
  EXPECT_EQ(opened.status(), "Accepted");
  EXPECT_EQ(opened.session().driver_id(), "driver-alice");
  const std::string session_id = opened.session().session_id();
  ASSERT_FALSE(session_id.empty());
  EXPECT_EQ(publisher_.kinds(),
            (std::vector<v1::UpdateKind>{v1::UPDATE_KIND_ACCEPTED, v1::UPDATE_KIND_SUPPLY_STARTED}));
  EXPECT_EQ(publisher_.updates[0].driver_id(), "driver-alice");
  ASSERT_EQ(publisher_.held.count(session_id), 1u) << "held open, so billed once it ends";
  EXPECT_EQ(publisher_.held[session_id].cp_id(), "OCPP-001");

  // The charger asks again (our answer was lost): the same session.
  EXPECT_EQ(Ask(*first->stream, "s2", "CARD-1", start).session().session_id(), session_id);
  EXPECT_EQ(publisher_.decisions.size(), 1u);
  // The same card at another charger while its session runs; a blocked card.
  v1::ChargerStart elsewhere = start;
  elsewhere.set_transaction_id(1);
  EXPECT_EQ(Ask(*second->stream, "s3", "CARD-1", elsewhere).status(), "ConcurrentTx");
  const v1::Authorization blocked = Ask(*second->stream, "s4", "CARD-2", elsewhere);
  EXPECT_EQ(blocked.status(), "Blocked");
  EXPECT_TRUE(blocked.session().session_id().empty());
  EXPECT_EQ(publisher_.decisions.size(), 1u) << "nothing opened for a refused card";
  // The charger's next transaction while central still holds the one
  // before open (its stop's result not read yet): to be asked again.
  v1::ChargerStart next = start;
  next.set_transaction_id(8);
  EXPECT_EQ(Ask(*first->stream, "s5", "CARD-1", next).status(), "");
  EXPECT_EQ(publisher_.decisions.size(), 1u);

  std::vector<std::string> audited;
  for (const v1::AuditRecord& r : audit_.records()) {
    audited.push_back(absl::StrCat(r.action(), " ", r.target(), " ", r.result()));
  }
  EXPECT_THAT(audited, ::testing::IsSupersetOf({"token.put card-1 done", "token.put CARD-2 done",
                                               "session.card OCPP-001 done",
                                               "session.card OCPP-002 refused"}));
}

TEST_F(CentralServiceTest, AWatcherGetsEveryCpOnceThenOnlyWhatChanged) {
  std::unique_ptr<Monitor> a = Connect("CP-001");
  std::unique_ptr<Monitor> b = Connect("CP-002");
  Report(*a, true);
  Report(*b, true);
  ASSERT_TRUE(Eventually([&] {
    return registry_.Status("CP-001") == v1::CP_STATUS_ACTIVE &&
           registry_.Status("CP-002") == v1::CP_STATUS_ACTIVE;
  }));
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<v1::ChargingPoint>> watch =
      stub_->WatchChargingPoints(&context, {});
  std::set<std::string> first;
  v1::ChargingPoint cp;
  for (int i = 0; i < 2 && watch->Read(&cp); ++i) {
    EXPECT_EQ(cp.status(), v1::CP_STATUS_ACTIVE);
    first.insert(cp.info().cp_id());
  }
  EXPECT_EQ(first, (std::set<std::string>{"CP-001", "CP-002"}));
  // The same health again and again changes nothing a person sees ...
  for (int i = 0; i < 50; ++i) Report(*a, true);
  // ... so the next thing the watcher gets is the fault.
  Report(*b, false);
  ASSERT_TRUE(watch->Read(&cp));
  EXPECT_EQ(cp.info().cp_id(), "CP-002");
  EXPECT_EQ(cp.status(), v1::CP_STATUS_BROKEN);
  context.TryCancel();
}

TEST_F(CentralServiceTest, ListsArePaged) {
  for (int i = 0; i < 2500; ++i) {
    v1::ChargingPointInfo info;
    info.set_cp_id(absl::StrFormat("CP-%05d", i));
    (void)registry_.Register(info);
  }
  std::set<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    grpc::ClientContext context;
    v1::ListChargingPointsRequest request;
    request.set_page_token(token);
    v1::ListChargingPointsResponse response;
    ASSERT_TRUE(stub_->ListChargingPoints(&context, request, &response).ok());
    EXPECT_LE(response.charging_points_size(), 1000);
    for (const v1::ChargingPoint& cp : response.charging_points()) seen.insert(cp.info().cp_id());
    token = response.next_page_token();
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen.size(), 2500u);
}

TEST_F(CentralServiceTest, AStopKafkaRefusesLeavesTheCpAsItWas) {
  std::unique_ptr<Monitor> a = Connect("CP-001");
  Report(*a, true);
  google::protobuf::RepeatedPtrField<v1::ChargingPoint> out;
  const Actor operator_at_desk{"operator (test)", "ipv4:192.0.2.7:4711"};
  ASSERT_TRUE(service_.SetStoppedAndWait("CP-001", false, true, &out, operator_at_desk,
                                         absl::Seconds(5)).ok());
  {
    absl::MutexLock lock(&store_.mu);
    store_.status = absl::UnavailableError("Kafka is away");
  }
  // Stopping it again fails; it must stay stopped, not flip to resumed.
  EXPECT_EQ(service_.SetStoppedAndWait("CP-001", false, true, &out, operator_at_desk,
                                       absl::Seconds(5)).code(),
            absl::StatusCode::kUnavailable);
  absl::StatusOr<v1::ChargingPoint> cp = registry_.Get("CP-001");
  ASSERT_TRUE(cp.ok());
  EXPECT_TRUE(cp->stopped_by_operator());
  // Each attempt is audited once, with who, from where and how it ended.
  std::vector<v1::AuditRecord> audit = audit_.records();
  ASSERT_EQ(audit.size(), 2u);
  EXPECT_EQ(audit[0].action(), "cp.stop");
  EXPECT_EQ(audit[0].target(), "CP-001");
  EXPECT_EQ(audit[0].actor(), "operator (test)");
  EXPECT_EQ(audit[0].source(), "ipv4:192.0.2.7:4711");
  EXPECT_EQ(audit[0].result(), "done");
  EXPECT_EQ(audit[1].result(), "failed");
  EXPECT_NE(audit[1].reason().find("Kafka is away"), std::string::npos);
}

// A stop is answered when Kafka has it, and no thread waits meanwhile: the
// call is finished from the delivery report.
TEST_F(CentralServiceTest, AStopIsAnsweredOnceKafkaHasItFromTheDeliveryReport) {
  std::unique_ptr<Monitor> a = Connect("CP-001");
  Report(*a, true);
  {
    absl::MutexLock lock(&store_.mu);
    store_.hold = true;
  }
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(absl::Seconds(10)));
  v1::StopChargingPointRequest request;
  request.set_cp_id("CP-001");
  v1::StopChargingPointResponse response;
  grpc::Status answered;
  absl::Notification finished;
  stub_->async()->StopChargingPoint(&context, &request, &response, [&](grpc::Status status) {
    answered = std::move(status);
    finished.Notify();
  });
  // Not answered while Kafka has not confirmed it, however long that takes.
  EXPECT_FALSE(finished.WaitForNotificationWithTimeout(absl::Milliseconds(300)));
  {
    absl::MutexLock lock(&store_.mu);
    EXPECT_EQ(store_.held.size(), 1u);
  }
  store_.Release();
  ASSERT_TRUE(finished.WaitForNotificationWithTimeout(absl::Seconds(5)));
  EXPECT_TRUE(answered.ok()) << answered.error_message();
  ASSERT_EQ(response.charging_points_size(), 1);
  EXPECT_EQ(response.charging_points(0).status(), v1::CP_STATUS_STOPPED);
}

// Any certificate of the network's CA may open MonitorLink; one that never
// says which CP it is does not keep the stream.
TEST_F(CentralServiceTest, AStreamThatNeverRegistersIsClosedAndAudited) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  const absl::Time opened = absl::Now();
  auto stream = stub_->MonitorLink(&context);
  v1::CentralCommand command;
  EXPECT_FALSE(stream->Read(&command));
  const grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_THAT(status.error_message(), HasSubstr("no registration within 2s"));
  EXPECT_GE(absl::Now() - opened, kRegisterTimeout - absl::Milliseconds(100));
  const std::vector<v1::AuditRecord> refused = audit_.WaitFor(
      [](const v1::AuditRecord& r) {
        return r.action() == "monitor.register" && r.result() == "refused";
      },
      1, absl::Seconds(5));
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_THAT(refused[0].reason(), HasSubstr("no registration within 2s"));
  // One that registers in time keeps its link past that.
  std::unique_ptr<Monitor> a = Connect("CP-001");
  Report(*a, true);
  EXPECT_FALSE(Eventually([&] { return hub_.Connected() == 0; }, kRegisterTimeout + absl::Seconds(1)));
}

TEST_F(CentralServiceTest, OperatorCallsAndRefusedMonitorsAreAudited) {
  std::unique_ptr<Monitor> a = Connect("CP-001");
  Report(*a, true);
  ASSERT_TRUE(Eventually([&] { return registry_.Status("CP-001") == v1::CP_STATUS_ACTIVE; }));
  {
    grpc::ClientContext context;
    v1::StopChargingPointRequest request;
    request.set_cp_id("CP-404");
    v1::StopChargingPointResponse response;
    EXPECT_EQ(stub_->StopChargingPoint(&context, request, &response).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  // A second monitor for a CP whose monitor is alive is refused.
  Monitor impostor;
  impostor.stream = stub_->MonitorLink(&impostor.context);
  v1::MonitorMessage hello;
  hello.mutable_register_()->set_cp_id("CP-001");
  ASSERT_TRUE(impostor.stream->Write(hello));
  v1::CentralCommand command;
  EXPECT_FALSE(impostor.stream->Read(&command));
  EXPECT_EQ(impostor.stream->Finish().error_code(), grpc::StatusCode::ALREADY_EXISTS);
  std::vector<v1::AuditRecord> audit = audit_.records();
  ASSERT_EQ(audit.size(), 2u);
  EXPECT_EQ(audit[0].action(), "cp.stop");
  EXPECT_EQ(audit[0].target(), "CP-404");
  EXPECT_EQ(audit[0].actor(), "anyone (insecure)");
  EXPECT_NE(audit[0].source().find("127.0.0.1"), std::string::npos);
  EXPECT_EQ(audit[0].result(), "refused");
  EXPECT_EQ(audit[1].action(), "monitor.register");
  EXPECT_EQ(audit[1].target(), "CP-001");
  EXPECT_EQ(audit[1].actor(), "anyone (insecure)");
  EXPECT_EQ(audit[1].result(), "refused");
  EXPECT_NE(audit[1].reason().find("already has a connected monitor"), std::string::npos);
}

// As deployed: mutual TLS with certificates from tools/pki/evpki (openssl),
// CPs enrolled by an operator.
class SecureCentralServiceTest : public CentralServiceTest {
 protected:
  static std::string Dir() { return std::string(std::getenv("TEST_TMPDIR")) + "/pki"; }
  static void SetUpTestSuite() {
    ASSERT_TRUE(test::MakeTestPki("pki", {"cp CP-001", "cp CP-002", "operator alice"}).ok());
  }
  SecureCentralServiceTest()
      : CentralServiceTest(TransportSecurity::FromDir(Dir(), kRoleCentral, kCentralName)),
        operator_(StubAs(TransportSecurity::FromDir(Dir(), kRoleOperator, "alice"))) {}

  static std::string Read(const std::string& file) { return ReadFile(file).value_or(""); }
  // The actions on the audit log, each checked to be a refusal of `actor`.
  std::vector<std::string> RefusalsOf(const std::string& actor) {
    std::vector<std::string> refused;
    for (const v1::AuditRecord& r : audit_.records()) {
      EXPECT_EQ(r.actor(), actor);
      EXPECT_EQ(r.result(), "refused");
      refused.push_back(r.action());
    }
    return refused;
  }
  grpc::Status Enrol(const std::string& cp_id, const std::string& cert_file) {
    grpc::ClientContext context;
    v1::EnrollChargingPointRequest request;
    request.set_cp_id(cp_id);
    request.set_certificate_pem(Read(cert_file));
    v1::Enrolment enrolment;
    return operator_->EnrollChargingPoint(&context, request, &enrolment);
  }
  // A new certificate for `cp_id`, copied aside (old-<cp_id>.crt/.key) so
  // that it outlives the next one issued.
  static TransportSecurity IssueKeptAside(const std::string& cp_id) {
    EXPECT_TRUE(test::Evpki("issue", Dir(), "cp " + cp_id).ok());
    TransportSecurity files = TransportSecurity::FromDir(Dir(), kRoleCp, cp_id);
    const std::string aside = std::string(std::getenv("TEST_TMPDIR")) + "/old-" + cp_id;
    std::ofstream(aside + ".crt") << Read(files.cert_file);
    std::ofstream(aside + ".key") << Read(files.key_file);
    files.cert_file = aside + ".crt";
    files.key_file = aside + ".key";
    return files;
  }
  grpc::Status Revoke(const std::string& cp_id) {
    grpc::ClientContext context;
    v1::RevokeChargingPointRequest request;
    request.set_cp_id(cp_id);
    v1::Enrolment enrolment;
    return operator_->RevokeChargingPoint(&context, request, &enrolment);
  }
  // A monitor on a connection of its own registers `cp_id`: OK and the open
  // link, or why central refused it.
  grpc::Status Register(const TransportSecurity& as, const std::string& cp_id,
                        std::unique_ptr<Monitor>* open = nullptr) {
    auto stub = v1::CentralService::NewStub(MakeDedicatedChannel(
        absl::StrCat("127.0.0.1:", server_->port()), as, ++connections_));
    auto monitor = std::make_unique<Monitor>();
    monitor->stream = stub->MonitorLink(&monitor->context);
    v1::MonitorMessage hello;
    hello.mutable_register_()->set_cp_id(cp_id);
    monitor->stream->Write(hello);
    v1::CentralCommand registered;
    if (monitor->stream->Read(&registered) && registered.has_registered()) {
      if (open != nullptr) *open = std::move(monitor);
      return grpc::Status::OK;
    }
    return monitor->stream->Finish();
  }
  // The audit records of `action` with `result`.
  std::vector<v1::AuditRecord> Audited(const std::string& action, const std::string& result) {
    std::vector<v1::AuditRecord> out;
    for (const v1::AuditRecord& r : audit_.records()) {
      if (r.action() == action && r.result() == result) out.push_back(r);
    }
    return out;
  }

  std::unique_ptr<v1::CentralService::Stub> operator_;
  int connections_ = 0;
};

TEST_F(SecureCentralServiceTest, AMonitorSpeaksOnlyForTheEnrolledCpItsCertificateNames) {
  const TransportSecurity cp1 = TransportSecurity::FromDir(Dir(), kRoleCp, "CP-001");
  const TransportSecurity cp2 = TransportSecurity::FromDir(Dir(), kRoleCp, "CP-002");
  grpc::Status not_enrolled = Register(cp1, "CP-001");
  EXPECT_EQ(not_enrolled.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(not_enrolled.error_message(), "CP-001 is not enrolled");

  ASSERT_TRUE(Enrol("CP-001", cp1.cert_file).ok());
  ASSERT_TRUE(Enrol("CP-002", cp2.cert_file).ok());
  // CP-002's certificate, enrolled and valid, cannot register as CP-001 ...
  grpc::Status impostor = Register(cp2, "CP-001");
  EXPECT_EQ(impostor.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(impostor.error_message(), "the certificate names cp CP-002, not the CP CP-001");
  // ... nor, once registered as itself, report for CP-001.
  std::unique_ptr<Monitor> cp2_link;
  ASSERT_TRUE(Register(cp2, "CP-002", &cp2_link).ok());
  v1::MonitorMessage other;
  other.mutable_register_()->set_cp_id("CP-001");
  other.mutable_register_()->set_power_kw(22);
  ASSERT_TRUE(cp2_link->stream->Write(other));
  std::unique_ptr<Monitor> cp1_link;
  ASSERT_TRUE(Register(cp1, "CP-001", &cp1_link).ok());
  EXPECT_TRUE(registry_.Known("CP-001"));
  EXPECT_EQ(hub_.Connected(), 2);

  // The last refusal is of a message on an open link: wait for central to read it.
  const std::vector<v1::AuditRecord> refused = audit_.WaitFor(
      [](const v1::AuditRecord& r) {
        return r.action() == "monitor.register" && r.result() == "refused";
      },
      3, absl::Seconds(5));
  ASSERT_EQ(refused.size(), 3u);
  EXPECT_EQ(refused[0].actor(), "cp CP-001");
  EXPECT_EQ(refused[0].reason(), "CP-001 is not enrolled");
  EXPECT_EQ(refused[1].actor(), "cp CP-002");
  EXPECT_EQ(refused[1].target(), "CP-001");
  EXPECT_EQ(refused[2].actor(), "cp CP-002");
  EXPECT_EQ(refused[2].reason(), "the link of CP-002 cannot speak for another CP");
  EXPECT_EQ(Audited("cp.enrol", "done").size(), 2u);
}

TEST_F(SecureCentralServiceTest, ARevokedCpIsCutOffAtOnceAndComesBackOnlyWithANewCertificate) {
  const TransportSecurity old_files = IssueKeptAside("CP-009");
  ASSERT_TRUE(Enrol("CP-009", old_files.cert_file).ok());
  std::unique_ptr<Monitor> link;
  ASSERT_TRUE(Register(old_files, "CP-009", &link).ok());

  const absl::Time revoked_at = absl::Now();
  ASSERT_TRUE(Revoke("CP-009").ok());
  v1::CentralCommand command;
  EXPECT_FALSE(link->stream->Read(&command));
  EXPECT_LT(absl::Now() - revoked_at, absl::Seconds(1)) << "the link is closed at once";
  grpc::Status closed = link->stream->Finish();
  EXPECT_EQ(closed.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(closed.error_message(), "CP-009 was revoked");
  EXPECT_EQ(Register(old_files, "CP-009").error_message(), "CP-009 was revoked");

  // Enrolled again with a new certificate: that one gets in, the old never.
  ASSERT_TRUE(test::Evpki("issue", Dir(), "cp CP-009").ok());
  const TransportSecurity new_files = TransportSecurity::FromDir(Dir(), kRoleCp, "CP-009");
  ASSERT_TRUE(Enrol("CP-009", new_files.cert_file).ok());
  EXPECT_EQ(Register(old_files, "CP-009").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(Register(new_files, "CP-009").ok());

  ASSERT_EQ(Audited("cp.revoke", "done").size(), 1u);
  EXPECT_EQ(Audited("cp.revoke", "done")[0].actor(), "operator alice");
  EXPECT_EQ(Audited("cp.enrol", "done").size(), 2u);
}

TEST_F(SecureCentralServiceTest, EnrollingANewCertificateEndsTheLinkHeldWithTheOldOne) {
  const TransportSecurity old_files = IssueKeptAside("CP-010");
  ASSERT_TRUE(Enrol("CP-010", old_files.cert_file).ok());
  std::unique_ptr<Monitor> old_link;
  ASSERT_TRUE(Register(old_files, "CP-010", &old_link).ok());

  ASSERT_TRUE(test::Evpki("issue", Dir(), "cp CP-010").ok());
  const TransportSecurity new_files = TransportSecurity::FromDir(Dir(), kRoleCp, "CP-010");
  const absl::Time enrolled_at = absl::Now();
  ASSERT_TRUE(Enrol("CP-010", new_files.cert_file).ok());
  v1::CentralCommand command;
  EXPECT_FALSE(old_link->stream->Read(&command));
  EXPECT_LT(absl::Now() - enrolled_at, absl::Seconds(1)) << "the old link is closed at once";
  grpc::Status closed = old_link->stream->Finish();
  EXPECT_EQ(closed.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(closed.error_message(),
            "CP-010 was enrolled with another certificate; connect with it");

  // The new certificate's link stays when the same certificate is enrolled again.
  std::unique_ptr<Monitor> new_link;
  ASSERT_TRUE(Register(new_files, "CP-010", &new_link).ok());
  ASSERT_TRUE(Enrol("CP-010", new_files.cert_file).ok());
  Report(*new_link, true);
  EXPECT_EQ(hub_.Connected(), 1);
  EXPECT_TRUE(Eventually([&] {
    absl::StatusOr<v1::ChargingPoint> cp = registry_.Get("CP-010");
    return cp.ok() && cp->status() == v1::CP_STATUS_ACTIVE;
  }));
}

TEST_F(SecureCentralServiceTest, OnlyOperatorsReadTheNetworkStopACpOrEnrolOne) {
  auto cp = StubAs(TransportSecurity::FromDir(Dir(), kRoleCp, "CP-001"));
  {
    grpc::ClientContext context;
    v1::ListChargingPointsResponse response;
    EXPECT_EQ(cp->ListChargingPoints(&context, {}, &response).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext context;
    v1::StopChargingPointRequest request;
    request.set_all(true);
    v1::StopChargingPointResponse response;
    EXPECT_EQ(cp->StopChargingPoint(&context, request, &response).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReader<v1::ChargingPoint>> watch =
        cp->WatchChargingPoints(&context, {});
    v1::ChargingPoint point;
    EXPECT_FALSE(watch->Read(&point));
    EXPECT_EQ(watch->Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext context;
    v1::EnrollChargingPointRequest request;
    request.set_cp_id("CP-002");
    request.set_certificate_pem(Read(Dir() + "/cp/CP-002.crt"));
    v1::Enrolment enrolment;
    EXPECT_EQ(cp->EnrollChargingPoint(&context, request, &enrolment).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  EXPECT_EQ(RefusalsOf("cp CP-001"),
            (std::vector<std::string>{"cp.list", "cp.stop", "cp.watch", "cp.enrol"}));
  // An operator may.
  grpc::ClientContext context;
  v1::ListChargingPointsResponse response;
  EXPECT_TRUE(operator_->ListChargingPoints(&context, {}, &response).ok());
}

TEST_F(SecureCentralServiceTest, OnlyOperatorsReadTheBooks) {
  auto channel_as = [&](const TransportSecurity& as) {
    return v1::BooksService::NewStub(
        MakeCentralChannel(absl::StrCat("127.0.0.1:", server_->port()), as));
  };
  auto cp = channel_as(TransportSecurity::FromDir(Dir(), kRoleCp, "CP-001"));
  auto alice = channel_as(TransportSecurity::FromDir(Dir(), kRoleOperator, "alice"));
  v1::ListTicketsRequest hers;
  hers.set_driver_id("driver-alice");
  v1::ListTicketsResponse tickets;
  v1::SummarizeTicketsResponse totals;
  {
    grpc::ClientContext context;
    EXPECT_EQ(cp->ListTickets(&context, hers, &tickets).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext context;
    EXPECT_EQ(cp->SummarizeTickets(&context, {}, &totals).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  EXPECT_EQ(RefusalsOf("cp CP-001"),
            (std::vector<std::string>{"tickets.list", "tickets.summarize"}));
  // An operator gets past access to the books, which this central lacks.
  grpc::ClientContext context;
  grpc::Status status = alice->ListTickets(&context, hers, &tickets);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(status.error_message(), "no books in this test");
}

TEST_F(SecureCentralServiceTest, ARevokedOperatorIsRefusedFromThenOnAndOnlyOperatorsRevoke) {
  ASSERT_TRUE(test::MakeTestPki("pki", {"operator mallory", "driver driver-eve"}).ok());
  auto revoke = [&](v1::CentralService::Stub& as, const std::string& cert_file) {
    grpc::ClientContext context;
    v1::RevokeCertificateRequest request;
    request.set_certificate_pem(Read(cert_file));
    request.set_reason("left the company");
    v1::RevokedCertificate revoked;
    return as.RevokeCertificate(&context, request, &revoked);
  };
  auto list = [](v1::CentralService::Stub& as) {
    grpc::ClientContext context;
    v1::ListChargingPointsResponse response;
    return as.ListChargingPoints(&context, {}, &response);
  };
  auto mallory = StubAs(TransportSecurity::FromDir(Dir(), kRoleOperator, "mallory"));
  ASSERT_TRUE(list(*mallory).ok());
  // A watch mallory opened before the revocation (its first CP read, so
  // that central holds it) ends with it, as does alice's only if hers.
  v1::ChargingPointInfo info;
  info.set_cp_id("CP-001");
  registry_.Register(info);
  grpc::ClientContext watch_context;
  watch_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  std::unique_ptr<grpc::ClientReader<v1::ChargingPoint>> watch =
      mallory->WatchChargingPoints(&watch_context, {});
  v1::ChargingPoint seen;
  ASSERT_TRUE(watch->Read(&seen));
  grpc::ClientContext alice_watch_context;
  alice_watch_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  std::unique_ptr<grpc::ClientReader<v1::ChargingPoint>> alice_watch =
      operator_->WatchChargingPoints(&alice_watch_context, {});
  ASSERT_TRUE(alice_watch->Read(&seen));
  // A CP may not revoke anyone; a CP's certificate is revoked by its enrolment.
  auto cp = StubAs(TransportSecurity::FromDir(Dir(), kRoleCp, "CP-001"));
  EXPECT_EQ(revoke(*cp, Dir() + "/driver/driver-eve.crt").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(revoke(*operator_, Dir() + "/cp/CP-001.crt").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(revoked_.empty());

  ASSERT_TRUE(revoke(*operator_, Dir() + "/operator/mallory.crt").ok());
  ASSERT_EQ(revoked_.size(), 1u);
  EXPECT_EQ(revoked_[0].holder(), "operator mallory");
  EXPECT_EQ(revoked_[0].revoked_by(), "operator alice");
  while (watch->Read(&seen)) {
  }
  const grpc::Status watch_ended = watch->Finish();
  EXPECT_EQ(watch_ended.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << watch_ended.error_message();
  EXPECT_NE(watch_ended.error_message().find("operator mallory was revoked"), std::string::npos)
      << watch_ended.error_message();
  // alice's watch goes on: a change still reaches it.
  v1::ChargingPointInfo other;
  other.set_cp_id("CP-002");
  registry_.Register(other);
  ASSERT_TRUE(alice_watch->Read(&seen));
  EXPECT_EQ(seen.info().cp_id(), "CP-002");
  alice_watch_context.TryCancel();
  const grpc::Status refused = list(*mallory);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(refused.error_message().find("was revoked by operator alice"), std::string::npos)
      << refused.error_message();
  EXPECT_EQ(revoke(*mallory, Dir() + "/operator/alice.crt").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_EQ(Audited("certificate.revoke", "done").size(), 1u);
  EXPECT_EQ(Audited("certificate.revoke", "done")[0].target(), "operator mallory");
  bool mallory_refused = false;
  for (const v1::AuditRecord& r : Audited("cp.list", "refused")) {
    mallory_refused |= r.actor() == "operator mallory";
  }
  EXPECT_TRUE(mallory_refused);
  EXPECT_TRUE(list(*operator_).ok());  // alice's own certificate still serves
}

TEST_F(SecureCentralServiceTest, OnlyACpsCertificateMayOpenAMonitorLink) {
  ASSERT_TRUE(test::MakeTestPki("pki", {"driver driver-eve"}).ok());
  for (const auto& [role, name] : std::vector<std::pair<std::string, std::string>>{
           {kRoleDriver, "driver-eve"}, {kRoleOperator, "alice"}}) {
    auto as = StubAs(TransportSecurity::FromDir(Dir(), role, name));
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    auto stream = as->MonitorLink(&context);
    v1::CentralCommand command;
    EXPECT_FALSE(stream->Read(&command));
    // At once, not when the registration's deadline ends the stream.
    const grpc::Status status = stream->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << name;
    EXPECT_THAT(status.error_message(), HasSubstr("only a CP's certificate may open MonitorLink"));
  }
  const std::vector<v1::AuditRecord> refused = audit_.WaitFor(
      [](const v1::AuditRecord& r) { return r.action() == "monitor.link" && r.result() == "refused"; },
      2, absl::Seconds(5));
  ASSERT_EQ(refused.size(), 2u);
  EXPECT_EQ(refused[0].actor(), "driver driver-eve");
  // A CP's own certificate still opens it and registers.
  const TransportSecurity cp1 = TransportSecurity::FromDir(Dir(), kRoleCp, "CP-001");
  ASSERT_TRUE(Enrol("CP-001", cp1.cert_file).ok());
  std::unique_ptr<Monitor> link;
  EXPECT_TRUE(Register(cp1, "CP-001", &link).ok());
}

TEST_F(SecureCentralServiceTest, AnEnrolmentThatPinnedOnlyTheHashLearnsTheCertificateFromTheCp) {
  // As a central before signed results recorded it: the hash, no certificate.
  const TransportSecurity cp1 = TransportSecurity::FromDir(Dir(), kRoleCp, "CP-001");
  absl::StatusOr<v1::Enrolment> old =
      Enrolments::Enrolling("CP-001", Read(cp1.cert_file), "operator alice", absl::Now());
  ASSERT_TRUE(old.ok());
  old->clear_certificate_pem();
  enrolments_.Apply(*old);
  EXPECT_EQ(enrolments_.Certificate("CP-001").status().code(), absl::StatusCode::kUnavailable)
      << "its results wait, rather than being refused as forged";
  std::unique_ptr<Monitor> link;
  ASSERT_TRUE(Register(cp1, "CP-001", &link).ok());
  absl::StatusOr<std::string> learnt = enrolments_.Certificate("CP-001");
  ASSERT_TRUE(learnt.ok()) << learnt.status();
  EXPECT_EQ(*learnt, Read(cp1.cert_file));
  absl::MutexLock lock(&enrolment_store_.mu);
  ASSERT_EQ(enrolment_store_.enrolments.size(), 1u);
  EXPECT_EQ(enrolment_store_.enrolments[0].certificate_pem(), *learnt);
}

}  // namespace
}  // namespace evnet
