// Topic administration for evnet's programs: create the topics a program
// uses if they are missing (idempotent), grant the network's permissions
// where the broker authorizes, and list a topic's partitions for
// consumers that read them directly (no group rebalance to wait for after a
// restart).
#ifndef EVNET_COMMON_KAFKA_ADMIN_H_
#define EVNET_COMMON_KAFKA_ADMIN_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/kafka/kafka_consumer.h"

struct rd_kafka_s;

namespace evnet {

// Destroys a librdkafka client handle; for std::unique_ptr.
struct KafkaHandleDeleter {
  void operator()(rd_kafka_s* rk) const;
};

struct KafkaTopicSpec {
  std::string name;
  int partitions = 1;
  bool compacted = false;
  // Records older than this are deleted (Kafka's retention.ms); 0 keeps the
  // broker's default.
  absl::Duration retention = absl::ZeroDuration();
};

// One permission a broker with an authorizer grants: `principal` (a
// certificate's role or a driver's name, as tools/kafka/broker maps it; "*"
// for everyone) may read, write or describe the topic or consumer group `name` (or
// every one starting with it); or, kDeny, may not, whatever else allows it.
struct KafkaAcl {
  enum Resource { kTopic, kGroup };
  enum Operation { kRead, kWrite, kDescribe };
  enum Permission { kAllow, kDeny };
  Resource resource = kTopic;
  std::string name;
  bool prefixed = false;
  std::string principal;
  Operation operation = kRead;
  Permission permission = kAllow;
};

class KafkaAdmin {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<KafkaAdmin>> Create(
      const std::string& bootstrap_servers);
  KafkaAdmin(const KafkaAdmin&) = delete;
  KafkaAdmin& operator=(const KafkaAdmin&) = delete;

  // Creates the topics that do not exist yet; existing ones are left as they are.
  [[nodiscard]] absl::Status EnsureTopics(const std::vector<KafkaTopicSpec>& topics,
                                          absl::Duration timeout);

  // Grants each permission (granting one twice is harmless). A broker without
  // an authorizer answers FAILED_PRECONDITION.
  [[nodiscard]] absl::Status EnsureAcls(const std::vector<KafkaAcl>& acls, absl::Duration timeout);
  // Takes back each permission that was granted (none is harmless).
  [[nodiscard]] absl::Status RevokeAcls(const std::vector<KafkaAcl>& acls, absl::Duration timeout);

  // Every partition of each topic, in the order named, from one request;
  // NOT_FOUND naming the first topic that does not exist (or that this
  // client may not see).
  [[nodiscard]] absl::StatusOr<std::vector<KafkaTopicPartition>> Partitions(
      const std::vector<std::string>& topics, absl::Duration timeout);

 private:
  KafkaAdmin(std::unique_ptr<rd_kafka_s, KafkaHandleDeleter> rk, std::string bootstrap)
      : rk_(std::move(rk)), bootstrap_servers_(std::move(bootstrap)) {}

  std::unique_ptr<rd_kafka_s, KafkaHandleDeleter> rk_;
  const std::string bootstrap_servers_;
};

}  // namespace evnet

#endif  // EVNET_COMMON_KAFKA_ADMIN_H_
