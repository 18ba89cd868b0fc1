// What a CP or a driver vouches for with its own key: an engine signs each
// session result with the key of its certificate (ECDSA, SHA-256), and
// central checks the signature against the certificate the CP is enrolled
// with; a driver signs each request and sends its certificate along, which
// central checks against the network's CA. A result or a request that anyone
// who can write to Kafka could forge is then one that only its CP, or its
// driver, could have written.
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
// OK when `certificate_pem` was issued by the CA of `ca_pem` and is valid
// now; PERMISSION_DENIED saying why otherwise.
absl::Status CheckIssuedBy(const std::string& ca_pem, const std::string& certificate_pem);

// What a session result's signature covers: what is billed (the session,
// its request, CP and driver, when it ran, the energy, the price and the
// amount, in euro and in cents), serialized deterministically. Not the end
// reason nor fields a newer engine adds, which an older central drops when
// it reads the JSON: the signature of a newer engine's result still checks.
// amount_cents is covered: a result signed without it (0, not serialized)
// still checks, but a central that predates it cannot check one that has it.
std::string SignedBytes(const v1::SessionResult& result);
// Sets `result`'s signature with the private key in `key_pem` (a CP's); an
// empty `key_pem` (a network without certificates) leaves it unsigned.
absl::Status SignResult(const std::string& key_pem, v1::SessionResult& result);
// What a request's signature covers: its id, driver, CP and time. Not the
// signature, the certificate, nor fields a newer driver adds.
std::string SignedBytes(const v1::DriverRequest& request);

// A session's telemetry is vouched for with a secret central shares with
// its CP alone (one HMAC per sample, where an ECDSA verify per sample would
// cost central a core at 10,000 supplying CPs).
//
// 32 random bytes: a new session's telemetry key.
std::string NewTelemetryKey();
// What a sample's MAC covers: its CP, its session's snapshot and when it was
// measured, serialized deterministically; not the MAC, nor fields a newer
// CP adds.
std::string TelemetryMacBytes(const v1::SupplyTelemetry& telemetry);
// Sets `telemetry`'s MAC with `key`; an empty key (a session of a central
// that predates keys) leaves it unset.
void MacTelemetry(const std::string& key, v1::SupplyTelemetry& telemetry);
// OK when `telemetry` carries the MAC of `key` (or `key` is empty);
// PERMISSION_DENIED otherwise. Compared in constant time.
absl::Status CheckTelemetryMac(const std::string& key, const v1::SupplyTelemetry& telemetry);

}  // namespace evnet

#endif  // EVNET_COMMON_SIGNING_H_
