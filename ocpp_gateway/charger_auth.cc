#include "ocpp_gateway/charger_auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <unistd.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "common/trust/peer_identity.h"
#include "common/trust/transport_security.h"

namespace evnet::ocpp {
namespace {

std::string Sha256Hex(absl::string_view data) {
  unsigned char out[32];
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), out, &size, EVP_sha256(), nullptr);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(out), size));
}

}  // namespace

absl::Status CheckGatewayPkiDir(const std::string& pki_dir) {
  const std::string ca_key = absl::StrCat(pki_dir, "/ca.key");
  if (access(ca_key.c_str(), F_OK) == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "refusing --pki_dir ", pki_dir, ": it holds the network CA's private key (ca.key); give "
        "the gateway a folder with ca.crt and its chargers' cp/<id>.crt and .key only"));
  }
  return absl::OkStatus();
}

std::string ChargerCredentialLine(absl::string_view charge_box_id, absl::string_view password) {
  return absl::StrCat(charge_box_id, ":sha256:", Sha256Hex(password));
}

absl::Status AuthorizeCharger(const std::string& charge_box_id, const std::string& certificate_pem,
                              absl::string_view authorization,
                              const std::string& credentials_file,
                              const std::string& enrolled_certificate_pem) {
  if (!certificate_pem.empty()) {  // profile 3
    absl::StatusOr<PeerIdentity> identity = IdentityOfCertificate(certificate_pem);
    if (!identity.ok()) {
      return absl::UnauthenticatedError(
          absl::StrCat("unreadable client certificate: ", identity.status().message()));
    }
    if (!identity->Is(kRoleCp, charge_box_id)) {
      return absl::PermissionDeniedError(absl::StrCat(
          "the client certificate is ", identity->ToString(), "'s, not cp ", charge_box_id, "'s"));
    }
    if (!enrolled_certificate_pem.empty()) {
      absl::StatusOr<PeerIdentity> enrolled = IdentityOfCertificate(enrolled_certificate_pem);
      if (!enrolled.ok() || enrolled->certificate_sha256 != identity->certificate_sha256) {
        return absl::PermissionDeniedError(absl::StrCat(
            "the client certificate names ", charge_box_id,
            " but is not the one it is enrolled with (renewed since?)"));
      }
    }
    return absl::OkStatus();
  }
  constexpr absl::string_view kBasic = "Basic ";
  if (!absl::StartsWithIgnoreCase(authorization, kBasic)) {
    return absl::UnauthenticatedError(
        "present the charger's certificate (security profile 3) or its password (HTTP Basic, "
        "profile 2)");
  }
  std::string decoded;
  if (!absl::Base64Unescape(absl::StripAsciiWhitespace(authorization.substr(kBasic.size())),
                            &decoded)) {
    return absl::UnauthenticatedError("the Basic credentials are not base64");
  }
  const size_t colon = decoded.find(':');
  const std::string user = decoded.substr(0, colon);
  const std::string password = colon == std::string::npos ? "" : decoded.substr(colon + 1);
  if (user != charge_box_id) {
    return absl::PermissionDeniedError(
        absl::StrCat("the Basic credentials are for another charger, not ", charge_box_id));
  }
  absl::StatusOr<std::string> file =
      credentials_file.empty() ? absl::NotFoundError("none") : ReadFile(credentials_file);
  const std::string want = ChargerCredentialLine(charge_box_id, password);
  if (file.ok()) {
    for (absl::string_view line : absl::StrSplit(*file, '\n')) {
      line = absl::StripAsciiWhitespace(line);
      if (line.size() == want.size() && CRYPTO_memcmp(line.data(), want.data(), want.size()) == 0) {
        return absl::OkStatus();
      }
    }
  }
  return absl::UnauthenticatedError(absl::StrCat("wrong password for ", charge_box_id));
}

}  // namespace evnet::ocpp
