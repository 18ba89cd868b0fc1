// What evnet's Kafka producer, consumer and reader share: the message type,
// building a librdkafka configuration with clear errors, turning librdkafka error codes into
// absl::Status, and one event callback that says in one line when the broker
// cannot be reached instead of a stack of transport errors.
#ifndef EVNET_COMMON_KAFKA_CONF_H_
#define EVNET_COMMON_KAFKA_CONF_H_

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "librdkafka/rdkafka.h"
#include "librdkafka/rdkafkacpp.h"

namespace evnet {

using KafkaProperties = std::map<std::string, std::string>;

struct KafkaMessage {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  std::string value;
  absl::Time timestamp;  // the producer's create time
};

struct KafkaTopicPartition {
  std::string topic;
  int32_t partition = 0;
  // For KafkaReader: start at the first message produced at or after this
  // time (InfinitePast: the partition's start; InfiniteFuture: its end)...
  absl::Time since = absl::InfinitePast();
  // ...or at this offset when it is not negative (one the reader's Position
  // gave before; the partition's first kept one if it has been deleted since).
  int64_t offset = -1;
};

// A consumed message, copied out of librdkafka's buffers (the C++ API's
// through RdKafka::Message::c_ptr()).
KafkaMessage ToKafkaMessage(const rd_kafka_message_t& m);

// Owns the TopicPartition pointers librdkafka's C++ API hands around.
class TopicPartitions {
 public:
  TopicPartitions() = default;
  TopicPartitions(const TopicPartitions&) = delete;
  TopicPartitions& operator=(const TopicPartitions&) = delete;
  ~TopicPartitions() { RdKafka::TopicPartition::destroy(list_); }
  void Add(const std::string& topic, int32_t partition, int64_t offset) {
    list_.push_back(RdKafka::TopicPartition::create(topic, partition, offset));
  }
  std::vector<RdKafka::TopicPartition*>& list() { return list_; }

 private:
  std::vector<RdKafka::TopicPartition*> list_;
};

// An absl::Status for a librdkafka error; OK for ERR_NO_ERROR.
absl::Status KafkaStatus(RdKafka::ErrorCode code, absl::string_view context);

// Logs librdkafka's events through glog. Broker-down errors are folded into
// one line per `quiet_period`, naming the bootstrap servers and what to do.
class KafkaEventLogger : public RdKafka::EventCb {
 public:
  explicit KafkaEventLogger(std::string bootstrap_servers,
                            absl::Duration quiet_period = absl::Seconds(30))
      : bootstrap_servers_(std::move(bootstrap_servers)),
        quiet_period_(quiet_period) {}

  void event_cb(RdKafka::Event& event) override;

 private:
  const std::string bootstrap_servers_;
  const absl::Duration quiet_period_;
  absl::Mutex mu_;
  absl::Time last_unreachable_log_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

// librdkafka asks a broker where a topic's partitions are when the topic is
// opened by a handle, but a message produced to a topic only by its name
// waits for librdkafka's topic scan, which runs once a second: the first
// message of each topic, e.g. central's first decision after a start or an
// engine's first result, was held up to a second. Ask(p, topic) before each
// produce opens the topic the first time a producer names it, so that its
// lookup is sent at once. Thread-safe; it forgets what it asked when given
// another producer (a replacement for one that failed for good).
class KafkaTopicLookups {
 public:
  void Ask(RdKafka::Handle& producer, const std::string& topic);

 private:
  absl::Mutex mu_;
  const RdKafka::Handle* asked_of_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::set<std::string, std::less<>> asked_ ABSL_GUARDED_BY(mu_);
};

// How this process's Kafka clients prove who they are to a broker that
// requires it (tools/kafka/broker --tls): TLS with the network's CA and the
// program's own certificate, the same files as its gRPC identity; the broker
// authorizes by the certificate's role (OU). Empty files: PLAINTEXT.
// librdkafka reads them when a client is made, so a renewed certificate is
// used by the clients made after it.
struct KafkaTls {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
};
// Set once by main (or a test's network) before its first Kafka client;
// every client made afterwards uses it.
void SetKafkaTls(KafkaTls tls);
KafkaTls CurrentKafkaTls();
// What main calls with the program's own files (empty when it runs
// --insecure): TLS with them, unless --kafka_plaintext asks for a broker
// without TLS, which is logged as a warning naming `who`.
void ConfigureKafkaTls(KafkaTls files, const std::string& who);

// What every evnet Kafka client sets: where the brokers are, its name, quiet
// reconnects, finding a restarted broker again within a second, and TLS
// when SetKafkaTls was given files.
KafkaProperties KafkaClientProperties(const std::string& bootstrap_servers,
                                      const std::string& client_id);

// One client's configuration, and the event logger it reports to (which
// must outlive the client made from it).
struct KafkaClientConf {
  std::unique_ptr<KafkaEventLogger> event_logger;
  std::unique_ptr<RdKafka::Conf> conf;
};

// The configuration of one client: what every evnet client sets
// (KafkaClientProperties), then `kind`, what its kind of client sets, then
// the caller's `overrides`. INVALID_ARGUMENT when the bootstrap servers are
// empty or librdkafka refuses a property (naming it).
absl::StatusOr<KafkaClientConf> MakeKafkaClientConf(const std::string& bootstrap_servers,
                                                    const std::string& client_id,
                                                    const KafkaProperties& kind,
                                                    const KafkaProperties& overrides);

}  // namespace evnet

#endif  // EVNET_COMMON_KAFKA_CONF_H_
