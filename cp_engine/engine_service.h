// evnet.v1.EngineService over a ChargingEngine: each RPC validates, calls the
// engine and maps its status to gRPC. Simulate (fault injection, an unplug
// by remote control) answers only when the engine runs with --simulation;
// otherwise anyone who reaches the port could fail a charger. With mutual TLS
// only the CP's own monitor is answered (a peer holding the certificate this
// engine holds itself, or the one it replaced a moment ago: OwnCertificate),
// and for Simulate operators too, unless their certificate was revoked;
// under --insecure anyone is.
#ifndef EVNET_CP_ENGINE_ENGINE_SERVICE_H_
#define EVNET_CP_ENGINE_ENGINE_SERVICE_H_

#include <string>

#include "common/trust/own_certificate.h"
#include "common/trust/revocation_list.h"
#include "cp_engine/charging_engine.h"
#include "evnet/v1/engine.grpc.pb.h"

namespace evnet {

class EngineServiceImpl final : public v1::EngineService::Service {
 public:
  struct Options {
    bool simulation = false;
    bool insecure = false;
    std::string cp_id;  // whose monitor may call, when not insecure
    // The certificate the monitor must hold, when not insecure; not owned.
    OwnCertificate* own_certificate = nullptr;
    // The operators' certificates revoked, when operators may simulate
    // under mutual TLS; not owned.
    const RevocationList* revocations = nullptr;
  };
  EngineServiceImpl(ChargingEngine& engine, Options options)
      : engine_(engine), options_(std::move(options)) {}

  grpc::Status Check(grpc::ServerContext*, const v1::CheckRequest*,
                     v1::CheckResponse* response) override;
  grpc::Status StartSupply(grpc::ServerContext*, const v1::StartSupplyRequest* request,
                           v1::StartSupplyResponse* response) override;
  grpc::Status StopSupply(grpc::ServerContext*, const v1::StopSupplyRequest* request,
                          v1::StopSupplyResponse* response) override;
  grpc::Status Simulate(grpc::ServerContext*, const v1::SimulateRequest* request,
                        v1::SimulateResponse* response) override;

 private:
  grpc::Status Allow(const grpc::ServerContext& context, bool operators_too) const;

  ChargingEngine& engine_;
  const Options options_;
};

}  // namespace evnet

#endif  // EVNET_CP_ENGINE_ENGINE_SERVICE_H_
