// Drivers' id tokens as the gateways follow them (central's compacted topic
// evnet.id.tokens), for the chargers' local authorization lists (OCPP 1.6's
// SendLocalList): the cards a charger admits by itself, offline included.
// Such a transaction is judged by central all the same once the charger
// sends it (charger.h), so the list decides nothing that is billed.
//
// The list's version is the time of its latest change, in seconds (OCPP's
// listVersion is an integer); a charger at version v is brought up to date
// with the tokens changed at v or later.
//
// Threading: Take, Version and ChangedSince may be called from any thread;
// a thread of its own follows the topic (Follow).
#ifndef EVNET_OCPP_GATEWAY_LOCAL_LIST_H_
#define EVNET_OCPP_GATEWAY_LOCAL_LIST_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/kafka/kafka_follower.h"
#include "evnet/v1/central.pb.h"

namespace evnet::ocpp {

class LocalList {
 public:
  LocalList() = default;
  LocalList(const LocalList&) = delete;
  LocalList& operator=(const LocalList&) = delete;

  // Reads the topic to its end (at most `timeout`), then follows it.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<LocalList>> Follow(
      const std::string& bootstrap_servers, absl::Duration timeout);

  // A token as central wrote it (the latest of its id tag wins).
  void Take(const v1::IdToken& token);
  // 0 while it holds no token.
  int32_t Version() const;
  // The tokens changed at `since` or later (every token: 0), by id tag.
  std::vector<v1::IdToken> ChangedSince(int32_t since) const;

 private:
  void TakeJson(const std::string& json);

  mutable absl::Mutex mu_;
  std::map<std::string, v1::IdToken> by_tag_ ABSL_GUARDED_BY(mu_);  // upper-case id tag
  int32_t version_ ABSL_GUARDED_BY(mu_) = 0;
  // Last: it stops (and takes nothing more) before what it fills goes.
  std::unique_ptr<KafkaFollower> follower_;
};

}  // namespace evnet::ocpp

#endif  // EVNET_OCPP_GATEWAY_LOCAL_LIST_H_
