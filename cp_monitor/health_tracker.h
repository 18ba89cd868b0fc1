// Counts an engine's failed health checks: the fault is declared after
// `failure_threshold` failures in a row, and health restored on the first
// success after that. Pure logic; the monitor feeds it check results.
#ifndef EVNET_CP_MONITOR_HEALTH_TRACKER_H_
#define EVNET_CP_MONITOR_HEALTH_TRACKER_H_

namespace evnet {

class HealthTracker {
 public:
  struct Change {
    int consecutive_failures = 0;  // after this check
    bool fault_detected = false;   // this check crossed the threshold
    bool health_restored = false;  // first success after a fault
  };

  explicit HealthTracker(int failure_threshold) : threshold_(failure_threshold) {}

  Change Record(bool check_ok) {
    Change change;
    if (check_ok) {
      change.health_restored = faulty_;
      faulty_ = false;
      failures_ = 0;
    } else {
      ++failures_;
      change.fault_detected = !faulty_ && failures_ >= threshold_;
      if (change.fault_detected) faulty_ = true;
    }
    change.consecutive_failures = failures_;
    return change;
  }

  bool faulty() const { return faulty_; }
  int consecutive_failures() const { return failures_; }

 private:
  const int threshold_;
  int failures_ = 0;
  bool faulty_ = false;
};

}  // namespace evnet

#endif  // EVNET_CP_MONITOR_HEALTH_TRACKER_H_
