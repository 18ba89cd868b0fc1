// Central's numbers for Prometheus (GET /metrics): counters the coordinator
// bumps as things happen, and gauges read from the registry, the monitor
// links and Kafka when scraped. Thread-safe.
#ifndef EVNET_CENTRAL_METRICS_H_
#define EVNET_CENTRAL_METRICS_H_

#include <array>
#include <cstdint>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "evnet/v1/events.pb.h"
#include "evnet/v1/types.pb.h"

namespace evnet {

class Metrics {
 public:
  // What is read at scrape time.
  struct Gauges {
    std::map<v1::CpStatus, int> cps_by_status;
    int monitors_connected = 0;
    int sessions_running = 0;
    int64_t kafka_consumer_lag = -1;  // -1: unknown
    bool ready = false;                 // what /readyz says
    int64_t kafka_delivery_failures = 0;  // messages Kafka did not take
    std::map<std::string, int64_t> set_aside_by_topic;  // on the dead-letter topic
    // The books (books/), when central keeps them.
    bool books = false;
    int64_t books_records = 0;     // ledger records booked since start
    bool books_database_up = false;  // its last batch took
    bool books_ledger_read = false;  // its last read of the ledger did
  };

  // `waited`: from the driver's request to central's acceptance.
  void RequestAccepted(absl::Duration waited);
  // A monitor answered a command of `kind` (e.g. "start_supply") this long
  // after central sent it.
  void CommandAnswered(absl::string_view kind, absl::Duration took);
  // `reason`: a short label, e.g. "unknown_cp", "not_active", "expired".
  void RequestRejected(absl::string_view reason);
  void FaultDetected();
  void SessionCompleted(v1::SessionEndReason reason);

  // The Prometheus text exposition format (version 0.0.4).
  std::string Render(const Gauges& gauges) const;

 private:
  static constexpr std::array<double, 8> kLatencyBuckets = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  // A monitor's answer on a link: milliseconds when all is well.
  static constexpr std::array<double, 10> kAnswerBuckets = {0.005, 0.01, 0.025, 0.05, 0.1,
                                                            0.25,  0.5,  1,     2.5,  5};

  template <size_t N>
  struct Histogram {
    std::array<int64_t, N> buckets = {};  // cumulative: observations <= each bound
    int64_t count = 0;
    double sum = 0;
    void Observe(const std::array<double, N>& bounds, absl::Duration value);
    void Render(std::string* out, absl::string_view name, absl::string_view labels,
                const std::array<double, N>& bounds) const;
  };

  mutable absl::Mutex mu_;
  int64_t accepted_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, int64_t> rejected_ ABSL_GUARDED_BY(mu_);
  int64_t faults_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<v1::SessionEndReason, int64_t> completed_ ABSL_GUARDED_BY(mu_);
  Histogram<kLatencyBuckets.size()> accept_latency_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Histogram<kAnswerBuckets.size()>> answer_latency_ ABSL_GUARDED_BY(mu_);
};

}  // namespace evnet

#endif  // EVNET_CENTRAL_METRICS_H_
