// evnet.v1.EngineService over a ChargingEngine: each RPC validates, calls the
// engine and maps its status to gRPC.
#ifndef EVNET_CP_ENGINE_ENGINE_SERVICE_H_
#define EVNET_CP_ENGINE_ENGINE_SERVICE_H_

#include "cp_engine/charging_engine.h"
#include "evnet/v1/engine.grpc.pb.h"

namespace evnet {

class EngineServiceImpl final : public v1::EngineService::Service {
 public:
  explicit EngineServiceImpl(ChargingEngine& engine) : engine_(engine) {}

  grpc::Status Check(grpc::ServerContext*, const v1::CheckRequest*,
                     v1::CheckResponse* response) override;
  grpc::Status StartSupply(grpc::ServerContext*, const v1::StartSupplyRequest* request,
                           v1::StartSupplyResponse* response) override;
  grpc::Status StopSupply(grpc::ServerContext*, const v1::StopSupplyRequest* request,
                          v1::StopSupplyResponse* response) override;
  grpc::Status Simulate(grpc::ServerContext*, const v1::SimulateRequest* request,
                        v1::SimulateResponse* response) override;

 private:
  ChargingEngine& engine_;
};

}  // namespace evnet

#endif  // EVNET_CP_ENGINE_ENGINE_SERVICE_H_
