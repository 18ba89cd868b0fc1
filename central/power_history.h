// The network's power over the last hour, for the dashboard's chart: the
// sum of what every supplying CP draws, kept a sample each `every` (10 s)
// for `span` (an hour). Central samples it on its sweep; the dashboard
// reads it once and draws on live from the stream.
//
// Threading: thread-safe.
#ifndef EVNET_CENTRAL_POWER_HISTORY_H_
#define EVNET_CENTRAL_POWER_HISTORY_H_

#include <deque>
#include <string>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace evnet {

class PowerHistory {
 public:
  explicit PowerHistory(absl::Duration every = absl::Seconds(10),
                        absl::Duration span = absl::Hours(1))
      : every_(every), span_(span) {}

  // Kept if `every` has passed since the last sample kept; samples older
  // than `span` before `at` are let go.
  void Sample(absl::Time at, double kw);
  // [[unix seconds, kW], ...], oldest first.
  std::string Json() const;

 private:
  const absl::Duration every_;
  const absl::Duration span_;
  mutable absl::Mutex mu_;
  std::deque<std::pair<absl::Time, double>> samples_ ABSL_GUARDED_BY(mu_);
};

}  // namespace evnet

#endif  // EVNET_CENTRAL_POWER_HISTORY_H_
