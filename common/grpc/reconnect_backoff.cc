#include "common/grpc/reconnect_backoff.h"

#include <algorithm>
#include <utility>

namespace evnet {

ReconnectBackoff::ReconnectBackoff(std::function<double()> uniform)
    : uniform_(std::move(uniform)) {}

absl::Duration ReconnectBackoff::Next(bool registered, absl::Duration lasted) {
  if (cap_ == absl::ZeroDuration() || (registered && lasted >= kSettled)) {
    cap_ = kFirstCap;
  } else if (!registered && lasted >= kSlowAttempt) {
    cap_ = std::min(std::max(cap_ * 2, kOverloadedFirstCap), kOverloadedCap);
  } else {
    cap_ = std::min(cap_ * 2, kAwayCap);
  }
  return kFloor + cap_ * (uniform_ != nullptr ? uniform_() : absl::Uniform(gen_, 0.0, 1.0));
}

}  // namespace evnet
