// How evnet's gRPC servers and channels are secured: mutual TLS with the
// network's certificate authority, or plaintext only when a person asked for
// it with --insecure. A certificate names its holder in its subject
// (OU = role, CN = name; see tools/pki/evpki), and a client checks that the
// server it dialled holds the certificate of the peer it meant (central, or
// its own CP's engine) whatever address it dialled. Keys and certificates
// are read again from disk every `reload`, so a renewed certificate is used
// without a restart: by servers at the next handshake, by clients at their
// next connection.
#ifndef EVNET_COMMON_TRANSPORT_SECURITY_H_
#define EVNET_COMMON_TRANSPORT_SECURITY_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/flags.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"

namespace evnet {

struct TransportSecurity {
  bool insecure = false;
  std::string ca_file;    // the network's CA, which every peer's certificate must chain to
  std::string cert_file;  // this program's certificate and its key
  std::string key_file;
  // How often the files are read again; zero: once (no watcher thread,
  // for a load generator playing thousands of CPs).
  absl::Duration reload = absl::Seconds(5);

  static TransportSecurity Insecure() {
    TransportSecurity security;
    security.insecure = true;
    return security;
  }
  // The files of `dir` as tools/pki/evpki lays them out, for role/name.
  static TransportSecurity FromDir(const std::string& dir, const std::string& role,
                                   const std::string& name);
};

// The roles a certificate's OU names.
inline constexpr char kRoleCp[] = "cp";
inline constexpr char kRoleDriver[] = "driver";
inline constexpr char kRoleOperator[] = "operator";
inline constexpr char kRoleCentral[] = "central";
inline constexpr char kRoleGateway[] = "gateway";  // an OCPP gateway (Kafka only)
inline constexpr char kCentralName[] = "central";

// The DNS name in the certificate of the server holding role/name, which a
// client asks for: "central.central.evnet", "CP-001.cp.evnet".
std::string ServerNameOf(const std::string& role, const std::string& name);

// From --tls_ca, --tls_cert, --tls_key and --insecure: certificates, or
// plaintext when --insecure is given (logged as a warning naming `who`).
// Neither, or files that cannot be read, is an error that says what to pass.
absl::StatusOr<TransportSecurity> TransportSecurityFromFlags(const std::string& who);
// The same, or with `pki_dir` (a program's --pki_dir) given, role/name's
// files in it as tools/pki/evpki lays them out, which excludes the flags.
absl::StatusOr<TransportSecurity> TransportSecurityFromFlags(const std::string& who,
                                                             const std::string& pki_dir,
                                                             const std::string& role,
                                                             const std::string& name);
// The environment variables of those flags, for InitProgram.
extern const std::vector<EnvFallback> kTransportSecurityEnv;
// `fallbacks` and kTransportSecurityEnv.
std::vector<EnvFallback> WithTransportSecurityEnv(std::vector<EnvFallback> fallbacks);

// Servers ask every client for a certificate of the network's CA and refuse
// the handshake without one; given `admitted_roles`, also with one of any
// other role (PERMISSION_DENIED, logged naming the holder and `server` at
// most every 10 s), so
// that a certificate with no business there (a driver's, at central or an
// engine: drivers use Kafka alone) holds no connection and no stream of any
// service, the standard health and reflection services included.
// `on_refused` (on a gRPC thread; must not block) hears of each refusal:
// who (as the certificate names it) and why, for the audit log.
using RefusedHandshake = std::function<void(const std::string& holder, const std::string& why)>;
std::shared_ptr<grpc::ServerCredentials> ServerCredentialsFor(
    const TransportSecurity& security, const std::vector<std::string>& admitted_roles = {},
    const std::string& server = "", RefusedHandshake on_refused = nullptr);
// Shared by every channel of the process with the same files (one file
// watcher each, however many channels).
std::shared_ptr<grpc::ChannelCredentials> ChannelCredentialsFor(
    const TransportSecurity& security);

}  // namespace evnet

#endif  // EVNET_COMMON_TRANSPORT_SECURITY_H_
