// Who is at the other end of a gRPC call: the role and name that the peer's
// certificate (verified against the network's CA during the handshake)
// names, and that certificate's SHA-256 for pinning an enrolment to it.
#ifndef EVNET_COMMON_PEER_IDENTITY_H_
#define EVNET_COMMON_PEER_IDENTITY_H_

#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/server_context.h"

namespace evnet {

struct PeerIdentity {
  std::string role;                // "cp", "operator", "central" (the subject's OU)
  std::string name;                // "CP-001", "alice" (the subject's CN)
  std::string certificate_sha256;  // lower-case hex of the DER certificate
  std::string certificate_pem;

  bool Is(const std::string& want_role, const std::string& want_name) const {
    return role == want_role && name == want_name;
  }
  // "cp CP-001", for logs and the audit log.
  std::string ToString() const { return role + " " + name; }
};

// The identity in a PEM certificate; INVALID_ARGUMENT when there is none.
absl::StatusOr<PeerIdentity> IdentityOfCertificate(const std::string& pem);
// OK when the certificate in `cert_file` names role/name: a program checks
// at start that it was given its own (a CP's monitor and engine, its CP's).
absl::Status CheckOwnCertificate(const std::string& cert_file, const std::string& role,
                                 const std::string& name);
// The identity of the peer of `context`; UNAUTHENTICATED on a plaintext
// connection.
absl::StatusOr<PeerIdentity> IdentityOfPeer(const grpc::ServerContextBase& context);

}  // namespace evnet

#endif  // EVNET_COMMON_PEER_IDENTITY_H_
