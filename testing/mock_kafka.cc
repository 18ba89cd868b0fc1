#include "testing/mock_kafka.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "librdkafka/rdkafka.h"
#include "librdkafka/rdkafka_mock.h"

namespace evnet::test {
namespace {

// Opens and closes a connection to the mock broker at `bootstrap`
// ("127.0.0.1:port"), which wakes the cluster's thread.
void Knock(const std::string& bootstrap) {
  const size_t colon = bootstrap.rfind(':');
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(std::atoi(bootstrap.c_str() + colon + 1)));
  if (inet_pton(AF_INET, bootstrap.substr(0, colon).c_str(), &address.sin_addr) != 1) return;
  // Never blocks: a listener whose backlog is full (its cluster stopping)
  // is simply not knocked at this time.
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) return;
  connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  close(fd);
}

}  // namespace

MockKafkaCluster::MockKafkaCluster(const std::vector<std::pair<std::string, int>>& topics) {
  char error[256];
  rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), error, sizeof(error));
  cluster_ = rd_kafka_mock_cluster_new(rk_, 1);
  Command([&] {
    for (const auto& [topic, partitions] : topics) {
      rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, 1);
    }
  });
}

MockKafkaCluster::~MockKafkaCluster() {
  Command([this] { rd_kafka_mock_cluster_destroy(cluster_); });
  rd_kafka_destroy(rk_);
}

void MockKafkaCluster::Command(const std::function<void()>& command) {
  // A command waits for the cluster's thread to take it, which that thread
  // does when it next wakes: on network I/O, or its next timer, up to a
  // second later (it is not woken by the command itself). Connections to
  // the broker wake it until the command is done; not when the broker is
  // down (SetBrokerDown), which then still takes up to a second.
  const std::string address = bootstrap();  // before the command, which may end the cluster
  absl::Notification done;
  std::thread knocking([&] {
    do {
      Knock(address);
    } while (!done.WaitForNotificationWithTimeout(absl::Milliseconds(2)));
  });
  command();
  done.Notify();
  knocking.join();
}

std::string MockKafkaCluster::bootstrap() const {
  return rd_kafka_mock_cluster_bootstraps(cluster_);
}

void MockKafkaCluster::SetBrokerDown() {
  Command([this] { rd_kafka_mock_broker_set_down(cluster_, 1); });
}

void MockKafkaCluster::RefuseNextProducerId() {
  constexpr int16_t kInitProducerId = 22;  // Kafka's API key
  Command([this] {
    rd_kafka_mock_push_request_errors(cluster_, kInitProducerId, 1,
                                      RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED);
  });
}

}  // namespace evnet::test
