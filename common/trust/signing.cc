#include "common/trust/signing.h"

#include <cstdlib>
#include <memory>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "openssl/crypto.h"
#include "openssl/evp.h"
#include "openssl/hmac.h"
#include "openssl/pem.h"
#include "openssl/rand.h"
#include "openssl/x509.h"
#include "openssl/x509_vfy.h"

namespace evnet {
namespace {

using Bio = std::unique_ptr<BIO, decltype(&BIO_free)>;
using Key = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using DigestContext = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

Bio Memory(const std::string& pem) {
  return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
}

using Certificate = std::unique_ptr<X509, decltype(&X509_free)>;
Certificate ReadCertificate(const std::string& pem) {
  Bio bio = Memory(pem);
  return Certificate(
      bio == nullptr ? nullptr : PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr),
      &X509_free);
}

// `message` deterministically serialized: the same bytes wherever it is signed.
std::string Deterministic(const google::protobuf::MessageLite& message) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream out(&bytes);
    google::protobuf::io::CodedOutputStream coded(&out);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  return bytes;
}

}  // namespace

absl::StatusOr<std::string> Sign(const std::string& key_pem, const std::string& data) {
  Bio bio = Memory(key_pem);
  Key key(bio == nullptr ? nullptr : PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr),
          &EVP_PKEY_free);
  if (key == nullptr) return absl::InvalidArgumentError("not a PEM private key");
  DigestContext context(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  size_t length = 0;
  if (context == nullptr ||
      EVP_DigestSignInit(context.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(context.get(), nullptr, &length,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    return absl::InternalError("cannot sign");
  }
  std::string signature(length, '\0');
  if (EVP_DigestSign(context.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    return absl::InternalError("cannot sign");
  }
  signature.resize(length);
  return signature;
}

absl::Status Verify(const std::string& certificate_pem, const std::string& data,
                    const std::string& signature) {
  Certificate cert = ReadCertificate(certificate_pem);
  if (cert == nullptr) return absl::InvalidArgumentError("not a PEM certificate");
  Key key(X509_get_pubkey(cert.get()), &EVP_PKEY_free);
  DigestContext context(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (key == nullptr || context == nullptr ||
      EVP_DigestVerifyInit(context.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1) {
    return absl::InternalError("cannot check the signature");
  }
  if (EVP_DigestVerify(context.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(), reinterpret_cast<const unsigned char*>(data.data()),
                       data.size()) != 1) {
    return absl::PermissionDeniedError("the signature is not of this certificate's key");
  }
  return absl::OkStatus();
}

absl::Status CheckIssuedBy(const std::string& ca_pem, const std::string& certificate_pem) {
  Certificate ca = ReadCertificate(ca_pem);
  if (ca == nullptr) return absl::InvalidArgumentError("the CA is not a PEM certificate");
  Certificate cert = ReadCertificate(certificate_pem);
  if (cert == nullptr) return absl::PermissionDeniedError("not a PEM certificate");
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(),
                                                                &X509_STORE_free);
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> context(
      X509_STORE_CTX_new(), &X509_STORE_CTX_free);
  if (store == nullptr || context == nullptr || X509_STORE_add_cert(store.get(), ca.get()) != 1 ||
      X509_STORE_CTX_init(context.get(), store.get(), cert.get(), nullptr) != 1) {
    return absl::InternalError("cannot check a certificate");
  }
  if (X509_verify_cert(context.get()) != 1) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the certificate is not valid: ",
        X509_verify_cert_error_string(X509_STORE_CTX_get_error(context.get()))));
  }
  return absl::OkStatus();
}

std::string SignedBytes(const v1::SessionResult& result) {
  v1::SessionResult billed;
  billed.set_session_id(result.session_id());
  billed.set_request_id(result.request_id());
  billed.set_cp_id(result.cp_id());
  billed.set_driver_id(result.driver_id());
  *billed.mutable_started_at() = result.started_at();
  *billed.mutable_ended_at() = result.ended_at();
  billed.set_energy_kwh(result.energy_kwh());
  billed.set_price_eur_per_kwh(result.price_eur_per_kwh());
  billed.set_amount_eur(result.amount_eur());
  // Proto3 writes no 0: a result from before amount_cents signs the same bytes.
  billed.set_amount_cents(result.amount_cents());
  return Deterministic(billed);
}

absl::Status SignResult(const std::string& key_pem, v1::SessionResult& result) {
  if (key_pem.empty()) return absl::OkStatus();
  absl::StatusOr<std::string> signature = Sign(key_pem, SignedBytes(result));
  if (!signature.ok()) return signature.status();
  result.set_signature(*signature);
  return absl::OkStatus();
}

std::string SignedBytes(const v1::DriverRequest& request) {
  v1::DriverRequest asked;
  asked.set_request_id(request.request_id());
  asked.set_driver_id(request.driver_id());
  asked.set_cp_id(request.cp_id());
  *asked.mutable_requested_at() = request.requested_at();
  return Deterministic(asked);
}

std::string NewTelemetryKey() {
  std::string key(32, '\0');
  // Fails only when the system has no entropy at all: then nothing here is safe.
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), key.size()) != 1) abort();
  return key;
}

std::string TelemetryMacBytes(const v1::SupplyTelemetry& telemetry) {
  v1::SupplyTelemetry covered;
  covered.set_cp_id(telemetry.cp_id());
  v1::SupplySnapshot& supply = *covered.mutable_supply();
  supply.set_session_id(telemetry.supply().session_id());
  supply.set_driver_id(telemetry.supply().driver_id());
  supply.set_power_kw(telemetry.supply().power_kw());
  supply.set_energy_kwh(telemetry.supply().energy_kwh());
  supply.set_amount_eur(telemetry.supply().amount_eur());
  *supply.mutable_started_at() = telemetry.supply().started_at();
  *covered.mutable_measured_at() = telemetry.measured_at();
  return Deterministic(covered);
}

namespace {

// Empty if OpenSSL fails (then nothing checks).
std::string Hmac(const std::string& key, const std::string& data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac,
           &length) == nullptr ||
      length != 32) {
    return "";
  }
  return std::string(reinterpret_cast<const char*>(mac), length);
}

}  // namespace

void MacTelemetry(const std::string& key, v1::SupplyTelemetry& telemetry) {
  if (key.empty()) return;
  telemetry.set_mac(Hmac(key, TelemetryMacBytes(telemetry)));
}

absl::Status CheckTelemetryMac(const std::string& key, const v1::SupplyTelemetry& telemetry) {
  if (key.empty()) return absl::OkStatus();
  const std::string expected = Hmac(key, TelemetryMacBytes(telemetry));
  if (expected.empty()) return absl::InternalError("cannot compute HMAC-SHA256");
  if (telemetry.mac().size() != expected.size() ||
      CRYPTO_memcmp(telemetry.mac().data(), expected.data(), expected.size()) != 0) {
    return absl::PermissionDeniedError(
        telemetry.mac().empty() ? "telemetry without the session's MAC"
                                : "telemetry whose MAC is not the session's key's");
  }
  return absl::OkStatus();
}

}  // namespace evnet
