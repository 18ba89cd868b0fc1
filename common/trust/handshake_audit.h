// gRPC refuses a TLS handshake (a client without a certificate of the
// network's CA, with an expired one, or in plaintext) before any RPC exists,
// so no service sees it: gRPC's own log line is all there is. Installed, this
// sends gRPC's log through glog and records each refused handshake on the
// audit log, folded per minute like any refusal a client retries by itself.
// gRPC names no peer address in that line, so its source is "unknown".
#ifndef EVNET_COMMON_HANDSHAKE_AUDIT_H_
#define EVNET_COMMON_HANDSHAKE_AUDIT_H_

#include <string>

#include "common/trust/audit_log.h"

namespace evnet {

// Records refused handshakes of the server `target` on `audit` from now
// on; nullptr stops (call it before `audit` goes away). gRPC's log goes
// through glog either way.
void AuditRefusedHandshakes(AuditLog* audit, const std::string& target);

}  // namespace evnet

#endif  // EVNET_COMMON_HANDSHAKE_AUDIT_H_
