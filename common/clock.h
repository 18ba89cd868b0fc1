// Time behind a small interface, so that heartbeats, timeouts and meters can
// be driven by a fake clock in unit tests instead of by sleeping.
//
// Two readings: Now() is the wall clock, for timestamps people read; it can
// be stepped (NTP, an operator). Steady() never steps: metering, durations
// and timeouts are measured on it, so that a wall clock set back or forward
// neither loses nor invents energy or time.
#ifndef EVNET_COMMON_CLOCK_H_
#define EVNET_COMMON_CLOCK_H_

#include <chrono>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace evnet {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
  // A monotonic reading: only differences between two readings mean
  // anything. A clock with no steady source of its own answers Now().
  virtual absl::Time Steady() const { return Now(); }
};

// The wall clock, and the system's steady clock for Steady().
class SystemClock final : public Clock {
 public:
  SystemClock();
  absl::Time Now() const override { return absl::Now(); }
  // std::chrono::steady_clock, offset to read like the wall time at this
  // clock's creation, so that a value logged by mistake is still plausible.
  absl::Time Steady() const override;
  // A process-wide instance; never destroyed.
  static Clock& Get();

 private:
  const absl::Time anchor_;
  const std::chrono::steady_clock::time_point steady_anchor_;
};

// A clock that moves only when told to. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1'700'000'000))
      : now_(start), steady_(start) {}
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  absl::Time Steady() const override {
    absl::MutexLock lock(&mu_);
    return steady_;
  }
  // Time passes: both readings move.
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
    steady_ += d;
  }
  // The wall clock is stepped (either way) while no time passes: Steady()
  // stays where it is.
  void StepWall(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }
  // The wall clock is set to `t`, as StepWall.
  void Set(absl::Time t) {
    absl::MutexLock lock(&mu_);
    now_ = t;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  absl::Time steady_ ABSL_GUARDED_BY(mu_);
};

}  // namespace evnet

#endif  // EVNET_COMMON_CLOCK_H_
