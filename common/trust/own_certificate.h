// The certificate this program holds (its --tls_cert, read again as it is
// renewed), for a server that admits only a peer holding the very same one:
// a CP's engine admits its own monitor, which is given the CP's certificate
// too, and not whoever still holds a certificate the CP was issued before
// (replaced by a renewal, or by an enrolment after a key was lost).
//
// A renewal reaches the CP's two programs a few seconds apart, and a
// connection keeps the certificate it was opened with: the one replaced is
// admitted for `grace` after this program first reads the new one, time
// enough for the other program to read its files and connect again.
//
// Thread-safe. Admit reads the file again (never under the lock) at most
// once a second: a renewal is seen within a second of the next call.
#ifndef EVNET_COMMON_TRUST_OWN_CERTIFICATE_H_
#define EVNET_COMMON_TRUST_OWN_CERTIFICATE_H_

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/trust/peer_identity.h"

namespace evnet {

class OwnCertificate {
 public:
  OwnCertificate(std::string cert_file, Clock& clock, absl::Duration grace = absl::Minutes(1));

  // OK when `peer` holds this program's certificate, or the one it replaced
  // less than `grace` ago; PERMISSION_DENIED saying so otherwise.
  absl::Status Admit(const PeerIdentity& peer);

 private:
  // Reads the file, once a second at most; a change makes the current one
  // the previous.
  void Refresh();

  const std::string cert_file_;
  Clock& clock_;
  const absl::Duration grace_;
  absl::Mutex mu_;
  std::string current_ ABSL_GUARDED_BY(mu_);   // SHA-256 hex; empty before a read
  std::string previous_ ABSL_GUARDED_BY(mu_);  // admitted until replaced_at_ + grace_
  absl::Time replaced_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time read_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace evnet

#endif  // EVNET_COMMON_TRUST_OWN_CERTIFICATE_H_
