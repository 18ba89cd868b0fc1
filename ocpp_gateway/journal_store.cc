#include "ocpp_gateway/journal_store.h"

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/json_codec.h"
#include "common/kafka/topics.h"
#include "glog/logging.h"

namespace evnet::ocpp {

absl::StatusOr<std::unique_ptr<JournalStore>> JournalStore::Start(
    const std::string& bootstrap_servers, KafkaProducer& producer, absl::Duration timeout) {
  KafkaReaderOptions options;
  options.bootstrap_servers = bootstrap_servers;
  options.client_id = "ocpp-gateway-journals";
  options.partitions = {{kOcppChargersTopic, 0}};
  std::unique_ptr<JournalStore> store(new JournalStore(producer));
  absl::StatusOr<std::unique_ptr<KafkaFollower>> follower = KafkaFollower::Start(
      options, timeout, [s = store.get()](const KafkaMessage& m) { s->Take(m.value); });
  if (absl::IsUnavailable(follower.status())) {
    return absl::UnavailableError(absl::StrCat(follower.status().message(), " (central creates ",
                                               kOcppChargersTopic, ")"));
  }
  if (!follower.ok()) return follower.status();
  store->follower_ = *std::move(follower);
  return store;
}

void JournalStore::Take(const std::string& json) {
  absl::StatusOr<v1::OcppChargerJournal> journal = FromJson<v1::OcppChargerJournal>(json);
  if (!journal.ok() || journal->charge_box_id().empty()) {
    LOG(WARNING) << "OCPP | A record of " << kOcppChargersTopic << " is not a journal; ignored";
    return;
  }
  absl::MutexLock lock(&mu_);
  v1::OcppChargerJournal& latest = latest_[journal->charge_box_id()];
  if (journal->revision() >= latest.revision()) latest = *std::move(journal);
}

std::optional<v1::OcppChargerJournal> JournalStore::Latest(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  auto it = latest_.find(id);
  if (it == latest_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> JournalStore::IdsStartingWith(absl::string_view prefix) const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> ids;
  for (auto it = latest_.lower_bound(std::string(prefix));
       it != latest_.end() && absl::StartsWith(it->first, prefix); ++it) {
    ids.push_back(it->first);
  }
  return ids;
}

int64_t JournalStore::LatestRevision(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  auto it = latest_.find(id);
  return it == latest_.end() ? 0 : it->second.revision();
}

void JournalStore::Save(const v1::OcppChargerJournal& journal, DeliveryCallback done) {
  const std::string json = ToJson(journal);
  Take(json);
  absl::Status queued = producer_.Produce(kOcppChargersTopic, journal.charge_box_id(), json, done);
  if (!queued.ok()) done(queued);
}

}  // namespace evnet::ocpp
