#include "central/power_history.h"

#include "absl/strings/str_format.h"

namespace evnet {

void PowerHistory::Sample(absl::Time at, double kw) {
  absl::MutexLock lock(&mu_);
  if (!samples_.empty() && at - samples_.back().first < every_) return;
  samples_.emplace_back(at, kw);
  while (!samples_.empty() && at - samples_.front().first > span_) samples_.pop_front();
}

std::string PowerHistory::Json() const {
  absl::MutexLock lock(&mu_);
  std::string json = "[";
  for (const auto& [at, kw] : samples_) {
    absl::StrAppendFormat(&json, "%s[%d,%.3f]", json.size() > 1 ? "," : "", absl::ToUnixSeconds(at),
                          kw);
  }
  json += "]";
  return json;
}

}  // namespace evnet
