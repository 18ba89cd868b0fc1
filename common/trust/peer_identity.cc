#include "common/trust/peer_identity.h"

#include <memory>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/files.h"
#include "grpc/grpc_security_constants.h"
#include "grpcpp/security/auth_context.h"
#include "openssl/evp.h"
#include "openssl/pem.h"
#include "openssl/x509.h"

namespace evnet {
namespace {

// The one value of `nid` in `name`; empty if absent or given twice.
std::string OnlyEntry(X509_NAME* name, int nid) {
  const int index = X509_NAME_get_index_by_NID(name, nid, -1);
  if (index < 0 || X509_NAME_get_index_by_NID(name, nid, index) >= 0) return "";
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* utf8 = nullptr;
  const int length = ASN1_STRING_to_UTF8(&utf8, data);
  if (length < 0) return "";
  std::string value(reinterpret_cast<char*>(utf8), static_cast<size_t>(length));
  OPENSSL_free(utf8);
  return value;
}

// Identities already read, by the SHA-256 of their PEM text. OpenSSL 3.0
// takes about a millisecond to parse a certificate (its decoders, for the
// public key), and the same few certificates come again and again: every
// handshake, every call and every registration of a CP presents its own.
// Bounded: emptied when full.
class KnownIdentities {
 public:
  static KnownIdentities& Get() {
    static KnownIdentities* const known = new KnownIdentities();
    return *known;
  }

  // The SHA-256 of `pem`, which is the key; empty if it cannot be made.
  std::string KeyOf(const std::string& pem) const {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (sha256_ == nullptr ||
        EVP_Digest(pem.data(), pem.size(), digest, &length, sha256_, nullptr) != 1) {
      return "";
    }
    return std::string(reinterpret_cast<char*>(digest), length);
  }
  std::optional<PeerIdentity> Find(const std::string& key) {
    absl::MutexLock lock(&mu_);
    auto it = known_.find(key);
    if (it == known_.end()) return std::nullopt;
    return it->second;
  }
  void Add(const std::string& key, PeerIdentity identity) {
    identity.certificate_pem.clear();  // the caller has it
    absl::MutexLock lock(&mu_);
    if (known_.size() >= kMaxKnown) known_.clear();
    known_.emplace(key, std::move(identity));
  }

 private:
  static constexpr size_t kMaxKnown = 100'000;

  // Fetched once: a fetch per digest costs as much as the digest.
  EVP_MD* const sha256_ = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, PeerIdentity> known_ ABSL_GUARDED_BY(mu_);
};

absl::StatusOr<PeerIdentity> ParseIdentity(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      bio == nullptr ? nullptr : PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr),
      &X509_free);
  if (cert == nullptr) return absl::InvalidArgumentError("not a PEM certificate");
  PeerIdentity identity;
  X509_NAME* subject = X509_get_subject_name(cert.get());
  identity.role = OnlyEntry(subject, NID_organizationalUnitName);
  identity.name = OnlyEntry(subject, NID_commonName);
  if (identity.role.empty() || identity.name.empty()) {
    return absl::InvalidArgumentError(
        "the certificate names no evnet identity (one OU for the role, one CN for the name)");
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (X509_digest(cert.get(), EVP_sha256(), digest, &length) != 1) {
    return absl::InternalError("cannot hash the certificate");
  }
  identity.certificate_sha256 =
      absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(digest), length));
  identity.certificate_pem = pem;
  return identity;
}

}  // namespace

absl::StatusOr<PeerIdentity> IdentityOfCertificate(const std::string& pem) {
  KnownIdentities& known = KnownIdentities::Get();
  const std::string key = known.KeyOf(pem);
  if (!key.empty()) {
    if (std::optional<PeerIdentity> identity = known.Find(key)) {
      identity->certificate_pem = pem;
      return *std::move(identity);
    }
  }
  absl::StatusOr<PeerIdentity> identity = ParseIdentity(pem);
  if (identity.ok() && !key.empty()) known.Add(key, *identity);
  return identity;
}

absl::Status CheckOwnCertificate(const std::string& cert_file, const std::string& role,
                                 const std::string& name) {
  absl::StatusOr<std::string> pem = ReadFile(cert_file);
  if (!pem.ok()) return pem.status();
  absl::StatusOr<PeerIdentity> identity = IdentityOfCertificate(*pem);
  if (!identity.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(cert_file, ": ", identity.status().message()));
  }
  if (!identity->Is(role, name)) {
    return absl::InvalidArgumentError(absl::StrCat(cert_file, " names ", identity->ToString(),
                                                   ", not ", role, " ", name));
  }
  return absl::OkStatus();
}

absl::StatusOr<PeerIdentity> IdentityOfPeer(const grpc::ServerContextBase& context) {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) {
    return absl::UnauthenticatedError("the peer presented no certificate");
  }
  std::vector<grpc::string_ref> pem = auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  if (pem.size() != 1) return absl::UnauthenticatedError("the peer presented no certificate");
  absl::StatusOr<PeerIdentity> identity =
      IdentityOfCertificate(std::string(pem[0].data(), pem[0].size()));
  if (!identity.ok()) return absl::UnauthenticatedError(identity.status().message());
  return identity;
}

}  // namespace evnet
