#include "central/id_tokens.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "common/validation.h"

namespace evnet {
namespace {

// OCPP's CiString20Type: printable ASCII, at most 20 characters.
absl::Status ValidateIdTag(const std::string& field, const std::string& tag) {
  if (tag.empty()) return absl::InvalidArgumentError(absl::StrCat(field, " is empty"));
  if (tag.size() > kMaxIdTagLength) {
    return absl::InvalidArgumentError(absl::StrCat(field, " is ", tag.size(),
                                                   " characters long, more than OCPP's ",
                                                   kMaxIdTagLength));
  }
  for (char c : tag) {
    if (c <= ' ' || c > '~') {
      return absl::InvalidArgumentError(absl::StrCat(
          field, " '", absl::CHexEscape(tag), "' may hold only printable ASCII, no spaces"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string IdTokens::KeyOf(const std::string& id_tag) { return absl::AsciiStrToUpper(id_tag); }

void IdTokens::Restore(const v1::IdToken& token) {
  absl::MutexLock lock(&mu_);
  by_tag_[KeyOf(token.id_tag())] = token;
}

void IdTokens::FinishRestore() {
  absl::MutexLock lock(&mu_);
  restored_ = true;
}

bool IdTokens::restored() const {
  absl::MutexLock lock(&mu_);
  return restored_;
}

size_t IdTokens::size() const {
  absl::MutexLock lock(&mu_);
  return by_tag_.size();
}

IdTokens::Verdict IdTokens::Check(const std::string& id_tag, absl::Time now) const {
  Verdict verdict;
  v1::Authorization& authorization = verdict.authorization;
  absl::MutexLock lock(&mu_);
  auto it = by_tag_.find(KeyOf(id_tag));
  if (!restored_) {
    // Not known yet is not known to be invalid: a charger would remember
    // "Invalid" in its cache.
    authorization.set_status("");
    authorization.set_reason("central is starting: its id tokens are not read back yet");
    return verdict;
  }
  if (it == by_tag_.end()) {
    authorization.set_status("Invalid");
    authorization.set_reason(
        absl::StrCat("id tag ", absl::CHexEscape(id_tag.substr(0, kMaxIdTagLength)),
                     " is not registered"));
    return verdict;
  }
  const v1::IdToken& token = it->second;
  if (token.has_expires_at()) *authorization.mutable_expires_at() = token.expires_at();
  authorization.set_group(token.group());
  if (token.status() == v1::ID_TOKEN_STATUS_BLOCKED) {
    authorization.set_status("Blocked");
    authorization.set_reason(absl::StrCat("id tag ", token.id_tag(), " is blocked"));
  } else if (token.has_expires_at() && FromProto(token.expires_at()) <= now) {
    authorization.set_status("Expired");
    authorization.set_reason(absl::StrCat("id tag ", token.id_tag(), " expired"));
  } else {
    authorization.set_status("Accepted");
    verdict.driver_id = token.driver_id();
  }
  return verdict;
}

absl::StatusOr<v1::IdToken> IdTokens::Putting(const v1::PutIdTokenRequest& request,
                                              const std::string& by, absl::Time now) const {
  if (absl::Status tag = ValidateIdTag("id_tag", request.id_tag()); !tag.ok()) return tag;
  if (!request.group().empty()) {
    if (absl::Status group = ValidateIdTag("group", request.group()); !group.ok()) return group;
  }
  if (request.status() != v1::ID_TOKEN_STATUS_UNSPECIFIED &&
      !v1::IdTokenStatus_IsValid(request.status())) {
    return absl::InvalidArgumentError("status is not one of ACCEPTED, BLOCKED");
  }
  v1::IdToken token;
  if (request.driver_id().empty()) {
    absl::MutexLock lock(&mu_);
    auto it = by_tag_.find(KeyOf(request.id_tag()));
    if (it == by_tag_.end()) {
      return absl::NotFoundError(absl::StrCat("id tag ", request.id_tag(),
                                              " is not registered; add it with its driver"));
    }
    token = it->second;  // its id tag as added, its driver, expiry and group stay
  } else {
    if (absl::Status driver = ValidateId("driver_id", request.driver_id()); !driver.ok()) {
      return driver;
    }
    token.set_id_tag(request.id_tag());
    token.set_driver_id(request.driver_id());
    if (request.has_expires_at()) *token.mutable_expires_at() = request.expires_at();
    token.set_group(request.group());
  }
  token.set_status(request.status() == v1::ID_TOKEN_STATUS_UNSPECIFIED
                       ? v1::ID_TOKEN_STATUS_ACCEPTED
                       : request.status());
  *token.mutable_changed_at() = ToProto(now);
  token.set_changed_by(by);
  return token;
}

v1::ListIdTokensResponse IdTokens::List(const v1::ListIdTokensRequest& request,
                                        size_t page_size) const {
  v1::ListIdTokensResponse response;
  absl::MutexLock lock(&mu_);
  auto it = request.page_token().empty() ? by_tag_.begin() : by_tag_.upper_bound(request.page_token());
  for (; it != by_tag_.end(); ++it) {
    if (!request.driver_id().empty() && it->second.driver_id() != request.driver_id()) continue;
    if (static_cast<size_t>(response.id_tokens_size()) == page_size) {
      response.set_next_page_token(KeyOf(response.id_tokens(response.id_tokens_size() - 1).id_tag()));
      break;
    }
    *response.add_id_tokens() = it->second;
  }
  return response;
}

}  // namespace evnet
