#include "common/trust/sealing.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "openssl/evp.h"
#include "openssl/kdf.h"
#include "openssl/pem.h"
#include "openssl/rand.h"
#include "openssl/x509.h"
#include "common/clock.h"

namespace evnet {
namespace {

// Sealed: version | length of the ephemeral key (2 bytes, big-endian) |
// the ephemeral public key (DER) | nonce | ciphertext | tag.
constexpr unsigned char kVersion = 1;
constexpr size_t kNonceSize = 12;
constexpr size_t kTagSize = 16;
constexpr size_t kKeySize = 32;
constexpr char kInfo[] = "evnet sealed update v1";

using Key = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using KeyContext = std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)>;
using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;
using Bio = std::unique_ptr<BIO, decltype(&BIO_free)>;

const unsigned char* Bytes(const std::string& s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
unsigned char* Bytes(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

Key PublicKeyFromDer(const std::string& der) {
  const unsigned char* p = Bytes(der);
  return Key(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())), &EVP_PKEY_free);
}

std::string PublicKeyDer(EVP_PKEY* key) {
  const int size = i2d_PUBKEY(key, nullptr);
  if (size <= 0) return "";
  std::string der(static_cast<size_t>(size), '\0');
  unsigned char* p = Bytes(der);
  i2d_PUBKEY(key, &p);
  return der;
}

// The AES key that `own` and `peer` agree on (ECDH, then HKDF with `salt`).
absl::StatusOr<std::string> AgreeKey(EVP_PKEY* own, EVP_PKEY* peer, const std::string& salt) {
  KeyContext agree(EVP_PKEY_CTX_new(own, nullptr), &EVP_PKEY_CTX_free);
  size_t length = 0;
  if (agree == nullptr || EVP_PKEY_derive_init(agree.get()) != 1 ||
      EVP_PKEY_derive_set_peer(agree.get(), peer) != 1 ||
      EVP_PKEY_derive(agree.get(), nullptr, &length) != 1) {
    return absl::PermissionDeniedError("the keys do not agree (not both P-256)");
  }
  std::string secret(length, '\0');
  if (EVP_PKEY_derive(agree.get(), Bytes(secret), &length) != 1) {
    return absl::InternalError("ECDH failed");
  }
  secret.resize(length);
  KeyContext hkdf(EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr), &EVP_PKEY_CTX_free);
  std::string key(kKeySize, '\0');
  size_t key_size = key.size();
  if (hkdf == nullptr || EVP_PKEY_derive_init(hkdf.get()) != 1 ||
      EVP_PKEY_CTX_set_hkdf_md(hkdf.get(), EVP_sha256()) != 1 ||
      EVP_PKEY_CTX_set1_hkdf_salt(hkdf.get(), Bytes(salt), static_cast<int>(salt.size())) != 1 ||
      EVP_PKEY_CTX_set1_hkdf_key(hkdf.get(), Bytes(secret), static_cast<int>(secret.size())) !=
          1 ||
      EVP_PKEY_CTX_add1_hkdf_info(hkdf.get(), reinterpret_cast<const unsigned char*>(kInfo),
                                  sizeof(kInfo) - 1) != 1 ||
      EVP_PKEY_derive(hkdf.get(), Bytes(key), &key_size) != 1) {
    return absl::InternalError("HKDF failed");
  }
  return key;
}


// A new ephemeral key and the AES key it agrees with `public_key_der`.
absl::StatusOr<std::pair<std::string, std::string>> Agree(const std::string& public_key_der) {
  Key recipient = PublicKeyFromDer(public_key_der);
  if (recipient == nullptr) return absl::InvalidArgumentError("not a DER public key");
  Key ephemeral(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), &EVP_PKEY_free);
  if (ephemeral == nullptr) return absl::InternalError("cannot make an ephemeral key");
  std::string ephemeral_der = PublicKeyDer(ephemeral.get());
  absl::StatusOr<std::string> key = AgreeKey(ephemeral.get(), recipient.get(), ephemeral_der);
  if (!key.ok()) return key.status();
  return std::make_pair(std::move(ephemeral_der), *std::move(key));
}

absl::StatusOr<std::string> SealWith(const std::string& ephemeral_der, const std::string& key,
                                     const std::string& plaintext) {
  std::string nonce(kNonceSize, '\0');
  if (RAND_bytes(Bytes(nonce), static_cast<int>(nonce.size())) != 1) {
    return absl::InternalError("no randomness for a nonce");
  }
  std::string ciphertext(plaintext.size(), '\0');
  std::string tag(kTagSize, '\0');
  std::string aes_key = key;
  CipherContext cipher(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  int length = 0, final_length = 0;
  if (cipher == nullptr ||
      EVP_EncryptInit_ex(cipher.get(), EVP_aes_256_gcm(), nullptr, Bytes(aes_key),
                         Bytes(nonce)) != 1 ||
      EVP_EncryptUpdate(cipher.get(), Bytes(ciphertext), &length, Bytes(plaintext),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(cipher.get(), Bytes(ciphertext) + length, &final_length) != 1 ||
      EVP_CIPHER_CTX_ctrl(cipher.get(), EVP_CTRL_GCM_GET_TAG, kTagSize, Bytes(tag)) != 1) {
    return absl::InternalError("AES-GCM failed");
  }
  std::string sealed;
  sealed.push_back(static_cast<char>(kVersion));
  sealed.push_back(static_cast<char>(ephemeral_der.size() >> 8));
  sealed.push_back(static_cast<char>(ephemeral_der.size() & 0xff));
  absl::StrAppend(&sealed, ephemeral_der, nonce, ciphertext, tag);
  return sealed;
}

// A sealed message's parts.
struct Parts {
  std::string ephemeral_der;
  std::string nonce;
  std::string ciphertext;
  std::string tag;
};

absl::StatusOr<Parts> Split(const std::string& sealed) {
  if (sealed.size() < 3 || static_cast<unsigned char>(sealed[0]) != kVersion) {
    return absl::InvalidArgumentError("not a sealed message of this version");
  }
  const size_t key_length = (static_cast<unsigned char>(sealed[1]) << 8) |
                            static_cast<unsigned char>(sealed[2]);
  if (sealed.size() < 3 + key_length + kNonceSize + kTagSize) {
    return absl::InvalidArgumentError("a sealed message cut short");
  }
  Parts parts;
  parts.ephemeral_der = sealed.substr(3, key_length);
  parts.nonce = sealed.substr(3 + key_length, kNonceSize);
  const size_t body = 3 + key_length + kNonceSize;
  parts.ciphertext = sealed.substr(body, sealed.size() - body - kTagSize);
  parts.tag = sealed.substr(sealed.size() - kTagSize);
  return parts;
}

// The AES key that the private key `key_pem` agrees with `ephemeral_der`.
absl::StatusOr<std::string> AgreeOwn(const std::string& key_pem, const std::string& ephemeral_der) {
  Bio bio(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())), &BIO_free);
  Key own(bio == nullptr ? nullptr : PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr),
          &EVP_PKEY_free);
  if (own == nullptr) return absl::InvalidArgumentError("not a PEM private key");
  Key ephemeral = PublicKeyFromDer(ephemeral_der);
  if (ephemeral == nullptr) return absl::InvalidArgumentError("a sealed message without its key");
  return AgreeKey(own.get(), ephemeral.get(), ephemeral_der);
}

absl::StatusOr<std::string> OpenWith(std::string key, Parts parts) {
  std::string plaintext(parts.ciphertext.size(), '\0');
  CipherContext cipher(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  int length = 0, final_length = 0;
  if (cipher == nullptr ||
      EVP_DecryptInit_ex(cipher.get(), EVP_aes_256_gcm(), nullptr, Bytes(key),
                         Bytes(parts.nonce)) != 1 ||
      EVP_DecryptUpdate(cipher.get(), Bytes(plaintext), &length, Bytes(parts.ciphertext),
                        static_cast<int>(parts.ciphertext.size())) != 1 ||
      EVP_CIPHER_CTX_ctrl(cipher.get(), EVP_CTRL_GCM_SET_TAG, kTagSize, Bytes(parts.tag)) != 1) {
    return absl::InternalError("AES-GCM failed");
  }
  if (EVP_DecryptFinal_ex(cipher.get(), Bytes(plaintext) + length, &final_length) != 1) {
    return absl::PermissionDeniedError("sealed to another key, or altered");
  }
  plaintext.resize(static_cast<size_t>(length + final_length));
  return plaintext;
}

}  // namespace

absl::StatusOr<std::string> PublicKeyOf(const std::string& certificate_pem) {
  Bio bio(BIO_new_mem_buf(certificate_pem.data(), static_cast<int>(certificate_pem.size())),
          &BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      bio == nullptr ? nullptr : PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr),
      &X509_free);
  if (cert == nullptr) return absl::InvalidArgumentError("not a PEM certificate");
  Key key(X509_get_pubkey(cert.get()), &EVP_PKEY_free);
  if (key == nullptr) return absl::InvalidArgumentError("the certificate has no public key");
  return PublicKeyDer(key.get());
}

absl::StatusOr<std::string> Seal(const std::string& public_key_der, const std::string& plaintext) {
  absl::StatusOr<std::pair<std::string, std::string>> agreed = Agree(public_key_der);
  if (!agreed.ok()) return agreed.status();
  return SealWith(agreed->first, agreed->second, plaintext);
}

absl::StatusOr<std::string> Open(const std::string& key_pem, const std::string& sealed) {
  absl::StatusOr<Parts> parts = Split(sealed);
  if (!parts.ok()) return parts.status();
  absl::StatusOr<std::string> key = AgreeOwn(key_pem, parts->ephemeral_der);
  if (!key.ok()) return key.status();
  return OpenWith(*std::move(key), *std::move(parts));
}

absl::StatusOr<std::string> Sealer::Seal(const std::string& public_key_der,
                                         const std::string& plaintext) {
  const absl::Time now = SystemClock::Get().Steady();
  std::string ephemeral_der, key;
  {
    absl::MutexLock lock(&mu_);
    auto it = agreed_.find(public_key_der);
    if (it != agreed_.end() && it->second.uses < reuse_limit_ &&
        now - it->second.made < reuse_time_) {
      ++it->second.uses;
      ephemeral_der = it->second.ephemeral_der;
      key = it->second.key;
    }
  }
  if (key.empty()) {
    absl::StatusOr<std::pair<std::string, std::string>> agreed = Agree(public_key_der);
    if (!agreed.ok()) return agreed.status();
    ephemeral_der = agreed->first;
    key = agreed->second;
    absl::MutexLock lock(&mu_);
    agreed_[public_key_der] = Agreed{ephemeral_der, key, now, 1};
  }
  return SealWith(ephemeral_der, key, plaintext);
}

absl::StatusOr<std::string> Opener::Open(const std::string& key_pem, const std::string& sealed) {
  absl::StatusOr<std::string> opened = OpenWithKey(key_pem, sealed);
  std::vector<std::string> earlier;
  {
    absl::MutexLock lock(&mu_);
    earlier = earlier_keys_;
    if (earlier_keys_.empty() || earlier_keys_.front() != key_pem) {
      earlier_keys_.erase(std::remove(earlier_keys_.begin(), earlier_keys_.end(), key_pem),
                          earlier_keys_.end());
      earlier_keys_.insert(earlier_keys_.begin(), key_pem);
      if (earlier_keys_.size() > 4) earlier_keys_.pop_back();
    }
  }
  for (const std::string& key : earlier) {
    if (!absl::IsPermissionDenied(opened.status()) && !absl::IsInvalidArgument(opened.status())) {
      break;
    }
    if (key != key_pem) opened = OpenWithKey(key, sealed);
  }
  return opened;
}

absl::StatusOr<std::string> Opener::OpenWithKey(const std::string& key_pem,
                                                const std::string& sealed) {
  absl::StatusOr<Parts> parts = Split(sealed);
  if (!parts.ok()) return parts.status();
  std::pair<std::string, std::string> id(key_pem, parts->ephemeral_der);
  std::string key;
  {
    absl::MutexLock lock(&mu_);
    if (auto it = agreed_.find(id); it != agreed_.end()) key = it->second;
  }
  if (key.empty()) {
    absl::StatusOr<std::string> agreed = AgreeOwn(key_pem, parts->ephemeral_der);
    if (!agreed.ok()) return agreed.status();
    key = *agreed;
    absl::MutexLock lock(&mu_);
    if (agreed_.size() > 256) agreed_.clear();
    agreed_[std::move(id)] = key;
  }
  return OpenWith(std::move(key), *std::move(parts));
}

}  // namespace evnet
