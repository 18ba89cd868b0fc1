#include "central/metrics.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "central/cp_status.h"

namespace evnet {
namespace {

void Header(std::string* out, absl::string_view name, absl::string_view type,
            absl::string_view help) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
}

std::string Label(absl::string_view value) { return absl::AsciiStrToLower(value); }

}  // namespace

template <size_t N>
void Metrics::Histogram<N>::Observe(const std::array<double, N>& bounds, absl::Duration value) {
  const double seconds = absl::ToDoubleSeconds(value);
  for (size_t i = 0; i < N; ++i) {
    if (seconds <= bounds[i]) ++buckets[i];
  }
  ++count;
  sum += seconds;
}

template <size_t N>
void Metrics::Histogram<N>::Render(std::string* out, absl::string_view name,
                                   absl::string_view labels,
                                   const std::array<double, N>& bounds) const {
  const std::string sep = labels.empty() ? "" : ",";
  for (size_t i = 0; i < N; ++i) {
    absl::StrAppend(out, name, "_bucket{", labels, sep, "le=\"", absl::StrFormat("%g", bounds[i]),
                    "\"} ", buckets[i], "\n");
  }
  absl::StrAppend(out, name, "_bucket{", labels, sep, "le=\"+Inf\"} ", count, "\n");
  const std::string braces = labels.empty() ? "" : absl::StrCat("{", labels, "}");
  absl::StrAppend(out, name, "_sum", braces, " ", absl::StrFormat("%g", sum), "\n");
  absl::StrAppend(out, name, "_count", braces, " ", count, "\n");
}

void Metrics::RequestAccepted(absl::Duration waited) {
  absl::MutexLock lock(&mu_);
  ++accepted_;
  accept_latency_.Observe(kLatencyBuckets, waited);
}

void Metrics::CommandAnswered(absl::string_view kind, absl::Duration took) {
  absl::MutexLock lock(&mu_);
  answer_latency_[std::string(kind)].Observe(kAnswerBuckets, took);
}

void Metrics::RequestRejected(absl::string_view reason) {
  absl::MutexLock lock(&mu_);
  ++rejected_[std::string(reason)];
}

void Metrics::FaultDetected() {
  absl::MutexLock lock(&mu_);
  ++faults_;
}

void Metrics::SessionCompleted(v1::SessionEndReason reason) {
  absl::MutexLock lock(&mu_);
  ++completed_[reason];
}

std::string Metrics::Render(const Gauges& gauges) const {
  absl::MutexLock lock(&mu_);
  std::string out;
  Header(&out, "evnet_charging_points", "gauge", "Charging points by the status central shows.");
  for (v1::CpStatus status : {v1::CP_STATUS_ACTIVE, v1::CP_STATUS_SUPPLYING, v1::CP_STATUS_STOPPED,
                              v1::CP_STATUS_BROKEN, v1::CP_STATUS_DISCONNECTED}) {
    auto it = gauges.cps_by_status.find(status);
    absl::StrAppend(&out, "evnet_charging_points{status=\"", Label(StatusName(status)), "\"} ",
                    it == gauges.cps_by_status.end() ? 0 : it->second, "\n");
  }
  Header(&out, "evnet_monitors_connected", "gauge", "Monitors with an open link to central.");
  absl::StrAppend(&out, "evnet_monitors_connected ", gauges.monitors_connected, "\n");
  Header(&out, "evnet_sessions_running", "gauge", "Sessions started and not yet ended.");
  absl::StrAppend(&out, "evnet_sessions_running ", gauges.sessions_running, "\n");
  Header(&out, "evnet_sessions_completed_total", "counter",
         "Sessions ended with a ticket since central started, by end reason.");
  for (const auto& [reason, count] : completed_) {
    std::string name = v1::SessionEndReason_Name(reason);
    absl::string_view short_name = name;
    absl::ConsumePrefix(&short_name, "SESSION_END_REASON_");
    absl::StrAppend(&out, "evnet_sessions_completed_total{reason=\"", Label(short_name), "\"} ",
                    count, "\n");
  }
  Header(&out, "evnet_requests_total", "counter",
         "Driver requests answered since central started, by outcome and reason.");
  absl::StrAppend(&out, "evnet_requests_total{outcome=\"accepted\",reason=\"\"} ", accepted_, "\n");
  for (const auto& [reason, count] : rejected_) {
    absl::StrAppend(&out, "evnet_requests_total{outcome=\"rejected\",reason=\"", reason, "\"} ",
                    count, "\n");
  }
  Header(&out, "evnet_fault_detections_total", "counter", "CPs that turned BROKEN.");
  absl::StrAppend(&out, "evnet_fault_detections_total ", faults_, "\n");
  Header(&out, "evnet_ready", "gauge",
         "1 when central is rebuilt from Kafka and can write to it (what /readyz says), else 0.");
  absl::StrAppend(&out, "evnet_ready ", gauges.ready ? 1 : 0, "\n");
  Header(&out, "evnet_kafka_delivery_failures_total", "counter",
         "Messages of central's that Kafka did not take (their delivery failed) since it started.");
  absl::StrAppend(&out, "evnet_kafka_delivery_failures_total ", gauges.kafka_delivery_failures,
                  "\n");
  Header(&out, "evnet_kafka_consumer_lag", "gauge",
         "Messages central has yet to handle on its input topics (-1 when unknown).");
  absl::StrAppend(&out, "evnet_kafka_consumer_lag ", gauges.kafka_consumer_lag, "\n");
  Header(&out, "evnet_messages_set_aside_total", "counter",
         "Kafka messages central set aside on evnet.deadletter (malformed, refused or failing "
         "every retry), by the topic they came from.");
  for (const auto& [topic, count] : gauges.set_aside_by_topic) {
    absl::StrAppend(&out, "evnet_messages_set_aside_total{topic=\"", Label(topic), "\"} ", count,
                    "\n");
  }
  if (gauges.books) {
    Header(&out, "evnet_books_records_total", "counter",
           "Ledger records booked into the operator's books since central started.");
    absl::StrAppend(&out, "evnet_books_records_total ", gauges.books_records, "\n");
    Header(&out, "evnet_books_database_up", "gauge",
           "1 when the books' database took their last batch; 0 while it is retried.");
    absl::StrAppend(&out, "evnet_books_database_up ", gauges.books_database_up ? 1 : 0, "\n");
    Header(&out, "evnet_books_ledger_up", "gauge",
           "1 when the books' last read of the ledger succeeded; 0 while it is retried.");
    absl::StrAppend(&out, "evnet_books_ledger_up ", gauges.books_ledger_read ? 1 : 0, "\n");
  }
  Header(&out, "evnet_request_accept_seconds", "histogram",
         "From a driver's request to central's acceptance.");
  accept_latency_.Render(&out, "evnet_request_accept_seconds", "", kLatencyBuckets);
  Header(&out, "evnet_command_answer_seconds", "histogram",
         "From central sending a command on a monitor's link to the monitor's answer, by "
         "command.");
  for (const auto& [kind, histogram] : answer_latency_) {
    histogram.Render(&out, "evnet_command_answer_seconds",
                     absl::StrCat("command=\"", Label(kind), "\""), kAnswerBuckets);
  }
  return out;
}

}  // namespace evnet
