// Latencies seen by evload, and their percentiles. Thread-safe.
#ifndef EVNET_TOOLS_EVLOAD_SAMPLES_H_
#define EVNET_TOOLS_EVLOAD_SAMPLES_H_

#include <algorithm>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace evnet::evload {

class Samples {
 public:
  void Add(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    samples_.push_back(d);
  }
  size_t size() const {
    absl::MutexLock lock(&mu_);
    return samples_.size();
  }
  // The p-th percentile (0 < p <= 100); zero with no samples.
  absl::Duration Percentile(double p) const {
    absl::MutexLock lock(&mu_);
    if (samples_.empty()) return absl::ZeroDuration();
    std::vector<absl::Duration> sorted = samples_;
    std::sort(sorted.begin(), sorted.end());
    size_t i = static_cast<size_t>(p / 100 * sorted.size());
    return sorted[std::min(i, sorted.size() - 1)];
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<absl::Duration> samples_;
};

}  // namespace evnet::evload

#endif  // EVNET_TOOLS_EVLOAD_SAMPLES_H_
