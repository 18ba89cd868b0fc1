// EngineClient over gRPC: the monitor's calls to its engine, each with a
// deadline.
#ifndef EVNET_CP_MONITOR_ENGINE_CLIENT_H_
#define EVNET_CP_MONITOR_ENGINE_CLIENT_H_

#include <memory>
#include <string>

#include "common/trust/transport_security.h"
#include "cp_monitor/health_monitor.h"
#include "evnet/v1/engine.grpc.pb.h"

namespace evnet {

class GrpcEngineClient final : public EngineClient {
 public:
  // The engine at `address` must hold the certificate of CP `cp_id`.
  GrpcEngineClient(const std::string& address, const TransportSecurity& security,
                   const std::string& cp_id);

  absl::StatusOr<v1::CheckResponse> Check(absl::Duration timeout) override;
  absl::Status StartSupply(const v1::StartSupplyRequest& request,
                           absl::Duration timeout) override;
  absl::Status StopSupply(const v1::StopSupplyRequest& request, absl::Duration timeout) override;

 private:
  std::unique_ptr<v1::EngineService::Stub> stub_;
};

}  // namespace evnet

#endif  // EVNET_CP_MONITOR_ENGINE_CLIENT_H_
