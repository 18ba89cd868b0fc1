// What only one driver can read: central seals each update to the public key
// of the driver's certificate, on a topic every driver may fetch (Kafka
// authorizes by topic, not by key, and a topic per driver would make a city's
// drivers as many topics). Sealing is ECIES: an ephemeral P-256 key agrees a
// secret with the driver's key (ECDH), HKDF-SHA256 makes an AES-256-GCM key
// of it, and the ciphertext is authenticated, so a sealed update can be
// neither read nor altered by anyone but its driver.
#ifndef EVNET_COMMON_SEALING_H_
#define EVNET_COMMON_SEALING_H_

#include <string>

#include "absl/status/statusor.h"

namespace evnet {

// The public key of a PEM certificate, as DER (SubjectPublicKeyInfo): what
// central keeps of each driver.
absl::StatusOr<std::string> PublicKeyOf(const std::string& certificate_pem);

// `plaintext` sealed to the P-256 public key `public_key_der`.
absl::StatusOr<std::string> Seal(const std::string& public_key_der, const std::string& plaintext);
// What Seal sealed, opened with the private key `key_pem`; PERMISSION_DENIED
// when it was sealed to another key or altered.
absl::StatusOr<std::string> Open(const std::string& key_pem, const std::string& sealed);

}  // namespace evnet

#endif  // EVNET_COMMON_SEALING_H_
