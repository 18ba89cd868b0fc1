#include "ocpp_gateway/local_list.h"

#include <algorithm>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/json_codec.h"
#include "common/kafka/topics.h"
#include "glog/logging.h"

namespace evnet::ocpp {

absl::StatusOr<std::unique_ptr<LocalList>> LocalList::Follow(const std::string& bootstrap_servers,
                                                             absl::Duration timeout) {
  KafkaReaderOptions options;
  options.bootstrap_servers = bootstrap_servers;
  options.client_id = "ocpp-gateway-tokens";
  options.partitions = {{kIdTokensTopic, 0}};
  auto list = std::make_unique<LocalList>();
  absl::StatusOr<std::unique_ptr<KafkaFollower>> follower = KafkaFollower::Start(
      options, timeout, [l = list.get()](const KafkaMessage& m) { l->TakeJson(m.value); });
  if (absl::IsUnavailable(follower.status())) {
    return absl::UnavailableError(absl::StrCat(follower.status().message(), " (central creates ",
                                               kIdTokensTopic, ")"));
  }
  if (!follower.ok()) return follower.status();
  list->follower_ = *std::move(follower);
  return list;
}

void LocalList::TakeJson(const std::string& json) {
  absl::StatusOr<v1::IdToken> token = FromJson<v1::IdToken>(json);
  if (!token.ok() || token->id_tag().empty()) {
    LOG(WARNING) << "OCPP | A record of " << kIdTokensTopic << " is not an id token; ignored";
    return;
  }
  Take(*token);
}

void LocalList::Take(const v1::IdToken& token) {
  const int64_t seconds = std::clamp<int64_t>(token.changed_at().seconds(), 1,
                                              std::numeric_limits<int32_t>::max());
  absl::MutexLock lock(&mu_);
  by_tag_[absl::AsciiStrToUpper(token.id_tag())] = token;
  version_ = std::max<int32_t>(version_, static_cast<int32_t>(seconds));
}

int32_t LocalList::Version() const {
  absl::MutexLock lock(&mu_);
  return version_;
}

std::vector<v1::IdToken> LocalList::ChangedSince(int32_t since) const {
  std::vector<v1::IdToken> changed;
  absl::MutexLock lock(&mu_);
  for (const auto& [tag, token] : by_tag_) {
    if (token.changed_at().seconds() >= since) changed.push_back(token);
  }
  return changed;
}

}  // namespace evnet::ocpp
