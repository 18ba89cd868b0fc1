// evnet.v1.EngineService over a ChargingEngine: each RPC validates, calls the
// engine and maps its status to gRPC. Simulate (fault injection, an unplug
// by remote control) answers only when the engine runs with --simulation;
// otherwise anyone who reaches the port could fail a charger.
#ifndef EVNET_CP_ENGINE_ENGINE_SERVICE_H_
#define EVNET_CP_ENGINE_ENGINE_SERVICE_H_

#include "cp_engine/charging_engine.h"
#include "evnet/v1/engine.grpc.pb.h"

namespace evnet {

class EngineServiceImpl final : public v1::EngineService::Service {
 public:
  EngineServiceImpl(ChargingEngine& engine, bool simulation)
      : engine_(engine), simulation_(simulation) {}

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
  const bool simulation_;
};

}  // namespace evnet

#endif  // EVNET_CP_ENGINE_ENGINE_SERVICE_H_
