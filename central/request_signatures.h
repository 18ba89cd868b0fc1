// Checks that a driver's request is the driver's own: signed by the key of a
// certificate of the network's CA that names it, not revoked, carrying the
// id and time that make it answered once and expire. Then that key is the
// one its updates are sealed to.
//
// A driver sends the same certificate with each request, and the CA's chain
// check is most of the cost: its verdict (whose certificate it is, or why it
// is not the CA's) is kept for kCheckedFor by the certificate's text, so
// that a flood of forged requests with one certificate, under any number of
// driver ids, costs a hash and a lookup each. Revocation and the signature
// are checked on every request. Thread-safe.
#ifndef EVNET_CENTRAL_REQUEST_SIGNATURES_H_
#define EVNET_CENTRAL_REQUEST_SIGNATURES_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "central/driver_keys.h"
#include "central/revocations.h"
#include "common/clock.h"
#include "common/trust/peer_identity.h"
#include "evnet/v1/events.pb.h"

namespace evnet {

class RequestSignatures {
 public:
  // `ca_pem` empty: nothing is checked (plaintext Kafka, where requests are
  // unsigned). `revocations` may be null.
  RequestSignatures(std::string ca_pem, const Revocations* revocations, DriverKeys& driver_keys,
                    const Clock& clock = SystemClock::Get());

  // OK when `request` is its driver's; INVALID_ARGUMENT saying why not
  // (forged, revoked, unstamped) otherwise.
  absl::Status Check(const v1::DriverRequest& request);

  // How many times a certificate was checked against the CA.
  int64_t chain_checks() const { return chain_checks_.load(); }

  static constexpr absl::Duration kCheckedFor = absl::Minutes(10);
  // The verdicts are forgotten at once when there are more than this.
  static constexpr size_t kMaxCached = 100000;

 private:
  struct Verdict {
    absl::StatusOr<PeerIdentity> holder;  // when the certificate is the CA's
    std::string public_key;               // then its key (DER)
    absl::Time at;
  };
  // Whose `certificate_pem` is, when it is the CA's.
  Verdict VerdictOn(const std::string& certificate_pem);

  const std::string ca_pem_;
  const Revocations* const revocations_;
  DriverKeys& driver_keys_;
  const Clock& clock_;
  std::atomic<int64_t> chain_checks_{0};
  absl::Mutex mu_;
  // By the SHA-256 of the certificate's PEM text.
  absl::flat_hash_map<std::string, Verdict> verdicts_ ABSL_GUARDED_BY(mu_);
};

}  // namespace evnet

#endif  // EVNET_CENTRAL_REQUEST_SIGNATURES_H_
