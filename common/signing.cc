#include "common/signing.h"

#include <memory>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "openssl/evp.h"
#include "openssl/pem.h"
#include "openssl/x509.h"

namespace evnet {
namespace {

using Bio = std::unique_ptr<BIO, decltype(&BIO_free)>;
using Key = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using DigestContext = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

Bio Memory(const std::string& pem) {
  return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
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
  Bio bio = Memory(certificate_pem);
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      bio == nullptr ? nullptr : PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr),
      &X509_free);
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
    return absl::PermissionDeniedError("the signature is not the CP's");
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
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream out(&bytes);
    google::protobuf::io::CodedOutputStream coded(&out);
    coded.SetSerializationDeterministic(true);
    billed.SerializeToCodedStream(&coded);
  }
  return bytes;
}

}  // namespace evnet
