// Who may do what on central's gRPC API. With mutual TLS, a monitor speaks
// only for the CP its certificate names, and only while that CP is enrolled
// with exactly that certificate; reading the network, stop / resume and
// enrolment are for operators (certificates with the operator role). Every
// refused call is audited once. Under --insecure no peer has an identity and
// everything is allowed, as the flag says.
#ifndef EVNET_CENTRAL_ACCESS_H_
#define EVNET_CENTRAL_ACCESS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "central/enrolments.h"
#include "central/outbound.h"
#include "central/revocations.h"
#include "common/trust/audit_log.h"
#include "common/trust/peer_identity.h"
#include "grpcpp/server_context.h"

namespace evnet {

class Access {
 public:
  // `store` keeps what the enrolments learn (LearnCertificate); may be null.
  // `revocations`: the operators' certificates no longer accepted; may be null.
  Access(bool insecure, Enrolments& enrolments, AuditLog& audit,
         EnrolmentStore* store = nullptr, const Revocations* revocations = nullptr)
      : insecure_(insecure),
        enrolments_(enrolments),
        audit_(audit),
        store_(store),
        revocations_(revocations) {}

  bool insecure() const { return insecure_; }
  // The caller as the audit log names it ("operator alice", "cp CP-001"),
  // from where.
  Actor ActorOf(const grpc::ServerContextBase& context) const;
  // The operator who calls (as ActorOf names them), with a certificate not
  // revoked; otherwise PERMISSION_DENIED (or UNAUTHENTICATED), audited as a
  // refused `action` on `target`.
  absl::StatusOr<Actor> RequireOperator(const grpc::ServerContextBase& context,
                                        const std::string& action,
                                        const std::string& target) const;
  // OK when the peer may open a monitor's link at all: its certificate is a
  // CP's (a driver's or an operator's is refused at once, before it can
  // hold the stream until the registration's deadline). Never blocks.
  absl::Status AdmitMonitorLink(const grpc::ServerContextBase& context) const;
  // OK when the peer may be the monitor of `cp_id` (Enrolments::Admit).
  // Not audited here: the link records its own refusals. Never blocks.
  absl::Status AdmitMonitor(const grpc::ServerContextBase& context,
                            const std::string& cp_id) const;

 private:
  // The caller named by `peer`, its identity as read from `context`.
  static Actor ActorOf(const absl::StatusOr<PeerIdentity>& peer,
                       const grpc::ServerContextBase& context);

  const bool insecure_;
  Enrolments& enrolments_;
  AuditLog& audit_;
  EnrolmentStore* const store_;
  const Revocations* const revocations_;
};

}  // namespace evnet

#endif  // EVNET_CENTRAL_ACCESS_H_
