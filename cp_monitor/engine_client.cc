#include "cp_monitor/engine_client.h"

#include "common/grpc/grpc_channel.h"
#include "common/grpc/grpc_status.h"

namespace evnet {

GrpcEngineClient::GrpcEngineClient(const std::string& address,
                                   const TransportSecurity& security, const std::string& cp_id)
    : stub_(v1::EngineService::NewStub(
          MakeChannel(address, security, ServerNameOf(kRoleCp, cp_id)))) {}

absl::StatusOr<v1::CheckResponse> GrpcEngineClient::Check(absl::Duration timeout) {
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(timeout));
  v1::CheckResponse response;
  grpc::Status status = stub_->Check(&context, v1::CheckRequest(), &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

absl::Status GrpcEngineClient::StartSupply(const v1::StartSupplyRequest& request,
                                           absl::Duration timeout) {
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(timeout));
  v1::StartSupplyResponse response;
  return FromGrpcStatus(stub_->StartSupply(&context, request, &response));
}

absl::Status GrpcEngineClient::StopSupply(const v1::StopSupplyRequest& request,
                                          absl::Duration timeout) {
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(timeout));
  v1::StopSupplyResponse response;
  return FromGrpcStatus(stub_->StopSupply(&context, request, &response));
}

}  // namespace evnet
