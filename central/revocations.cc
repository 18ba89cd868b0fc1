#include "central/revocations.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "common/trust/transport_security.h"

namespace evnet {

absl::StatusOr<v1::RevokedCertificate> Revocations::Revoke(const std::string& certificate_pem,
                                                           const std::string& reason,
                                                           const std::string& by, absl::Time now,
                                                           absl::Duration timeout) {
  absl::StatusOr<PeerIdentity> holder = IdentityOfCertificate(certificate_pem);
  if (!holder.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a certificate of the network: ", holder.status().message()));
  }
  if (holder->role != kRoleDriver && holder->role != kRoleOperator) {
    return absl::InvalidArgumentError(absl::StrCat(
        holder->ToString(), "'s certificate: only drivers' and operators' are revoked here",
        holder->role == kRoleCp ? " (a CP is revoked with RevokeChargingPoint)" : ""));
  }
  v1::RevokedCertificate record;
  record.set_certificate_sha256(holder->certificate_sha256);
  record.set_holder(holder->ToString());
  *record.mutable_revoked_at() = ToProto(now);
  record.set_revoked_by(by);
  record.set_reason(reason.substr(0, 200));
  // Refused from now, even if the save fails and is retried by the operator.
  Restore(record);
  absl::Status saved = Await([&](Done done) { save_(record, std::move(done)); }, timeout);
  if (!saved.ok()) {
    return absl::UnavailableError(absl::StrCat(
        "refused from now, but not yet recorded in Kafka (ask again, or it is forgotten at "
        "central's next start): ",
        saved.message()));
  }
  return record;
}

void Revocations::Restore(const v1::RevokedCertificate& record) { list_.Add(record); }

void Revocations::FinishRestore() { list_.FinishRestore(); }

}  // namespace evnet
