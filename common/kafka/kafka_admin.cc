#include "common/kafka/kafka_admin.h"

#include <functional>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/kafka/kafka_conf.h"
#include "librdkafka/rdkafka.h"

namespace evnet {
namespace {

int Millis(absl::Duration d) { return static_cast<int>(absl::ToInt64Milliseconds(d)); }

// Owners of the librdkafka objects an admin request uses, so that every
// path out of a function frees them.
template <typename T, void (*Destroy)(T*)>
struct Deleter {
  void operator()(T* p) const {
    if (p != nullptr) Destroy(p);
  }
};
using Conf = std::unique_ptr<rd_kafka_conf_t, Deleter<rd_kafka_conf_t, rd_kafka_conf_destroy>>;
using Queue = std::unique_ptr<rd_kafka_queue_t, Deleter<rd_kafka_queue_t, rd_kafka_queue_destroy>>;
using Event = std::unique_ptr<rd_kafka_event_t, Deleter<rd_kafka_event_t, rd_kafka_event_destroy>>;
using Options = std::unique_ptr<rd_kafka_AdminOptions_t,
                                Deleter<rd_kafka_AdminOptions_t, rd_kafka_AdminOptions_destroy>>;
void DestroyMetadata(const rd_kafka_metadata_t* m) { rd_kafka_metadata_destroy(m); }
using Metadata = std::unique_ptr<const rd_kafka_metadata_t,
                                 Deleter<const rd_kafka_metadata_t, DestroyMetadata>>;
// New topics and ACL bindings are handed to librdkafka as an array; each
// element is ours to free.
template <typename T, void (*DestroyArray)(T**, size_t)>
struct OwnedArray {
  OwnedArray() = default;
  OwnedArray(const OwnedArray&) = delete;
  OwnedArray& operator=(const OwnedArray&) = delete;
  ~OwnedArray() { DestroyArray(list.data(), list.size()); }
  std::vector<T*> list;
};
using NewTopics = OwnedArray<rd_kafka_NewTopic_t, rd_kafka_NewTopic_destroy_array>;
using AclBindings = OwnedArray<rd_kafka_AclBinding_t, rd_kafka_AclBinding_destroy_array>;

absl::Status Unreachable(const std::string& bootstrap, const char* what, const char* why) {
  return absl::UnavailableError(absl::StrCat(what, " at ", bootstrap, " failed: ", why,
                                             " (is Kafka running? `tools/ev kafka start`)"));
}

// Sends one admin request of kind `op` (`send` hands it to librdkafka with
// the options and the queue) and waits for the answer: its event, or
// UNAVAILABLE saying `what` failed.
absl::StatusOr<Event> Ask(rd_kafka_t* rk, rd_kafka_admin_op_t op, const std::string& bootstrap,
                          const char* what, absl::Duration timeout,
                          const std::function<void(rd_kafka_AdminOptions_t*, rd_kafka_queue_t*)>& send) {
  char error[512];
  Options options(rd_kafka_AdminOptions_new(rk, op));
  rd_kafka_AdminOptions_set_request_timeout(options.get(), Millis(timeout), error, sizeof(error));
  Queue queue(rd_kafka_queue_new(rk));
  send(options.get(), queue.get());
  Event event(rd_kafka_queue_poll(queue.get(), Millis(timeout) + 1000));
  if (event == nullptr) return Unreachable(bootstrap, what, "no answer");
  if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Unreachable(bootstrap, what, rd_kafka_event_error_string(event.get()));
  }
  return event;
}

}  // namespace

void KafkaHandleDeleter::operator()(rd_kafka_s* rk) const {
  if (rk != nullptr) rd_kafka_destroy(rk);
}

absl::StatusOr<std::unique_ptr<KafkaAdmin>> KafkaAdmin::Create(
    const std::string& bootstrap_servers) {
  char error[512];
  Conf conf(rd_kafka_conf_new());
  KafkaProperties properties = KafkaClientProperties(bootstrap_servers, "evnet-admin");
  properties["log_level"] = "3";
  // Topics are made only by EnsureTopics, with their partitions: a lookup
  // never makes one with the broker's defaults.
  properties["allow.auto.create.topics"] = "false";
  for (const auto& [name, value] : properties) {
    if (rd_kafka_conf_set(conf.get(), name.c_str(), value.c_str(), error, sizeof(error)) !=
        RD_KAFKA_CONF_OK) {
      return absl::InvalidArgumentError(absl::StrCat("Kafka admin: ", name, ": ", error));
    }
  }
  std::unique_ptr<rd_kafka_t, KafkaHandleDeleter> rk(
      rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), error, sizeof(error)));
  if (rk == nullptr) return absl::InvalidArgumentError(absl::StrCat("Kafka admin: ", error));
  conf.release();  // rd_kafka_new took it
  return std::unique_ptr<KafkaAdmin>(new KafkaAdmin(std::move(rk), bootstrap_servers));
}

absl::Status KafkaAdmin::EnsureTopics(const std::vector<KafkaTopicSpec>& topics,
                                      absl::Duration timeout) {
  // Only what is missing is asked for: where the broker authorizes, only
  // central may create topics, and the others find them made.
  std::set<std::string> existing;
  {
    const rd_kafka_metadata_t* raw = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk_.get(), 1, nullptr, &raw, Millis(timeout));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Unreachable(bootstrap_servers_, "reading metadata", rd_kafka_err2str(err));
    }
    Metadata metadata(raw);
    for (int i = 0; i < metadata->topic_cnt; ++i) {
      if (metadata->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        existing.insert(metadata->topics[i].topic);
      }
    }
  }
  char error[512];
  NewTopics new_topics;
  for (const KafkaTopicSpec& spec : topics) {
    if (existing.count(spec.name) > 0) continue;
    rd_kafka_NewTopic_t* topic =
        rd_kafka_NewTopic_new(spec.name.c_str(), spec.partitions, 1, error, sizeof(error));
    if (topic == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("topic ", spec.name, ": ", error));
    }
    new_topics.list.push_back(topic);
    if (spec.compacted) rd_kafka_NewTopic_set_config(topic, "cleanup.policy", "compact");
    if (spec.retention > absl::ZeroDuration()) {
      const std::string ms = std::to_string(absl::ToInt64Milliseconds(spec.retention));
      rd_kafka_NewTopic_set_config(topic, "retention.ms", ms.c_str());
      // Segments roll often enough for retention to delete what expired.
      const std::string segment = std::to_string(absl::ToInt64Milliseconds(spec.retention) / 4);
      rd_kafka_NewTopic_set_config(topic, "segment.ms", segment.c_str());
    }
  }
  if (new_topics.list.empty()) return absl::OkStatus();
  absl::StatusOr<Event> event =
      Ask(rk_.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS, bootstrap_servers_, "creating topics", timeout,
          [&](rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* queue) {
            rd_kafka_CreateTopics(rk_.get(), new_topics.list.data(), new_topics.list.size(),
                                  options, queue);
          });
  if (!event.ok()) return event.status();
  size_t count = 0;
  const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(
      rd_kafka_event_CreateTopics_result(event->get()), &count);
  for (size_t i = 0; i < count; ++i) {
    rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
    if (err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
        err == RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED) {
      return absl::PermissionDeniedError(absl::StrCat(
          "topic ", rd_kafka_topic_result_name(results[i]),
          " is missing and this program may not create it: start central first, which does"));
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
      return absl::UnavailableError(absl::StrCat("creating topic ",
                                                 rd_kafka_topic_result_name(results[i]), ": ",
                                                 rd_kafka_topic_result_error_string(results[i])));
    }
  }
  return absl::OkStatus();
}

namespace {

// librdkafka's binding (or, the same type, filter matching exactly) of each.
absl::Status ToBindings(const std::vector<KafkaAcl>& acls, AclBindings& bindings) {
  char error[512];
  for (const KafkaAcl& acl : acls) {
    rd_kafka_AclBinding_t* binding = rd_kafka_AclBinding_new(
        acl.resource == KafkaAcl::kTopic ? RD_KAFKA_RESOURCE_TOPIC : RD_KAFKA_RESOURCE_GROUP,
        acl.name.c_str(),
        acl.prefixed ? RD_KAFKA_RESOURCE_PATTERN_PREFIXED : RD_KAFKA_RESOURCE_PATTERN_LITERAL,
        absl::StrCat("User:", acl.principal).c_str(), "*",
        acl.operation == KafkaAcl::kRead    ? RD_KAFKA_ACL_OPERATION_READ
        : acl.operation == KafkaAcl::kWrite ? RD_KAFKA_ACL_OPERATION_WRITE
                                            : RD_KAFKA_ACL_OPERATION_DESCRIBE,
        acl.permission == KafkaAcl::kAllow ? RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW
                                           : RD_KAFKA_ACL_PERMISSION_TYPE_DENY,
        error, sizeof(error));
    if (binding == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("Kafka ACL on ", acl.name, ": ", error));
    }
    bindings.list.push_back(binding);
  }
  return absl::OkStatus();
}

// An ACL call's error, FAILED_PRECONDITION when the broker authorizes nothing.
absl::Status AclError(const rd_kafka_error_t* err, absl::string_view doing,
                      const std::string& bootstrap_servers) {
  if (err == nullptr) return absl::OkStatus();
  const std::string why = rd_kafka_error_string(err);
  if (rd_kafka_error_code(err) == RD_KAFKA_RESP_ERR_SECURITY_DISABLED) {
    return absl::FailedPreconditionError(
        absl::StrCat("the broker at ", bootstrap_servers, " has no authorizer: ", why));
  }
  return absl::PermissionDeniedError(absl::StrCat(doing, ": ", why));
}

}  // namespace

absl::Status KafkaAdmin::RevokeAcls(const std::vector<KafkaAcl>& acls, absl::Duration timeout) {
  AclBindings filters;
  if (absl::Status made = ToBindings(acls, filters); !made.ok()) return made;
  if (filters.list.empty()) return absl::OkStatus();
  absl::StatusOr<Event> event =
      Ask(rk_.get(), RD_KAFKA_ADMIN_OP_DELETEACLS, bootstrap_servers_, "deleting ACLs", timeout,
          [&](rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* queue) {
            rd_kafka_DeleteAcls(rk_.get(), filters.list.data(), filters.list.size(), options,
                                queue);
          });
  if (!event.ok()) return event.status();
  size_t count = 0;
  const rd_kafka_DeleteAcls_result_response_t** responses =
      rd_kafka_DeleteAcls_result_responses(rd_kafka_event_DeleteAcls_result(event->get()), &count);
  for (size_t i = 0; i < count; ++i) {
    absl::Status revoked = AclError(rd_kafka_DeleteAcls_result_response_error(responses[i]),
                                    "deleting a Kafka ACL", bootstrap_servers_);
    if (!revoked.ok()) return revoked;
  }
  return absl::OkStatus();
}

absl::Status KafkaAdmin::EnsureAcls(const std::vector<KafkaAcl>& acls, absl::Duration timeout) {
  AclBindings bindings;
  if (absl::Status made = ToBindings(acls, bindings); !made.ok()) return made;
  if (bindings.list.empty()) return absl::OkStatus();
  absl::StatusOr<Event> event =
      Ask(rk_.get(), RD_KAFKA_ADMIN_OP_CREATEACLS, bootstrap_servers_, "creating ACLs", timeout,
          [&](rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* queue) {
            rd_kafka_CreateAcls(rk_.get(), bindings.list.data(), bindings.list.size(), options,
                                queue);
          });
  if (!event.ok()) return event.status();
  size_t count = 0;
  const rd_kafka_acl_result_t** results =
      rd_kafka_CreateAcls_result_acls(rd_kafka_event_CreateAcls_result(event->get()), &count);
  for (size_t i = 0; i < count; ++i) {
    absl::Status created =
        AclError(rd_kafka_acl_result_error(results[i]), "creating a Kafka ACL", bootstrap_servers_);
    if (!created.ok()) return created;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<KafkaTopicPartition>> KafkaAdmin::Partitions(
    const std::vector<std::string>& topics, absl::Duration timeout) {
  // One request for every topic the client may see: asked one by one, each
  // topic costs a round trip. A request naming topics could also make the
  // missing ones with the broker's defaults (librdkafka asks a broker to
  // when the topics are in its cache); one for all topics never does. On a
  // cluster shared with thousands of other topics, this answer is large.
  const rd_kafka_metadata_t* raw = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk_.get(), 1, nullptr, &raw, Millis(timeout));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Unreachable(bootstrap_servers_, "reading metadata", rd_kafka_err2str(err));
  }
  Metadata metadata(raw);
  std::vector<KafkaTopicPartition> out;
  for (const std::string& name : topics) {
    const rd_kafka_metadata_topic_t* found = nullptr;
    for (int t = 0; t < metadata->topic_cnt; ++t) {
      if (name == metadata->topics[t].topic) found = &metadata->topics[t];
    }
    if (found == nullptr || found->err != RD_KAFKA_RESP_ERR_NO_ERROR ||
        found->partition_cnt == 0) {
      return absl::NotFoundError(absl::StrCat(
          "Kafka topic ", name,
          " does not exist, or this client may not see it (no DESCRIBE permission)"));
    }
    for (int p = 0; p < found->partition_cnt; ++p) {
      out.push_back({name, found->partitions[p].id});
    }
  }
  return out;
}

}  // namespace evnet
