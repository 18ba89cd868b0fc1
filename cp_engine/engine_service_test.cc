// EngineService on a real gRPC server on a loopback port, as a monitor (or
// anyone who reaches the port) calls it.
#include "cp_engine/engine_service.h"

#include <functional>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/grpc_channel.h"
#include "common/grpc_server.h"
#include "gtest/gtest.h"

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

}  // namespace
}  // namespace evnet
