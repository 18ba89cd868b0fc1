#include "central/operator_auth.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "common/validation.h"

namespace evnet {
namespace {

constexpr char kScheme[] = "pbkdf2-sha256";
constexpr int kIterations = 600000;  // OWASP's figure for PBKDF2-HMAC-SHA256

std::string Pbkdf2(absl::string_view password, absl::string_view salt, int iterations) {
  std::string out(32, '\0');
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                    reinterpret_cast<const unsigned char*>(salt.data()),
                    static_cast<int>(salt.size()), iterations, EVP_sha256(),
                    static_cast<int>(out.size()), reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

std::string Hmac(absl::string_view key, absl::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &size);
  return std::string(reinterpret_cast<char*>(mac), size);
}

std::string Sha256(absl::string_view data) {
  std::string out(32, '\0');
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), reinterpret_cast<unsigned char*>(out.data()), &size,
             EVP_sha256(), nullptr);
  return out;
}

bool FromHex(absl::string_view hex, std::string* out) {
  if (hex.empty() || hex.size() % 2 != 0) return false;
  for (char c : hex) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  *out = absl::HexStringToBytes(hex);
  return true;
}

}  // namespace

bool SameSecret(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char differ = 0;
  for (size_t i = 0; i < a.size(); ++i) differ |= static_cast<unsigned char>(a[i] ^ b[i]);
  return differ == 0;
}

absl::StatusOr<std::unique_ptr<OperatorAuth>> OperatorAuth::FromFile(
    const std::string& path, absl::string_view session_key) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) {
    return absl::NotFoundError(absl::StrCat("cannot read the operators' credentials ", path));
  }
  absl::StatusOr<std::unique_ptr<OperatorAuth>> auth = FromText(*text, session_key);
  if (!auth.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", auth.status().message()));
  }
  return auth;
}

absl::StatusOr<std::unique_ptr<OperatorAuth>> OperatorAuth::FromText(
    absl::string_view text, absl::string_view session_key) {
  if (session_key.size() < 32) {
    return absl::InvalidArgumentError("the dashboard's session key is shorter than 32 bytes");
  }
  std::unique_ptr<OperatorAuth> auth(new OperatorAuth());
  auth->key_ = Hmac(session_key, Sha256(text));
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    std::vector<absl::string_view> fields = absl::StrSplit(line, ':');
    Credential credential;
    if (fields.size() != 5 || fields[1] != kScheme ||
        !absl::SimpleAtoi(fields[2], &credential.iterations) || credential.iterations < 1000 ||
        !FromHex(fields[3], &credential.salt) || !FromHex(fields[4], &credential.hash) ||
        !ValidateId("operator name", fields[0]).ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "line ", number, " is not NAME:", kScheme, ":ITERATIONS:SALT:HASH (evctl operator NAME "
          "writes one)"));
    }
    auth->operators_[std::string(fields[0])] = std::move(credential);
  }
  if (auth->operators_.empty()) return absl::InvalidArgumentError("no operator is listed");
  return auth;
}

std::string OperatorAuth::CredentialLine(absl::string_view name, absl::string_view password) {
  unsigned char salt[16];
  RAND_bytes(salt, sizeof(salt));
  const std::string salt_bytes(reinterpret_cast<char*>(salt), sizeof(salt));
  return absl::StrCat(name, ":", kScheme, ":", kIterations, ":", absl::BytesToHexString(salt_bytes),
                      ":", absl::BytesToHexString(Pbkdf2(password, salt_bytes, kIterations)));
}

std::string OperatorAuth::Mac(absl::string_view data) const {
  return absl::BytesToHexString(Hmac(key_, data));
}

std::string OperatorAuth::RandomSessionKey() {
  unsigned char key[32];
  RAND_bytes(key, sizeof(key));
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(key), sizeof(key)));
}

absl::StatusOr<std::string> OperatorAuth::LoadSessionKey(const std::string& path) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd >= 0) {
    const std::string key = RandomSessionKey() + "\n";
    const bool written = write(fd, key.data(), key.size()) == static_cast<ssize_t>(key.size()) &&
                         fsync(fd) == 0;
    if (close(fd) != 0 || !written) {
      unlink(path.c_str());
      return absl::InternalError(absl::StrCat("cannot write the session key ", path));
    }
    return std::string(absl::StripAsciiWhitespace(key));
  }
  if (errno != EEXIST) {
    return absl::InternalError(
        absl::StrCat("cannot make the session key ", path, ": ", strerror(errno)));
  }
  struct stat st;  // through links: a mounted secret is a link to its file
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat("the session key ", path, " is not a file"));
  }
  if ((st.st_mode & (S_IRWXO | S_IWGRP)) != 0) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "the session key %s may be read or changed by others (mode %04o): chmod 600 it", path,
        st.st_mode & 07777));
  }
  if (st.st_uid != geteuid() && st.st_uid != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the session key ", path, " belongs to user ", st.st_uid, ", not to this one"));
  }
  absl::StatusOr<std::string> key = ReadFile(path);
  if (!key.ok()) return key.status();
  const std::string trimmed(absl::StripAsciiWhitespace(*key));
  if (trimmed.size() < 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("the session key ", path, " is shorter than 32 characters"));
  }
  return trimmed;
}

absl::StatusOr<std::string> OperatorAuth::Login(absl::string_view name, absl::string_view password,
                                                absl::Time now, absl::Duration ttl) const {
  auto it = operators_.find(std::string(name));
  // The same work for an unknown name as for a listed one, so that timing
  // does not tell which names exist.
  const Credential nobody{operators_.begin()->second.iterations, std::string(16, 'x'),
                          std::string(32, 'x')};
  const Credential& credential = it != operators_.end() ? it->second : nobody;
  const bool right =
      SameSecret(Pbkdf2(password, credential.salt, credential.iterations), credential.hash);
  if (it == operators_.end() || !right) {
    return absl::UnauthenticatedError("wrong operator name or password");
  }
  const std::string signed_part =
      absl::StrCat(name, ".", absl::ToUnixSeconds(now + std::min(ttl, kMaxSessionTtl)));
  return absl::StrCat(signed_part, ".", Mac(signed_part));
}

absl::StatusOr<std::string> OperatorAuth::Check(absl::string_view session, absl::Time now) const {
  const size_t mac_at = session.rfind('.');
  const size_t expiry_at = mac_at == absl::string_view::npos ? mac_at : session.rfind('.', mac_at - 1);
  int64_t expiry = 0;
  if (mac_at == absl::string_view::npos || expiry_at == absl::string_view::npos ||
      !SameSecret(session.substr(mac_at + 1), Mac(session.substr(0, mac_at))) ||
      !absl::SimpleAtoi(session.substr(expiry_at + 1, mac_at - expiry_at - 1), &expiry)) {
    return absl::UnauthenticatedError("log in first");
  }
  if (absl::FromUnixSeconds(expiry) <= now) {
    return absl::UnauthenticatedError("the session expired: log in again");
  }
  // No login gives more (a clock that ran ahead when it was made, at most).
  if (absl::FromUnixSeconds(expiry) > now + kMaxSessionTtl + absl::Minutes(5)) {
    return absl::UnauthenticatedError("log in first");
  }
  const std::string name(session.substr(0, expiry_at));
  if (operators_.count(name) == 0) return absl::UnauthenticatedError("log in first");
  return name;
}

std::string OperatorAuth::CsrfToken(absl::string_view session) const {
  return Mac(absl::StrCat("csrf:", session));
}

absl::Status LoginThrottle::Attempt(const std::string& source, const std::string& name,
                                   absl::Time now) {
  struct Bucket {
    std::string key;
    int max;
    std::string says;
  };
  const Bucket buckets[] = {
      {absl::StrCat("a\n", source, "\n", name), kMaxFailures,
       absl::StrCat(kMaxFailures, " failed logins from ", source, " as this operator")},
      {absl::StrCat("n\n", name), kMaxPerName, absl::StrCat(kMaxPerName, " failed logins as this operator")},
      {absl::StrCat("s\n", source), kMaxPerSource,
       absl::StrCat(kMaxPerSource, " failed logins from ", source)},
  };
  absl::MutexLock lock(&mu_);
  if (attempts_.size() > 30000) {  // forget who stopped trying
    for (auto it = attempts_.begin(); it != attempts_.end();) {
      it = now - it->second.back() >= kWindow ? attempts_.erase(it) : std::next(it);
    }
  }
  for (const Bucket& bucket : buckets) {
    auto it = attempts_.find(bucket.key);
    if (it == attempts_.end()) continue;
    std::deque<absl::Time>& times = it->second;
    while (!times.empty() && now - times.front() >= kWindow) times.pop_front();
    if (static_cast<int>(times.size()) >= bucket.max) {
      return absl::ResourceExhaustedError(absl::StrCat(
          bucket.says, " within ", absl::FormatDuration(kWindow), "; try again later"));
    }
  }
  for (const Bucket& bucket : buckets) attempts_[bucket.key].push_back(now);
  return absl::OkStatus();
}

void LoginThrottle::Succeeded(const std::string& source, const std::string& name) {
  absl::MutexLock lock(&mu_);
  attempts_.erase(absl::StrCat("a\n", source, "\n", name));
  for (const std::string& key : {absl::StrCat("n\n", name), absl::StrCat("s\n", source)}) {
    auto it = attempts_.find(key);
    if (it != attempts_.end() && !it->second.empty()) it->second.pop_back();
  }
}

}  // namespace evnet
