// Who may connect as a charger: OCPP 1.6 security profiles 2 and 3, both
// over TLS. Profile 3: a client certificate of the network's CA naming the
// charger (O=evnet, OU=cp, CN=<chargeBoxId>), as tools/pki/evpki issues
// it. Profile 2: HTTP Basic auth, user <chargeBoxId>, with the password
// issued at enrolment; the credentials file keeps its SHA-256 (a random
// password of 160 bits needs no slow hash, and a herd of chargers
// reconnecting must not cost a second of CPU each).
#ifndef EVNET_OCPP_GATEWAY_CHARGER_AUTH_H_
#define EVNET_OCPP_GATEWAY_CHARGER_AUTH_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace evnet::ocpp {

// OK if the charger may speak as `charge_box_id`. `certificate_pem` is the
// client certificate the TLS handshake verified (empty: none);
// `authorization` the Authorization header (empty: none); the credentials
// file has lines "<chargeBoxId>:sha256:<hex>" (read at each call, so that
// an enrolment takes effect at once; empty path: no passwords).
// UNAUTHENTICATED: no identity or a wrong password; PERMISSION_DENIED: the
// identity of another charger. `enrolled_certificate_pem`, when given, is
// the certificate the charger is enrolled with (the one the gateway speaks
// for it with): a client certificate must then be that very one, not any
// other of the CA naming the charger (an older one, since renewed).
absl::Status AuthorizeCharger(const std::string& charge_box_id,
                              const std::string& certificate_pem,
                              absl::string_view authorization,
                              const std::string& credentials_file,
                              const std::string& enrolled_certificate_pem = "");

// OK if `pki_dir` is what a gateway should hold: ca.crt and its chargers'
// cp/<id>.crt and .key. FAILED_PRECONDITION if it holds the network CA's
// private key (ca.key): whoever took the gateway could then issue any
// certificate of the network.
absl::Status CheckGatewayPkiDir(const std::string& pki_dir);

// The credentials file's line for a charger's password.
std::string ChargerCredentialLine(absl::string_view charge_box_id, absl::string_view password);

}  // namespace evnet::ocpp

#endif  // EVNET_OCPP_GATEWAY_CHARGER_AUTH_H_
