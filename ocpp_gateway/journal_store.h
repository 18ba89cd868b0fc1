// Every OCPP charger's journal (charger.h), shared by all the gateways of a
// network through the compacted topic evnet.ocpp.chargers: read whole when
// a gateway starts and followed while it runs, so that a charger that
// reconnects to another gateway mid-session (a load balancer, a gateway
// killed) is served from its latest state. The highest revision wins.
//
// Threading: Latest and Save may be called from any thread; a thread of
// its own follows the topic.
#ifndef EVNET_OCPP_GATEWAY_JOURNAL_STORE_H_
#define EVNET_OCPP_GATEWAY_JOURNAL_STORE_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/kafka/kafka_follower.h"
#include "common/kafka/kafka_producer.h"
#include "evnet/v1/gateway.pb.h"

namespace evnet::ocpp {

class JournalStore {
 public:
  // Reads the topic to its end (at most `timeout`), then follows it.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<JournalStore>> Start(
      const std::string& bootstrap_servers, KafkaProducer& producer, absl::Duration timeout);

  // The latest journal of `charge_box_id` any gateway saved; nullopt if none.
  std::optional<v1::OcppChargerJournal> Latest(const std::string& charge_box_id) const;
  // The ids of every journal whose id begins with `prefix`.
  std::vector<std::string> IdsStartingWith(absl::string_view prefix) const;
  // Its revision; 0 if none.
  int64_t LatestRevision(const std::string& charge_box_id) const;
  // Records `journal` here at once and in Kafka; `done` (on the producer's
  // thread) says when Kafka has it.
  void Save(const v1::OcppChargerJournal& journal, DeliveryCallback done);

 private:
  explicit JournalStore(KafkaProducer& producer) : producer_(producer) {}
  void Take(const std::string& json);

  KafkaProducer& producer_;
  mutable absl::Mutex mu_;
  std::map<std::string, v1::OcppChargerJournal> latest_ ABSL_GUARDED_BY(mu_);
  // Last: it stops (and takes nothing more) before what it fills goes.
  std::unique_ptr<KafkaFollower> follower_;
};

}  // namespace evnet::ocpp

#endif  // EVNET_OCPP_GATEWAY_JOURNAL_STORE_H_
