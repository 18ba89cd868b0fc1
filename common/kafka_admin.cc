#include "common/kafka_admin.h"

#include "absl/strings/str_cat.h"
#include "librdkafka/rdkafka.h"

namespace evnet {
namespace {

int Millis(absl::Duration d) { return static_cast<int>(absl::ToInt64Milliseconds(d)); }

absl::Status Unreachable(const std::string& bootstrap, const char* what, const char* why) {
  return absl::UnavailableError(absl::StrCat(what, " at ", bootstrap, " failed: ", why,
                                             " (is Kafka running? `tools/ev kafka start`)"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<KafkaAdmin>> KafkaAdmin::Create(
    const std::string& bootstrap_servers) {
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap_servers.c_str(), error,
                        sizeof(error)) != RD_KAFKA_CONF_OK ||
      rd_kafka_conf_set(conf, "log_level", "3", error, sizeof(error)) != RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    return absl::InvalidArgumentError(absl::StrCat("Kafka admin: ", error));
  }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
  if (rk == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("Kafka admin: ", error));
  }
  return std::unique_ptr<KafkaAdmin>(new KafkaAdmin(rk, bootstrap_servers));
}

KafkaAdmin::~KafkaAdmin() { rd_kafka_destroy(rk_); }

absl::Status KafkaAdmin::EnsureTopics(const std::vector<KafkaTopicSpec>& topics,
                                      absl::Duration timeout) {
  char error[512];
  std::vector<rd_kafka_NewTopic_t*> new_topics;
  for (const KafkaTopicSpec& spec : topics) {
    rd_kafka_NewTopic_t* topic =
        rd_kafka_NewTopic_new(spec.name.c_str(), spec.partitions, 1, error, sizeof(error));
    if (topic == nullptr) {
      rd_kafka_NewTopic_destroy_array(new_topics.data(), new_topics.size());
      return absl::InvalidArgumentError(absl::StrCat("topic ", spec.name, ": ", error));
    }
    if (spec.compacted) rd_kafka_NewTopic_set_config(topic, "cleanup.policy", "compact");
    if (spec.retention > absl::ZeroDuration()) {
      const std::string ms = std::to_string(absl::ToInt64Milliseconds(spec.retention));
      rd_kafka_NewTopic_set_config(topic, "retention.ms", ms.c_str());
      // Segments roll often enough for retention to delete what expired.
      const std::string segment = std::to_string(absl::ToInt64Milliseconds(spec.retention) / 4);
      rd_kafka_NewTopic_set_config(topic, "segment.ms", segment.c_str());
    }
    new_topics.push_back(topic);
  }
  rd_kafka_AdminOptions_t* options =
      rd_kafka_AdminOptions_new(rk_, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_request_timeout(options, Millis(timeout), error, sizeof(error));
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk_);
  rd_kafka_CreateTopics(rk_, new_topics.data(), new_topics.size(), options, queue);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, Millis(timeout) + 1000);

  absl::Status status;
  if (event == nullptr) {
    status = Unreachable(bootstrap_servers_, "creating topics", "no answer");
  } else if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    status = Unreachable(bootstrap_servers_, "creating topics",
                         rd_kafka_event_error_string(event));
  } else {
    size_t count = 0;
    const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(
        rd_kafka_event_CreateTopics_result(event), &count);
    for (size_t i = 0; i < count && status.ok(); ++i) {
      rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        status = absl::UnavailableError(absl::StrCat(
            "creating topic ", rd_kafka_topic_result_name(results[i]), ": ",
            rd_kafka_topic_result_error_string(results[i])));
      }
    }
  }
  if (event != nullptr) rd_kafka_event_destroy(event);
  rd_kafka_queue_destroy(queue);
  rd_kafka_AdminOptions_destroy(options);
  rd_kafka_NewTopic_destroy_array(new_topics.data(), new_topics.size());
  return status;
}

absl::StatusOr<std::vector<KafkaTopicPartition>> KafkaAdmin::Partitions(
    const std::vector<std::string>& topics, absl::Duration timeout) {
  std::vector<KafkaTopicPartition> out;
  for (const std::string& name : topics) {
    rd_kafka_topic_t* topic = rd_kafka_topic_new(rk_, name.c_str(), nullptr);
    const rd_kafka_metadata_t* metadata = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk_, 0, topic, &metadata, Millis(timeout));
    rd_kafka_topic_destroy(topic);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Unreachable(bootstrap_servers_, "reading metadata", rd_kafka_err2str(err));
    }
    absl::Status status;
    if (metadata->topic_cnt != 1 || metadata->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR ||
        metadata->topics[0].partition_cnt == 0) {
      status = absl::NotFoundError(absl::StrCat("Kafka topic ", name, " does not exist"));
    } else {
      for (int p = 0; p < metadata->topics[0].partition_cnt; ++p) {
        out.push_back({name, metadata->topics[0].partitions[p].id});
      }
    }
    rd_kafka_metadata_destroy(metadata);
    if (!status.ok()) return status;
  }
  return out;
}

}  // namespace evnet
