// What a CP vouches for with its own key: an engine signs each session
// result with the key of its certificate (ECDSA, SHA-256), and central
// checks the signature against the certificate the CP is enrolled with. A
// result that anyone who can write to Kafka could forge is then one that
// only the charger could have written.
#ifndef EVNET_COMMON_SIGNING_H_
#define EVNET_COMMON_SIGNING_H_

#include <string>

#include "absl/status/statusor.h"
#include "evnet/v1/events.pb.h"

namespace evnet {

// The signature of `data` with the private key in `key_pem`.
absl::StatusOr<std::string> Sign(const std::string& key_pem, const std::string& data);
// OK when `signature` is of `data` by the key of `certificate_pem`;
// PERMISSION_DENIED otherwise.
absl::Status Verify(const std::string& certificate_pem, const std::string& data,
                    const std::string& signature);

// What a session result's signature covers: what is billed (the session,
// its request, CP and driver, when it ran, the energy, the price and the
// amount), serialized deterministically. Not the end reason nor fields a
// newer engine adds, which an older central drops when it reads the JSON:
// the signature of a newer engine's result still checks.
std::string SignedBytes(const v1::SessionResult& result);

}  // namespace evnet

#endif  // EVNET_COMMON_SIGNING_H_
