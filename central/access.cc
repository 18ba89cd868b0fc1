#include "central/access.h"

#include "absl/strings/str_cat.h"
#include "common/trust/peer_identity.h"
#include "common/trust/transport_security.h"
#include "glog/logging.h"

namespace evnet {

Actor Access::ActorOf(const grpc::ServerContextBase& context) const {
  if (insecure_) return {"anyone (insecure)", context.peer()};
  return ActorOf(IdentityOfPeer(context), context);
}

Actor Access::ActorOf(const absl::StatusOr<PeerIdentity>& peer,
                      const grpc::ServerContextBase& context) {
  return {peer.ok() ? peer->ToString() : "unauthenticated", context.peer()};
}

absl::StatusOr<Actor> Access::RequireOperator(const grpc::ServerContextBase& context,
                                              const std::string& action,
                                              const std::string& target) const {
  if (insecure_) return ActorOf(context);
  absl::StatusOr<PeerIdentity> peer = IdentityOfPeer(context);
  const Actor actor = ActorOf(peer, context);
  absl::Status refused =
      !peer.ok() ? peer.status()
      : peer->role != kRoleOperator
          ? absl::PermissionDeniedError(absl::StrCat(peer->ToString(),
                                                     " is not an operator; only operators may ",
                                                     action))
          : absl::OkStatus();
  if (refused.ok() && revocations_ != nullptr) refused = revocations_->Check(*peer);
  if (refused.ok()) return actor;
  LOG(WARNING) << "Central | Refused " << action << " to " << actor.name << " at "
               << actor.source << ": " << refused.message();
  audit_.Record(actor, action, target, "refused", std::string(refused.message()));
  return refused;
}

absl::Status Access::AdmitMonitorLink(const grpc::ServerContextBase& context) const {
  if (insecure_) return absl::OkStatus();
  absl::StatusOr<PeerIdentity> peer = IdentityOfPeer(context);
  if (!peer.ok()) return peer.status();
  if (peer->role == kRoleCp) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(
      "only a CP's certificate may open MonitorLink, not the certificate of ", peer->ToString()));
}

absl::Status Access::AdmitMonitor(const grpc::ServerContextBase& context,
                                  const std::string& cp_id) const {
  if (insecure_) return absl::OkStatus();
  absl::StatusOr<PeerIdentity> peer = IdentityOfPeer(context);
  if (!peer.ok()) return peer.status();
  absl::Status admitted = enrolments_.Admit(cp_id, *peer);
  if (!admitted.ok()) return admitted;
  if (std::optional<v1::Enrolment> learnt = enrolments_.LearnCertificate(*peer);
      learnt.has_value() && store_ != nullptr) {
    // Queued, not awaited (a callback thread); if it is lost, the monitor's
    // next connection after a restart shows the certificate again.
    store_->Save(*learnt, [cp_id](absl::Status saved) {
      if (!saved.ok()) {
        LOG(WARNING) << "Central | The certificate of " << cp_id
                     << " is not yet recorded in Kafka: " << saved;
      }
    });
  }
  return absl::OkStatus();
}

}  // namespace evnet
