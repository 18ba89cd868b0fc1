#include "common/trust/own_certificate.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "glog/logging.h"

namespace evnet {

OwnCertificate::OwnCertificate(std::string cert_file, Clock& clock, absl::Duration grace)
    : cert_file_(std::move(cert_file)), clock_(clock), grace_(grace) {
  Refresh();
}

void OwnCertificate::Refresh() {
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_.Steady();
    if (now - read_at_ < absl::Seconds(1)) return;
    read_at_ = now;
  }
  absl::StatusOr<std::string> pem = ReadFile(cert_file_);
  absl::StatusOr<PeerIdentity> own =
      pem.ok() ? IdentityOfCertificate(*pem) : absl::StatusOr<PeerIdentity>(pem.status());
  if (!own.ok()) {
    // Mid-renewal, or gone: keep what was read before.
    LOG(WARNING) << "Cannot read this program's certificate " << cert_file_ << ": "
                 << own.status().message();
    return;
  }
  absl::MutexLock lock(&mu_);
  if (own->certificate_sha256 == current_) return;
  if (!current_.empty()) {
    previous_ = std::move(current_);
    replaced_at_ = clock_.Steady();
  }
  current_ = own->certificate_sha256;
}

absl::Status OwnCertificate::Admit(const PeerIdentity& peer) {
  Refresh();
  {
    absl::MutexLock lock(&mu_);
    if (peer.certificate_sha256 == current_) return absl::OkStatus();
    if (peer.certificate_sha256 == previous_ && clock_.Steady() - replaced_at_ < grace_) {
      return absl::OkStatus();
    }
  }
  return absl::PermissionDeniedError(
      absl::StrCat(peer.ToString(), "'s certificate is not the one this CP holds now (",
                   peer.certificate_sha256.substr(0, 16),
                   "...): it was replaced, or issued to someone else"));
}

}  // namespace evnet
