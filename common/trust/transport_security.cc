#include "common/trust/transport_security.h"

#include <algorithm>
#include <functional>
#include <map>
#include <tuple>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/files.h"
#include "common/trust/peer_identity.h"
#include "glog/logging.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_certificate_verifier.h"
#include "grpcpp/security/tls_credentials_options.h"

ABSL_FLAG(std::string, tls_ca, "",
          "the network's CA certificate, which every peer's must chain to (env TLS_CA)");
ABSL_FLAG(std::string, tls_cert, "",
          "this program's certificate, from tools/pki/evpki (env TLS_CERT)");
ABSL_FLAG(std::string, tls_key, "", "the key of --tls_cert (env TLS_KEY)");
ABSL_FLAG(bool, insecure, false,
          "plaintext gRPC with no identities: anyone who reaches a port is trusted; for "
          "local experiments only (env INSECURE)");

namespace evnet {

namespace gx = grpc::experimental;

const std::vector<EnvFallback> kTransportSecurityEnv = {{"tls_ca", "TLS_CA"},
                                                        {"tls_cert", "TLS_CERT"},
                                                        {"tls_key", "TLS_KEY"},
                                                        {"insecure", "INSECURE"}};

std::vector<EnvFallback> WithTransportSecurityEnv(std::vector<EnvFallback> fallbacks) {
  fallbacks.insert(fallbacks.end(), kTransportSecurityEnv.begin(), kTransportSecurityEnv.end());
  return fallbacks;
}

TransportSecurity TransportSecurity::FromDir(const std::string& dir, const std::string& role,
                                             const std::string& name) {
  TransportSecurity security;
  security.ca_file = absl::StrCat(dir, "/ca.crt");
  security.cert_file = absl::StrCat(dir, "/", role, "/", name, ".crt");
  security.key_file = absl::StrCat(dir, "/", role, "/", name, ".key");
  return security;
}

std::string ServerNameOf(const std::string& role, const std::string& name) {
  return absl::StrCat(name, ".", role, ".evnet");
}

absl::StatusOr<TransportSecurity> TransportSecurityFromFlags(const std::string& who) {
  TransportSecurity security;
  security.ca_file = absl::GetFlag(FLAGS_tls_ca);
  security.cert_file = absl::GetFlag(FLAGS_tls_cert);
  security.key_file = absl::GetFlag(FLAGS_tls_key);
  const bool any_file =
      !security.ca_file.empty() || !security.cert_file.empty() || !security.key_file.empty();
  if (absl::GetFlag(FLAGS_insecure)) {
    if (any_file) {
      return absl::InvalidArgumentError("--insecure and --tls_* exclude each other");
    }
    LOG(WARNING) << who << " | INSECURE: gRPC in plaintext, nobody's identity checked; "
                 << "anyone who reaches the network owns it. For local experiments only.";
    return TransportSecurity::Insecure();
  }
  if (security.ca_file.empty() || security.cert_file.empty() || security.key_file.empty()) {
    return absl::InvalidArgumentError(
        "give --tls_ca, --tls_cert and --tls_key (certificates from tools/pki/evpki), or "
        "--insecure for plaintext in a local experiment");
  }
  for (const std::string* file : {&security.ca_file, &security.cert_file, &security.key_file}) {
    if (absl::StatusOr<std::string> read = ReadFile(*file); !read.ok()) return read.status();
  }
  return security;
}

absl::StatusOr<TransportSecurity> TransportSecurityFromFlags(const std::string& who,
                                                             const std::string& pki_dir,
                                                             const std::string& role,
                                                             const std::string& name) {
  if (pki_dir.empty()) return TransportSecurityFromFlags(who);
  if (absl::GetFlag(FLAGS_insecure) || !absl::GetFlag(FLAGS_tls_ca).empty() ||
      !absl::GetFlag(FLAGS_tls_cert).empty() || !absl::GetFlag(FLAGS_tls_key).empty()) {
    return absl::InvalidArgumentError("--pki_dir excludes --tls_* and --insecure");
  }
  TransportSecurity security = TransportSecurity::FromDir(pki_dir, role, name);
  for (const std::string* file : {&security.ca_file, &security.cert_file, &security.key_file}) {
    if (absl::StatusOr<std::string> read = ReadFile(*file); !read.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--pki_dir ", pki_dir, ": ",
                                                     read.status().message(),
                                                     " (tools/pki/evpki makes it)"));
    }
  }
  return security;
}

namespace {

// Checked readable at start (TransportSecurityFromFlags).
std::string Contents(const std::string& file) { return ReadFile(file).value_or(""); }

std::shared_ptr<gx::CertificateProviderInterface> Provider(const TransportSecurity& security) {
  if (security.reload <= absl::ZeroDuration()) {
    return std::make_shared<gx::StaticDataCertificateProvider>(
        Contents(security.ca_file), std::vector<gx::IdentityKeyCertPair>{
                                        {Contents(security.key_file), Contents(security.cert_file)}});
  }
  return std::make_shared<gx::FileWatcherCertificateProvider>(
      security.key_file, security.cert_file, security.ca_file,
      static_cast<unsigned>(std::max<int64_t>(1, absl::ToInt64Seconds(security.reload))));
}

// Run by gRPC during a server's handshake, after the client's certificate
// was verified against the CA: refuses the certificates of the roles that
// have no business with this server. Synchronous, and never blocks: the
// log line is written at most every 10 s (a refused client retries every
// second), and `on_refused` only queues.
class RoleVerifier final : public gx::ExternalCertificateVerifier {
 public:
  RoleVerifier(std::vector<std::string> roles, std::string server, RefusedHandshake on_refused)
      : roles_(std::move(roles)), server_(std::move(server)), on_refused_(std::move(on_refused)) {}

  bool Verify(gx::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)> /*callback*/, grpc::Status* sync_status) override {
    const grpc::string_ref pem = request->peer_cert();
    absl::StatusOr<PeerIdentity> peer = IdentityOfCertificate(std::string(pem.data(), pem.size()));
    if (peer.ok() && std::find(roles_.begin(), roles_.end(), peer->role) != roles_.end()) {
      *sync_status = grpc::Status::OK;
      return true;
    }
    const std::string holder = peer.ok() ? peer->ToString() : "a certificate without an identity";
    const std::string why =
        peer.ok() ? absl::StrCat("a ", peer->role, "'s certificate does not connect to ", server_)
                  : absl::StrCat("it names no role (", peer.status().message(), ")");
    if (on_refused_) on_refused_(holder, why);
    Log(holder, why);
    *sync_status = grpc::Status(grpc::StatusCode::PERMISSION_DENIED, absl::StrCat(holder, ": ", why));
    return true;
  }
  void Cancel(gx::TlsCustomVerificationCheckRequest*) override {}

 private:
  void Log(const std::string& holder, const std::string& why) {
    int left_out;
    {
      absl::MutexLock lock(&mu_);
      const absl::Time now = SystemClock::Get().Steady();
      if (now - logged_at_ < absl::Seconds(10)) {
        ++left_out_;
        return;
      }
      logged_at_ = now;
      left_out = std::exchange(left_out_, 0);
    }
    LOG(WARNING) << server_ << " | Refused a TLS handshake of " << holder << ": " << why
                 << (left_out > 0 ? absl::StrCat(" (and ", left_out, " more refused since the "
                                                 "last such line)")
                                  : "");
  }

  const std::vector<std::string> roles_;
  const std::string server_;
  const RefusedHandshake on_refused_;
  absl::Mutex mu_;
  absl::Time logged_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int left_out_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace

std::shared_ptr<grpc::ServerCredentials> ServerCredentialsFor(
    const TransportSecurity& security, const std::vector<std::string>& admitted_roles,
    const std::string& server, RefusedHandshake on_refused) {
  if (security.insecure) return grpc::InsecureServerCredentials();
  gx::TlsServerCredentialsOptions options(Provider(security));
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  if (!admitted_roles.empty()) {
    options.set_certificate_verifier(
        gx::ExternalCertificateVerifier::Create<RoleVerifier>(admitted_roles, server,
                                                              std::move(on_refused)));
  }
  return grpc::experimental::TlsServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> ChannelCredentialsFor(
    const TransportSecurity& security) {
  if (security.insecure) return grpc::InsecureChannelCredentials();
  static absl::Mutex mu(absl::kConstInit);
  static auto* cache =
      new std::map<std::tuple<std::string, std::string, std::string>,
                   std::shared_ptr<grpc::ChannelCredentials>>();
  absl::MutexLock lock(&mu);
  auto& credentials = (*cache)[{security.ca_file, security.cert_file, security.key_file}];
  if (credentials == nullptr) {
    gx::TlsChannelCredentialsOptions options;
    options.set_certificate_provider(Provider(security));
    options.watch_root_certs();
    options.watch_identity_key_cert_pairs();
    // The chain is checked against the CA, and the server's name against
    // the one the channel asks for (ServerNameOf).
    options.set_verify_server_certs(true);
    options.set_certificate_verifier(std::make_shared<gx::HostNameCertificateVerifier>());
    credentials = grpc::experimental::TlsCredentials(options);
  }
  return credentials;
}

}  // namespace evnet
