#include "common/trust/peer_identity.h"

#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
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

}  // namespace

absl::StatusOr<PeerIdentity> IdentityOfCertificate(const std::string& pem) {
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
