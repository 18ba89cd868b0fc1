#include "common/kafka/kafka_conf.h"

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "glog/logging.h"
#include "librdkafka/rdkafka.h"

ABSL_FLAG(bool, kafka_plaintext, false,
          "talk to Kafka without TLS even though gRPC has certificates: for a broker "
          "started without --tls, in experiments and benchmarks only");

namespace evnet {

KafkaMessage ToKafkaMessage(const rd_kafka_message_t& m) {
  KafkaMessage out;
  out.topic = m.rkt != nullptr ? rd_kafka_topic_name(m.rkt) : "";
  out.partition = m.partition;
  out.offset = m.offset;
  if (m.key != nullptr) out.key.assign(static_cast<const char*>(m.key), m.key_len);
  if (m.payload != nullptr) out.value.assign(static_cast<const char*>(m.payload), m.len);
  rd_kafka_timestamp_type_t type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
  const int64_t timestamp = rd_kafka_message_timestamp(&m, &type);
  out.timestamp = type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? absl::InfinitePast()
                                                            : absl::FromUnixMillis(timestamp);
  return out;
}

absl::Status KafkaStatus(RdKafka::ErrorCode code, absl::string_view context) {
  if (code == RdKafka::ERR_NO_ERROR) return absl::OkStatus();
  std::string message = absl::StrCat(context, ": ", RdKafka::err2str(code));
  switch (code) {
    case RdKafka::ERR__MSG_TIMED_OUT:
    case RdKafka::ERR__TIMED_OUT:
    case RdKafka::ERR_REQUEST_TIMED_OUT:
      return absl::DeadlineExceededError(message);
    case RdKafka::ERR__QUEUE_FULL:
      return absl::ResourceExhaustedError(message);
    case RdKafka::ERR_MSG_SIZE_TOO_LARGE:
    case RdKafka::ERR__INVALID_ARG:
    case RdKafka::ERR_INVALID_RECORD:
      return absl::InvalidArgumentError(message);
    case RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED:
    case RdKafka::ERR_GROUP_AUTHORIZATION_FAILED:
    case RdKafka::ERR_CLUSTER_AUTHORIZATION_FAILED:
      return absl::PermissionDeniedError(message);
    case RdKafka::ERR__FATAL:
      return absl::InternalError(message);
    default:
      return absl::UnavailableError(message);
  }
}

void KafkaEventLogger::event_cb(RdKafka::Event& event) {
  switch (event.type()) {
    case RdKafka::Event::EVENT_ERROR: {
      const RdKafka::ErrorCode err = event.err();
      if (err == RdKafka::ERR__ALL_BROKERS_DOWN || err == RdKafka::ERR__TRANSPORT ||
          err == RdKafka::ERR__RESOLVE) {
        absl::MutexLock lock(&mu_);
        const absl::Time now = SystemClock::Get().Steady();
        if (now - last_unreachable_log_ < quiet_period_) return;
        last_unreachable_log_ = now;
        LOG(WARNING) << "cannot reach Kafka at " << bootstrap_servers_
                     << ": is it running? (`tools/ev kafka start` starts one); "
                        "retrying in the background";
        return;
      }
      if (event.fatal()) {
        LOG(ERROR) << "Kafka fatal error: " << RdKafka::err2str(err) << ": "
                   << event.str();
      } else {
        LOG(WARNING) << "Kafka: " << RdKafka::err2str(err) << ": " << event.str();
      }
      return;
    }
    case RdKafka::Event::EVENT_LOG:
      if (event.severity() <= RdKafka::Event::EVENT_SEVERITY_ERROR) {
        VLOG(1) << "librdkafka " << event.fac() << ": " << event.str();
      }
      return;
    default:
      return;
  }
}

void KafkaTopicLookups::Ask(RdKafka::Handle& producer, const std::string& topic) {
  absl::MutexLock lock(&mu_);
  if (asked_of_ != &producer) {
    asked_.clear();
    asked_of_ = &producer;
  }
  if (!asked_.insert(topic).second) return;
  // Opening the topic queues the lookup (no I/O here); the handle is only
  // needed for that, and messages name the topic.
  rd_kafka_topic_t* opened = rd_kafka_topic_new(producer.c_ptr(), topic.c_str(), nullptr);
  if (opened != nullptr) rd_kafka_topic_destroy(opened);
}

namespace {

absl::Mutex kafka_tls_mu(absl::kConstInit);
KafkaTls& KafkaTlsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(kafka_tls_mu) {
  static KafkaTls* tls = new KafkaTls();
  return *tls;
}

}  // namespace

void SetKafkaTls(KafkaTls tls) {
  absl::MutexLock lock(&kafka_tls_mu);
  KafkaTlsLocked() = std::move(tls);
}

KafkaTls CurrentKafkaTls() {
  absl::MutexLock lock(&kafka_tls_mu);
  return KafkaTlsLocked();
}

void ConfigureKafkaTls(KafkaTls files, const std::string& who) {
  if (absl::GetFlag(FLAGS_kafka_plaintext) && !files.cert_file.empty()) {
    LOG(WARNING) << who << " | --kafka_plaintext: Kafka is spoken without TLS and without "
                 << "proving who this program is; any client that reaches the broker can "
                 << "read and write what it does";
    files = {};
  }
  SetKafkaTls(std::move(files));
}

KafkaProperties KafkaClientProperties(const std::string& bootstrap_servers,
                                      const std::string& client_id) {
  KafkaProperties properties = {
      {"bootstrap.servers", bootstrap_servers},
      {"client.id", client_id},
      {"log.connection.close", "false"},
      {"reconnect.backoff.max.ms", "1000"},
      // Small messages go at once: with TLS, Nagle's algorithm and delayed
      // ACKs held each round trip about 40 ms.
      {"socket.nagle.disable", "true"},
  };
  const KafkaTls tls = CurrentKafkaTls();
  if (!tls.cert_file.empty()) {
    properties["security.protocol"] = "ssl";
    properties["ssl.ca.location"] = tls.ca_file;
    properties["ssl.certificate.location"] = tls.cert_file;
    properties["ssl.key.location"] = tls.key_file;
  }
  return properties;
}

absl::StatusOr<KafkaClientConf> MakeKafkaClientConf(const std::string& bootstrap_servers,
                                                    const std::string& client_id,
                                                    const KafkaProperties& kind,
                                                    const KafkaProperties& overrides) {
  if (bootstrap_servers.empty()) {
    return absl::InvalidArgumentError("Kafka bootstrap servers are empty");
  }
  KafkaProperties properties = KafkaClientProperties(bootstrap_servers, client_id);
  for (const auto& [name, value] : kind) properties[name] = value;
  for (const auto& [name, value] : overrides) properties[name] = value;
  KafkaClientConf client{std::make_unique<KafkaEventLogger>(bootstrap_servers),
                         std::unique_ptr<RdKafka::Conf>(
                             RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL))};
  std::string error;
  for (const auto& [name, value] : properties) {
    if (client.conf->set(name, value, error) != RdKafka::Conf::CONF_OK) {
      return absl::InvalidArgumentError(
          absl::StrCat("Kafka property ", name, "=", value, ": ", error));
    }
  }
  if (client.conf->set("event_cb", client.event_logger.get(), error) != RdKafka::Conf::CONF_OK) {
    return absl::InternalError(absl::StrCat("Kafka event_cb: ", error));
  }
  return client;
}

}  // namespace evnet
