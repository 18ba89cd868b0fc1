#include "cp_monitor/engine_client.h"

#include "common/grpc/grpc_channel.h"
#include "common/grpc/grpc_status.h"
#include "glog/logging.h"

namespace evnet {

GrpcEngineClient::GrpcEngineClient(const std::string& address,
                                   const TransportSecurity& security, const std::string& cp_id)
    : address_(address),
      security_(security),
      cp_id_(cp_id),
      server_name_(ServerNameOf(kRoleCp, cp_id)),
      stub_(v1::EngineService::NewStub(MakeChannel(address, security, server_name_))) {}

std::shared_ptr<v1::EngineService::Stub> GrpcEngineClient::Stub() {
  absl::MutexLock lock(&mu_);
  return stub_;
}

bool GrpcEngineClient::Reconnected(const grpc::Status& status) {
  if (status.error_code() != grpc::StatusCode::PERMISSION_DENIED &&
      status.error_code() != grpc::StatusCode::UNAUTHENTICATED) {
    return false;
  }
  // The channel is made outside the lock; the newest one made wins.
  int id;
  {
    absl::MutexLock lock(&mu_);
    id = ++connection_;
  }
  std::shared_ptr<v1::EngineService::Stub> fresh = v1::EngineService::NewStub(
      MakeDedicatedChannel(address_, security_, id, server_name_, absl::Milliseconds(200)));
  LOG(WARNING) << "CP_M:" << cp_id_ << " | The engine refused this monitor (" << status.error_message()
               << "); connecting again with the certificate in its files now";
  absl::MutexLock lock(&mu_);
  if (id == connection_) stub_ = std::move(fresh);
  return true;
}

template <typename Call>
grpc::Status GrpcEngineClient::Ask(absl::Duration timeout, const Call& call) {
  // The engine refused the call (it did nothing): asked once more, on the
  // new connection.
  for (int attempt = 0;; ++attempt) {
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(timeout));
    grpc::Status status = call(*Stub(), context);
    if (attempt > 0 || !Reconnected(status)) return status;
  }
}

absl::StatusOr<v1::CheckResponse> GrpcEngineClient::Check(absl::Duration timeout) {
  v1::CheckResponse response;
  grpc::Status status =
      Ask(timeout, [&](v1::EngineService::Stub& stub, grpc::ClientContext& context) {
        return stub.Check(&context, v1::CheckRequest(), &response);
      });
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

absl::Status GrpcEngineClient::StartSupply(const v1::StartSupplyRequest& request,
                                           absl::Duration timeout) {
  return FromGrpcStatus(
      Ask(timeout, [&](v1::EngineService::Stub& stub, grpc::ClientContext& context) {
        v1::StartSupplyResponse response;
        return stub.StartSupply(&context, request, &response);
      }));
}

absl::Status GrpcEngineClient::StopSupply(const v1::StopSupplyRequest& request,
                                          absl::Duration timeout) {
  return FromGrpcStatus(
      Ask(timeout, [&](v1::EngineService::Stub& stub, grpc::ClientContext& context) {
        v1::StopSupplyResponse response;
        return stub.StopSupply(&context, request, &response);
      }));
}

}  // namespace evnet
