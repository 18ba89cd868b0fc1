// Who may use the dashboard. Operators are listed in a credentials file, one
// "name:pbkdf2-sha256:ITERATIONS:SALT:HASH" line each (hex; never the
// password itself). A login gives a session that is signed, not stored: the
// cookie "name.expiry.mac" carries an HMAC keyed by a random session key
// (its own file, this user's alone: LoadSessionKey) and the credentials
// file, so a session outlives a restart of central (an open dashboard
// reconnects still logged in), replacing the key ends every session, and so
// does any change to the credentials. Nobody who can read the credentials
// but not the key can make a session.
#ifndef EVNET_CENTRAL_OPERATOR_AUTH_H_
#define EVNET_CENTRAL_OPERATOR_AUTH_H_

#include <deque>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace evnet {

class OperatorAuth {
 public:
  // No session lasts longer than this.
  static constexpr absl::Duration kMaxSessionTtl = absl::Hours(12);

  [[nodiscard]] static absl::StatusOr<std::unique_ptr<OperatorAuth>> FromFile(
      const std::string& path, absl::string_view session_key);
  // The file's text; errors name the line.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<OperatorAuth>> FromText(
      absl::string_view text, absl::string_view session_key);
  // The session key kept in `path`, made (32 random bytes, 0600) when there
  // is none. FAILED_PRECONDITION when others may read or change it, or it
  // belongs to another user (root excepted: mounted secrets are root's).
  [[nodiscard]] static absl::StatusOr<std::string> LoadSessionKey(const std::string& path);
  // A key for this run only: sessions end when central does.
  static std::string RandomSessionKey();
  // A line of the credentials file for `name`, with a fresh random salt.
  static std::string CredentialLine(absl::string_view name, absl::string_view password);

  // A session for the operator, valid for `ttl` (at most kMaxSessionTtl)
  // from `now`; UNAUTHENTICATED for an unknown name or a wrong password
  // (which of them is not said).
  [[nodiscard]] absl::StatusOr<std::string> Login(absl::string_view name,
                                                  absl::string_view password, absl::Time now,
                                                  absl::Duration ttl = kMaxSessionTtl) const;
  // The operator who holds `session`; UNAUTHENTICATED when it is forged,
  // expired, ends further ahead than kMaxSessionTtl, or is of an operator no
  // longer in the file.
  [[nodiscard]] absl::StatusOr<std::string> Check(absl::string_view session, absl::Time now) const;
  // What the dashboard of that session sends with every state change.
  std::string CsrfToken(absl::string_view session) const;

 private:
  struct Credential {
    int iterations = 0;
    std::string salt;  // raw bytes
    std::string hash;  // raw bytes
  };
  OperatorAuth() = default;
  std::string Mac(absl::string_view data) const;

  std::map<std::string, Credential> operators_;
  std::string key_;  // HMAC(session key, the file): the sessions' MAC key
};

// Login attempts that did not succeed, counted three ways within kWindow:
// per operator name from one address (kMaxFailures), per operator name from
// anywhere (kMaxPerName: behind an ingress every operator shares one
// address, and a guesser may have many), and per address whatever the name
// (kMaxPerSource: a guesser cycling through names). An attempt is counted
// when it is allowed, in the same step, so that concurrent guesses cannot
// all pass the check; a login that succeeds takes its count back. Asked
// before the password is hashed, so a guesser gets neither answers nor a
// PBKDF2 computation (half a second of a core) per request. Thread-safe.
class LoginThrottle {
 public:
  static constexpr int kMaxFailures = 5;
  static constexpr int kMaxPerName = 20;
  static constexpr int kMaxPerSource = 20;
  static constexpr absl::Duration kWindow = absl::Minutes(5);

  // OK (and counted), or RESOURCE_EXHAUSTED saying what was exceeded; its
  // message is the same for every refusal of one kind, so that refusals
  // repeated fold into one audit record.
  absl::Status Attempt(const std::string& source, const std::string& name, absl::Time now);
  // The attempt succeeded: its name from that address starts afresh.
  void Succeeded(const std::string& source, const std::string& name);

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, std::deque<absl::Time>> attempts_ ABSL_GUARDED_BY(mu_);
};

// Compares in a time that does not depend on where they differ.
bool SameSecret(absl::string_view a, absl::string_view b);

}  // namespace evnet

#endif  // EVNET_CENTRAL_OPERATOR_AUTH_H_
