#include "common/clock.h"

namespace evnet {

SystemClock::SystemClock()
    : anchor_(absl::Now()), steady_anchor_(std::chrono::steady_clock::now()) {}

absl::Time SystemClock::Steady() const {
  return anchor_ + absl::FromChrono(std::chrono::steady_clock::now() - steady_anchor_);
}

Clock& SystemClock::Get() {
  static SystemClock* clock = new SystemClock();
  return *clock;
}

}  // namespace evnet
