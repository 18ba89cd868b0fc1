// Which CPs may join the network: each enrolled CP pinned to the one
// certificate it was enrolled with (its SHA-256), and which were revoked.
// Central records a change in Kafka (evnet.cp.enrolments) before it applies
// it here, and reads the topic back at start; until then nobody is admitted.
// Thread-safe; nothing here blocks, so MonitorLink's callbacks may ask.
#ifndef EVNET_CENTRAL_ENROLMENTS_H_
#define EVNET_CENTRAL_ENROLMENTS_H_

#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/trust/peer_identity.h"
#include "evnet/v1/central.pb.h"

namespace evnet {

class Enrolments {
 public:
  // At start, from the topic; then FinishRestore.
  void Restore(const v1::Enrolment& enrolment);
  void FinishRestore();

  // OK when `peer` may speak for `cp_id`: its certificate names that CP and
  // is the one enrolled. PERMISSION_DENIED saying why otherwise; UNAVAILABLE
  // while the enrolments are not yet read back.
  absl::Status Admit(const std::string& cp_id, const PeerIdentity& peer) const;

  // The certificate `cp_id` is enrolled with, to check its signatures:
  // PERMISSION_DENIED if it is not enrolled or was revoked; UNAVAILABLE if
  // it was enrolled by a central that pinned only the hash, until its
  // monitor shows the certificate (LearnCertificate).
  absl::StatusOr<std::string> Certificate(const std::string& cp_id) const;
  // An enrolment of `peer`'s CP that pins its hash but lacks the
  // certificate gets it; returns the record to save, if it changed.
  std::optional<v1::Enrolment> LearnCertificate(const PeerIdentity& peer);

  // The record that enrolling `cp_id` with `certificate_pem` makes, once
  // saved: INVALID_ARGUMENT if the certificate does not name that CP.
  static absl::StatusOr<v1::Enrolment> Enrolling(const std::string& cp_id,
                                                 const std::string& certificate_pem,
                                                 const std::string& by, absl::Time now);
  // The record that revoking `cp_id` makes; NOT_FOUND if it is not enrolled.
  absl::StatusOr<v1::Enrolment> Revoking(const std::string& cp_id, const std::string& by,
                                         absl::Time now) const;
  // A saved change.
  void Apply(const v1::Enrolment& enrolment) { Restore(enrolment); }

 private:
  mutable absl::Mutex mu_;
  bool restored_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<std::string, v1::Enrolment> by_cp_ ABSL_GUARDED_BY(mu_);
};

}  // namespace evnet

#endif  // EVNET_CENTRAL_ENROLMENTS_H_
