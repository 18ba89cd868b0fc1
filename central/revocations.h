// The driver and operator certificates revoked (RevokeCertificate): kept in
// the compacted topic evnet.certificates.revoked, read back at start, and
// checked on every operator call and every driver request. Engines that
// admit operators follow the same topic (common/trust/revocation_list.h). A CP's
// certificate is revoked through its enrolment instead (enrolments.h).
// Thread-safe; checks never block.
#ifndef EVNET_CENTRAL_REVOCATIONS_H_
#define EVNET_CENTRAL_REVOCATIONS_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "central/outbound.h"
#include "common/trust/peer_identity.h"
#include "common/trust/revocation_list.h"
#include "evnet/v1/central.pb.h"

namespace evnet {

class Revocations {
 public:
  // Writes a record where it will be read back; `done` once it is there.
  using Save = std::function<void(const v1::RevokedCertificate&, Done)>;
  explicit Revocations(Save save) : save_(std::move(save)) {}

  // Revokes `certificate_pem` (a driver's or an operator's), once it is
  // saved. INVALID_ARGUMENT for what is not such a certificate (a CP's is
  // revoked through its enrolment); UNAVAILABLE if it cannot be saved.
  // Blocks for the save (at most `timeout`).
  absl::StatusOr<v1::RevokedCertificate> Revoke(const std::string& certificate_pem,
                                                const std::string& reason,
                                                const std::string& by, absl::Time now,
                                                absl::Duration timeout);
  // A record read back at start.
  void Restore(const v1::RevokedCertificate& record);
  // Every record is read back: until then no certificate passes Check.
  void FinishRestore();
  // OK unless `holder`'s certificate was revoked; then PERMISSION_DENIED
  // saying when and why. UNAVAILABLE until FinishRestore: a certificate
  // revoked before a restart is not let in while central reads its topic.
  absl::Status Check(const PeerIdentity& holder) const { return list_.Check(holder); }
  absl::Status Check(const std::string& certificate_sha256) const {
    return list_.Check(certificate_sha256);
  }

 private:
  const Save save_;
  RevocationList list_{"central"};
};

}  // namespace evnet

#endif  // EVNET_CENTRAL_REVOCATIONS_H_
