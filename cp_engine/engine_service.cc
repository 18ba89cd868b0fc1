#include "cp_engine/engine_service.h"

#include "common/grpc_status.h"

namespace evnet {
namespace {

template <typename T>
grpc::Status Reply(absl::StatusOr<T> result, T* response) {
  if (!result.ok()) return ToGrpcStatus(result.status());
  *response = *std::move(result);
  return grpc::Status::OK;
}

}  // namespace

grpc::Status EngineServiceImpl::Check(grpc::ServerContext*, const v1::CheckRequest*,
                                      v1::CheckResponse* response) {
  return Reply(engine_.Check(), response);
}

grpc::Status EngineServiceImpl::StartSupply(grpc::ServerContext*,
                                            const v1::StartSupplyRequest* request,
                                            v1::StartSupplyResponse* response) {
  return Reply(engine_.StartSupply(*request), response);
}

grpc::Status EngineServiceImpl::StopSupply(grpc::ServerContext*,
                                           const v1::StopSupplyRequest* request,
                                           v1::StopSupplyResponse* response) {
  return Reply(engine_.StopSupply(*request), response);
}

grpc::Status EngineServiceImpl::Simulate(grpc::ServerContext*, const v1::SimulateRequest* request,
                                         v1::SimulateResponse* response) {
  if (!simulation_) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        "fault simulation is off on this engine (start it with --simulation)");
  }
  return Reply(engine_.Simulate(*request), response);
}

}  // namespace evnet
