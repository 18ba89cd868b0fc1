#include "central/request_signatures.h"

#include <openssl/sha.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/trust/sealing.h"
#include "common/trust/signing.h"
#include "common/trust/transport_security.h"

namespace evnet {

RequestSignatures::RequestSignatures(std::string ca_pem, const Revocations* revocations,
                                     DriverKeys& driver_keys, const Clock& clock)
    : ca_pem_(std::move(ca_pem)),
      revocations_(revocations),
      driver_keys_(driver_keys),
      clock_(clock) {}

RequestSignatures::Verdict RequestSignatures::VerdictOn(const std::string& certificate_pem) {
  const absl::Time now = clock_.Steady();
  std::string key(SHA256_DIGEST_LENGTH, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(certificate_pem.data()), certificate_pem.size(),
         reinterpret_cast<unsigned char*>(key.data()));
  {
    absl::MutexLock lock(&mu_);
    auto it = verdicts_.find(key);
    if (it != verdicts_.end() && now - it->second.at < kCheckedFor) return it->second;
  }
  ++chain_checks_;
  const absl::Status issued = CheckIssuedBy(ca_pem_, certificate_pem);
  Verdict verdict{issued.ok() ? IdentityOfCertificate(certificate_pem)
                              : absl::StatusOr<PeerIdentity>(issued),
                  "", now};
  if (verdict.holder.ok()) {
    absl::StatusOr<std::string> public_key = PublicKeyOf(certificate_pem);
    if (public_key.ok()) {
      verdict.public_key = *std::move(public_key);
    } else {
      verdict.holder = public_key.status();
    }
  }
  absl::MutexLock lock(&mu_);
  if (verdicts_.size() >= kMaxCached) verdicts_.clear();
  verdicts_[key] = verdict;
  return verdict;
}

absl::Status RequestSignatures::Check(const v1::DriverRequest& request) {
  if (ca_pem_.empty()) return absl::OkStatus();
  const Verdict verdict = VerdictOn(request.certificate_pem());
  const absl::StatusOr<PeerIdentity>& holder = verdict.holder;
  absl::Status verified = holder.status();
  if (verified.ok() && (holder->role != kRoleDriver || holder->name != request.driver_id())) {
    verified = absl::PermissionDeniedError(
        absl::StrCat("the certificate is ", holder->role, " ", holder->name, "'s"));
  }
  // Revoked at any moment: checked on every request, cached or not.
  if (verified.ok() && revocations_ != nullptr) {
    verified = revocations_->Check(holder->certificate_sha256);
  }
  if (verified.ok()) {
    verified = Verify(request.certificate_pem(), SignedBytes(request), request.signature());
  }
  if (!verified.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("forged: a request as ", request.driver_id(),
                                                   " not signed by it (", verified.message(),
                                                   ")"));
  }
  // Its id makes it answered once and its time makes it expire: a signed
  // request without them could be replayed for ever.
  if (request.request_id().empty() || !request.has_requested_at()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a signed request of ", request.driver_id(),
        " must carry its request_id and requested_at (without them it could be replayed)"));
  }
  // Its updates are sealed to the key it signs with (saved when it changed).
  driver_keys_.Learn(request.driver_id(), verdict.public_key);
  return absl::OkStatus();
}

}  // namespace evnet
