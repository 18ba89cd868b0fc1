#include "common/crash_point.h"

#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "glog/logging.h"

namespace evnet {
namespace {

struct Armed {
  std::string name;
  int at = 0;  // 0: disarmed
  std::atomic<int> passed{0};
};

Armed& Point() {
  static Armed* armed = [] {
    auto* a = new Armed;
    const char* env = getenv("EVNET_CRASH_AT");
    if (env == nullptr) return a;
    std::pair<std::string, std::string> parts = absl::StrSplit(env, absl::MaxSplits(':', 1));
    int at = 1;
    if (!parts.second.empty() && !absl::SimpleAtoi(parts.second, &at)) at = 1;
    a->name = parts.first;
    a->at = at > 0 ? at : 1;
    LOG(WARNING) << "Crash point " << a->name << " armed: this program dies the " << a->at
                 << "th time it passes there (EVNET_CRASH_AT, for fault tests only)";
    return a;
  }();
  return *armed;
}

}  // namespace

void CrashPoint(const char* name) {
  Armed& point = Point();
  if (point.at == 0 || point.name != name) return;
  if (point.passed.fetch_add(1) + 1 != point.at) return;
  LOG(ERROR) << "CRASH POINT " << name << " reached: dying now";
  google::FlushLogFiles(google::GLOG_INFO);
  _exit(137);
}

}  // namespace evnet
