#include "testing/mock_kafka.h"

#include <cstdint>
#include <thread>

#include "librdkafka/rdkafka.h"
#include "librdkafka/rdkafka_mock.h"

namespace evnet::test {

MockKafkaCluster::MockKafkaCluster(const std::vector<std::pair<std::string, int>>& topics) {
  char error[256];
  rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), error, sizeof(error));
  cluster_ = rd_kafka_mock_cluster_new(rk_, 1);
  // Each creation waits for the cluster's thread to take it, which it does
  // on its next wake-up (a quarter of a second apart): asked all at once,
  // they are taken together.
  std::vector<std::thread> creating;
  for (const auto& [topic, partitions] : topics) {
    creating.emplace_back([this, topic = topic, partitions = partitions] {
      rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, 1);
    });
  }
  for (std::thread& t : creating) t.join();
}

MockKafkaCluster::~MockKafkaCluster() {
  rd_kafka_mock_cluster_destroy(cluster_);
  rd_kafka_destroy(rk_);
}

std::string MockKafkaCluster::bootstrap() const {
  return rd_kafka_mock_cluster_bootstraps(cluster_);
}

void MockKafkaCluster::SetBrokerDown() { rd_kafka_mock_broker_set_down(cluster_, 1); }

void MockKafkaCluster::RefuseNextProducerId() {
  constexpr int16_t kInitProducerId = 22;  // Kafka's API key
  rd_kafka_mock_push_request_errors(cluster_, kInitProducerId, 1,
                                    RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED);
}

}  // namespace evnet::test
