// What evnet asks of OpenSSL for every TLS context in the process, set once,
// before gRPC makes its first: evnet's servers send no TLS 1.3 session
// tickets.
//
// No evnet client resumes a session: gRPC's channels keep no session cache
// unless asked, and after a server's restart its tickets could not be
// decrypted anyway (their key lives in the process). Yet by default OpenSSL
// encodes, encrypts and sends two tickets after every handshake, and the
// client parses them. At central, where 10,000 monitors shake hands again
// after a restart, that was a third of the server's CPU per handshake
// (OpenSSL 3.0: 3.7 ms with tickets, 2.5 ms without; docs/performance.md).
//
// gRPC 1.51 gives no access to the SSL_CTX it makes, so this goes through
// OpenSSL's own configuration: the `system_default` section of its ssl_conf
// module, which SSL_CTX_new applies to every context. The default
// configuration file (Debian's openssl.cnf) is loaded first, as OpenSSL
// would. Debian's sets no ssl_conf; one that does (an operator's
// OPENSSL_CONF) is kept, and this does nothing: OpenSSL holds one ssl_conf,
// and ours would replace theirs.
//
// Call it before any thread makes a TLS context: Central::Start does, first
// (its books' connections and dashboard make theirs on their threads), and
// GrpcServer::Start does for every program.
#ifndef EVNET_COMMON_TRUST_TLS_SETTINGS_H_
#define EVNET_COMMON_TRUST_TLS_SETTINGS_H_

#include "absl/status/status.h"

namespace evnet {

// Idempotent and thread-safe; the first call's result is every call's, and
// the first call logs it when it is an error. An error means only that
// tickets are still sent: TLS works as before (FailedPrecondition: the
// configuration has an ssl_conf of its own).
absl::Status UseEvnetTlsSettings();

}  // namespace evnet

#endif  // EVNET_COMMON_TRUST_TLS_SETTINGS_H_
