// EngineService on a real gRPC server on a loopback port, as a monitor (or
// anyone who reaches the port) calls it.
#include "cp_engine/engine_service.h"

#include <cstdlib>
#include <functional>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/files.h"
#include "common/grpc/grpc_channel.h"
#include "common/grpc/grpc_server.h"
#include "gtest/gtest.h"
#include "testing/test_pki.h"

namespace evnet {
namespace {

class NoEvents : public EventPublisher {
 public:
  void PublishTelemetry(const v1::SupplyTelemetry&) override {}
  absl::Status PublishResult(const v1::SessionResult&, std::function<void(absl::Status)>) override {
    return absl::OkStatus();
  }
};

class EngineServiceTest : public ::testing::TestWithParam<bool> {
 protected:
  EngineServiceTest()
      : engine_(Options(), clock_, events_),
        service_(engine_, {GetParam(), /*insecure=*/true, "CP-001"}) {
    EXPECT_TRUE(engine_.Recover().ok());
    server_ = *GrpcServer::Start({"127.0.0.1:0", {&service_}});
    stub_ = v1::EngineService::NewStub(MakeChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                                   TransportSecurity::Insecure(), ""));
  }

  static EngineOptions Options() {
    EngineOptions options;
    options.info.set_cp_id("CP-001");
    options.info.set_power_kw(22);
    options.info.set_price_eur_per_kwh(0.3);
    options.state_dir = std::string(getenv("TEST_TMPDIR")) + "/engine-service";
    return options;
  }

  grpc::Status Simulate(v1::SimulateAction action) {
    grpc::ClientContext context;
    v1::SimulateRequest request;
    request.set_action(action);
    v1::SimulateResponse response;
    return stub_->Simulate(&context, request, &response);
  }

  grpc::Status Check() {
    grpc::ClientContext context;
    v1::CheckResponse response;
    return stub_->Check(&context, v1::CheckRequest(), &response);
  }

  FakeClock clock_;
  NoEvents events_;
  ChargingEngine engine_;
  EngineServiceImpl service_;
  std::unique_ptr<GrpcServer> server_;
  std::unique_ptr<v1::EngineService::Stub> stub_;
};

TEST_P(EngineServiceTest, SimulateAnswersOnlyWithSimulationOn) {
  const bool simulation = GetParam();
  const grpc::Status fault = Simulate(v1::SIMULATE_ACTION_FAULT);
  if (simulation) {
    EXPECT_TRUE(fault.ok()) << fault.error_message();
    EXPECT_EQ(Check().error_code(), grpc::StatusCode::UNAVAILABLE);  // the fault took
  } else {
    EXPECT_EQ(fault.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_NE(fault.error_message().find("--simulation"), std::string::npos);
    EXPECT_TRUE(Check().ok());  // nothing happened to the engine
  }
}

INSTANTIATE_TEST_SUITE_P(SimulationOffAndOn, EngineServiceTest, ::testing::Bool());

// CP-001's engine, 22 kW, its journal in `folder` under TEST_TMPDIR.
EngineOptions SecureEngineOptions(const std::string& folder) {
  EngineOptions options;
  options.info.set_cp_id("CP-001");
  options.info.set_power_kw(22);
  options.state_dir = std::string(getenv("TEST_TMPDIR")) + "/" + folder;
  return options;
}

// With mutual TLS (certificates from tools/pki/evpki): the engine of CP-001
// answers CP-001's monitor; another CP's is refused, and an operator may only
// simulate.
TEST(SecureEngineServiceTest, AnEngineAnswersOnlyItsOwnMonitorAndOperatorsOnlySimulate) {
  absl::StatusOr<std::string> pki =
      test::MakeTestPki("pki", {"cp CP-001", "cp CP-002", "operator alice"});
  ASSERT_TRUE(pki.ok()) << pki.status();
  const std::string dir = *pki;
  FakeClock clock;
  NoEvents events;
  ChargingEngine engine(SecureEngineOptions("secure-engine"), clock, events);
  ASSERT_TRUE(engine.Recover().ok());
  EngineServiceImpl service(engine, {/*simulation=*/true, /*insecure=*/false, "CP-001"});
  std::unique_ptr<GrpcServer> server = *GrpcServer::Start(
      {"127.0.0.1:0", {&service}, TransportSecurity::FromDir(dir, kRoleCp, "CP-001")});
  auto as = [&](const std::string& role, const std::string& name) {
    return v1::EngineService::NewStub(MakeChannel(absl::StrCat("127.0.0.1:", server->port()),
                                                  TransportSecurity::FromDir(dir, role, name),
                                                  ServerNameOf(kRoleCp, "CP-001")));
  };
  auto check = [](v1::EngineService::Stub& stub) {
    grpc::ClientContext context;
    v1::CheckResponse response;
    return stub.Check(&context, v1::CheckRequest(), &response).error_code();
  };
  auto simulate = [](v1::EngineService::Stub& stub) {
    grpc::ClientContext context;
    v1::SimulateRequest request;
    request.set_action(v1::SIMULATE_ACTION_RECOVER);
    v1::SimulateResponse response;
    return stub.Simulate(&context, request, &response).error_code();
  };
  auto own = as(kRoleCp, "CP-001");
  auto other = as(kRoleCp, "CP-002");
  auto alice = as(kRoleOperator, "alice");
  EXPECT_EQ(check(*own), grpc::StatusCode::OK);
  EXPECT_EQ(check(*other), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(simulate(*other), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(check(*alice), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(simulate(*alice), grpc::StatusCode::OK);
}

// A CP's certificate replaced (renewed, or enrolled anew after its key was
// lost): the engine answers the holder of the one before only while its own
// monitor may not have read the new files yet, then refuses it.
TEST(SecureEngineServiceTest, AnEngineRefusesTheCertificateItsCpHeldBefore) {
  absl::StatusOr<std::string> pki = test::MakeTestPki("replaced-pki", {"cp CP-001"});
  ASSERT_TRUE(pki.ok()) << pki.status();
  const std::string dir = *pki;
  const TransportSecurity now = TransportSecurity::FromDir(dir, kRoleCp, "CP-001");
  TransportSecurity before = now;
  before.cert_file = dir + "/before.crt";
  before.key_file = dir + "/before.key";
  ASSERT_TRUE(WriteFileDurably(before.cert_file, *ReadFile(now.cert_file)).ok());
  ASSERT_TRUE(WriteFileDurably(before.key_file, *ReadFile(now.key_file)).ok());

  FakeClock clock;
  NoEvents events;
  ChargingEngine engine(SecureEngineOptions("replaced-engine"), clock, events);
  ASSERT_TRUE(engine.Recover().ok());
  OwnCertificate own(now.cert_file, clock, absl::Minutes(1));
  EngineServiceImpl service(engine, {false, /*insecure=*/false, "CP-001", &own});
  std::unique_ptr<GrpcServer> server =
      *GrpcServer::Start({"127.0.0.1:0", {&service}, now});
  int connection = 0;
  auto check = [&](const TransportSecurity& as) {
    // A connection of its own each time: a connection keeps its certificate.
    auto stub = v1::EngineService::NewStub(
        MakeDedicatedChannel(absl::StrCat("127.0.0.1:", server->port()), as, ++connection,
                             ServerNameOf(kRoleCp, "CP-001")));
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(absl::Seconds(5)));
    v1::CheckResponse response;
    return stub->Check(&context, v1::CheckRequest(), &response);
  };
  ASSERT_TRUE(check(before).ok());

  ASSERT_TRUE(test::Evpki("issue", dir, "cp CP-001").ok());  // CP-001 gets a new certificate
  clock.Advance(absl::Seconds(2));
  EXPECT_TRUE(check(now).ok()) << "its monitor, with the new files";
  EXPECT_TRUE(check(before).ok()) << "a monitor that has not read them yet";
  clock.Advance(absl::Seconds(61));
  const grpc::Status refused = check(before);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(refused.error_message().find("not the one this CP holds now"), std::string::npos)
      << refused.error_message();
  EXPECT_TRUE(check(now).ok());
}

}  // namespace
}  // namespace evnet
