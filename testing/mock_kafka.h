// librdkafka's in-process mock cluster, for unit tests of Kafka code: one
// broker, the topics named, torn down with the object. Never for claims
// about durability or recovery (those run on the real broker).
#ifndef EVNET_TESTING_MOCK_KAFKA_H_
#define EVNET_TESTING_MOCK_KAFKA_H_

#include <functional>
#include <string>
#include <utility>
#include <vector>

typedef struct rd_kafka_s rd_kafka_t;
typedef struct rd_kafka_mock_cluster_s rd_kafka_mock_cluster_t;

namespace evnet::test {

class MockKafkaCluster {
 public:
  // Each topic with its number of partitions.
  explicit MockKafkaCluster(const std::vector<std::pair<std::string, int>>& topics);
  ~MockKafkaCluster();
  MockKafkaCluster(const MockKafkaCluster&) = delete;
  MockKafkaCluster& operator=(const MockKafkaCluster&) = delete;

  std::string bootstrap() const;
  void SetBrokerDown();
  // The next producer asking for an idempotence id is refused, as a broker
  // with an authorizer refuses a client before central granted its ACLs.
  void RefuseNextProducerId();

 private:
  // Runs `command`, a call into the cluster that waits for its thread.
  void Command(const std::function<void()>& command);

  rd_kafka_t* rk_;
  rd_kafka_mock_cluster_t* cluster_;
};

}  // namespace evnet::test

#endif  // EVNET_TESTING_MOCK_KAFKA_H_
