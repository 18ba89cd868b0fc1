#include "central/enrolments.h"

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"

namespace evnet {

void Enrolments::Restore(const v1::Enrolment& enrolment) {
  absl::MutexLock lock(&mu_);
  by_cp_[enrolment.cp_id()] = enrolment;
}

void Enrolments::FinishRestore() {
  absl::MutexLock lock(&mu_);
  restored_ = true;
}

absl::Status Enrolments::Admit(const std::string& cp_id, const PeerIdentity& peer) const {
  if (!peer.Is("cp", cp_id)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the certificate names ", peer.ToString(), ", not the CP ", cp_id));
  }
  absl::MutexLock lock(&mu_);
  if (!restored_) return absl::UnavailableError("central is starting; try again");
  auto it = by_cp_.find(cp_id);
  if (it == by_cp_.end()) {
    return absl::PermissionDeniedError(absl::StrCat(cp_id, " is not enrolled"));
  }
  if (it->second.revoked()) {
    return absl::PermissionDeniedError(absl::StrCat(cp_id, " was revoked"));
  }
  if (it->second.certificate_sha256() != peer.certificate_sha256) {
    return absl::PermissionDeniedError(absl::StrCat(
        cp_id, " is enrolled with another certificate (this one was replaced or revoked)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Enrolments::Certificate(const std::string& cp_id) const {
  absl::MutexLock lock(&mu_);
  auto it = by_cp_.find(cp_id);
  if (it == by_cp_.end() || it->second.revoked()) {
    return absl::PermissionDeniedError(absl::StrCat(cp_id, " is not enrolled"));
  }
  if (it->second.certificate_pem().empty()) {
    return absl::UnavailableError(absl::StrCat(
        "the certificate of ", cp_id, " is not known yet (enrolled before results were signed; "
        "its monitor shows it when it connects)"));
  }
  return it->second.certificate_pem();
}

std::optional<v1::Enrolment> Enrolments::LearnCertificate(const PeerIdentity& peer) {
  absl::MutexLock lock(&mu_);
  auto it = by_cp_.find(peer.name);
  if (it == by_cp_.end() || !it->second.certificate_pem().empty() ||
      it->second.certificate_sha256() != peer.certificate_sha256) {
    return std::nullopt;
  }
  it->second.set_certificate_pem(peer.certificate_pem);
  return it->second;
}

absl::StatusOr<v1::Enrolment> Enrolments::Enrolling(const std::string& cp_id,
                                                    const std::string& certificate_pem,
                                                    const std::string& by, absl::Time now) {
  absl::StatusOr<PeerIdentity> identity = IdentityOfCertificate(certificate_pem);
  if (!identity.ok()) return identity.status();
  if (!identity->Is("cp", cp_id)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the certificate names ", identity->ToString(), ", not the CP ", cp_id));
  }
  v1::Enrolment enrolment;
  enrolment.set_cp_id(cp_id);
  enrolment.set_certificate_sha256(identity->certificate_sha256);
  enrolment.set_certificate_pem(certificate_pem);
  *enrolment.mutable_changed_at() = ToProto(now);
  enrolment.set_changed_by(by);
  return enrolment;
}

absl::StatusOr<v1::Enrolment> Enrolments::Revoking(const std::string& cp_id,
                                                   const std::string& by,
                                                   absl::Time now) const {
  absl::MutexLock lock(&mu_);
  auto it = by_cp_.find(cp_id);
  if (it == by_cp_.end()) return absl::NotFoundError(absl::StrCat(cp_id, " is not enrolled"));
  v1::Enrolment enrolment = it->second;
  enrolment.set_revoked(true);
  *enrolment.mutable_changed_at() = ToProto(now);
  enrolment.set_changed_by(by);
  return enrolment;
}

}  // namespace evnet
