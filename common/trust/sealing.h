// What only one driver can read: central seals each update to the public key
// of the driver's certificate, on a topic every driver may fetch (Kafka
// authorizes by topic, not by key, and a topic per driver would make a city's
// drivers as many topics). Sealing is ECIES: an ephemeral P-256 key agrees a
// secret with the driver's key (ECDH), HKDF-SHA256 makes an AES-256-GCM key
// of it, and the ciphertext is authenticated, so a sealed update can be
// neither read nor altered by anyone but its driver.
#ifndef EVNET_COMMON_SEALING_H_
#define EVNET_COMMON_SEALING_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace evnet {

// The public key of a PEM certificate, as DER (SubjectPublicKeyInfo): what
// central keeps of each driver.
absl::StatusOr<std::string> PublicKeyOf(const std::string& certificate_pem);

// `plaintext` sealed to the P-256 public key `public_key_der`, with a new
// ephemeral key.
absl::StatusOr<std::string> Seal(const std::string& public_key_der, const std::string& plaintext);
// What Seal or a Sealer sealed, opened with the private key `key_pem`;
// PERMISSION_DENIED when it was sealed to another key or altered.
absl::StatusOr<std::string> Open(const std::string& key_pem, const std::string& sealed);

// Seals to many recipients, as central does for every update: the key
// agreement (an ephemeral key, ECDH, HKDF: about 0.3 ms) is made once per
// recipient and reused for `reuse_limit` messages or `reuse_time`, whichever
// comes first; each message is then only encrypted, with a fresh nonce.
// What it seals opens with Open. Thread-safe.
class Sealer {
 public:
  explicit Sealer(int64_t reuse_limit = 100000, absl::Duration reuse_time = absl::Hours(1))
      : reuse_limit_(reuse_limit), reuse_time_(reuse_time) {}
  absl::StatusOr<std::string> Seal(const std::string& public_key_der, const std::string& plaintext);

 private:
  struct Agreed {
    std::string ephemeral_der;
    std::string key;
    absl::Time made;
    int64_t uses = 0;
  };
  const int64_t reuse_limit_;
  const absl::Duration reuse_time_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Agreed> agreed_ ABSL_GUARDED_BY(mu_);  // by recipient key
};

// Opens what is sealed to one holder's keys, as a driver does for each of
// its updates: the key agreed with each ephemeral key is kept (the last
// few), so that only the first message of a Sealer's costs an ECDH. What
// `key_pem` cannot open is tried with the holder's keys given before (the
// last few): an update sealed just before a renewal still opens.
class Opener {
 public:
  absl::StatusOr<std::string> Open(const std::string& key_pem, const std::string& sealed);

 private:
  absl::StatusOr<std::string> OpenWithKey(const std::string& key_pem, const std::string& sealed);

  absl::Mutex mu_;
  std::vector<std::string> earlier_keys_ ABSL_GUARDED_BY(mu_);  // newest first
  // By private key and ephemeral key; cleared when it grows past a few hundred.
  absl::flat_hash_map<std::pair<std::string, std::string>, std::string> agreed_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace evnet

#endif  // EVNET_COMMON_SEALING_H_
