#include "cp_engine/engine_service.h"

#include "absl/strings/str_cat.h"
#include "common/grpc/grpc_status.h"
#include "common/trust/peer_identity.h"
#include "common/trust/transport_security.h"
#include "glog/logging.h"

namespace evnet {
namespace {

template <typename T>
grpc::Status Reply(absl::StatusOr<T> result, T* response) {
  if (!result.ok()) return ToGrpcStatus(result.status());
  *response = *std::move(result);
  return grpc::Status::OK;
}

}  // namespace

grpc::Status EngineServiceImpl::Allow(const grpc::ServerContext& context,
                                      bool operators_too) const {
  if (options_.insecure) return grpc::Status::OK;
  absl::StatusOr<PeerIdentity> peer = IdentityOfPeer(context);
  if (!peer.ok()) return ToGrpcStatus(peer.status());
  absl::Status admitted = absl::PermissionDeniedError(
      absl::StrCat("this is the engine of ", options_.cp_id, "; ", peer->ToString(),
                   " is not its monitor"));
  if (peer->Is(kRoleCp, options_.cp_id)) {
    admitted = options_.own_certificate == nullptr ? absl::OkStatus()
                                                   : options_.own_certificate->Admit(*peer);
  } else if (operators_too && peer->role == kRoleOperator) {
    admitted = options_.revocations == nullptr ? absl::OkStatus()
                                               : options_.revocations->Check(*peer);
  }
  if (admitted.ok()) return grpc::Status::OK;
  LOG(WARNING) << "CP_E:" << options_.cp_id << " | Refused a call from " << peer->ToString()
               << " at " << context.peer() << ": " << admitted.message();
  return ToGrpcStatus(admitted);
}

grpc::Status EngineServiceImpl::Check(grpc::ServerContext* context, const v1::CheckRequest*,
                                      v1::CheckResponse* response) {
  if (grpc::Status allowed = Allow(*context, false); !allowed.ok()) return allowed;
  return Reply(engine_.Check(), response);
}

grpc::Status EngineServiceImpl::StartSupply(grpc::ServerContext* context,
                                            const v1::StartSupplyRequest* request,
                                            v1::StartSupplyResponse* response) {
  if (grpc::Status allowed = Allow(*context, false); !allowed.ok()) return allowed;
  return Reply(engine_.StartSupply(*request), response);
}

grpc::Status EngineServiceImpl::StopSupply(grpc::ServerContext* context,
                                           const v1::StopSupplyRequest* request,
                                           v1::StopSupplyResponse* response) {
  if (grpc::Status allowed = Allow(*context, false); !allowed.ok()) return allowed;
  return Reply(engine_.StopSupply(*request), response);
}

grpc::Status EngineServiceImpl::Simulate(grpc::ServerContext* context,
                                         const v1::SimulateRequest* request,
                                         v1::SimulateResponse* response) {
  if (grpc::Status allowed = Allow(*context, true); !allowed.ok()) return allowed;
  if (!options_.simulation) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        "fault simulation is off on this engine (start it with --simulation)");
  }
  return Reply(engine_.Simulate(*request), response);
}

}  // namespace evnet
