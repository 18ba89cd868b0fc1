// A set of ids remembered for a window of time, then forgotten: what keeps
// central's dedupe sets bounded however long it runs.
#ifndef EVNET_CENTRAL_ID_WINDOW_H_
#define EVNET_CENTRAL_ID_WINDOW_H_

#include <deque>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"

namespace evnet {

class IdWindow {
 public:
  explicit IdWindow(absl::Duration window) : window_(window) {}

  // Remembers `id` as seen at `at` (a later sighting keeps it longer).
  void Insert(const std::string& id, absl::Time at) {
    auto [it, inserted] = seen_.try_emplace(id, at);
    if (!inserted && it->second >= at) return;
    it->second = at;
    order_.emplace_back(at, id);
  }
  bool Contains(const std::string& id) const { return seen_.contains(id); }
  // Forgets what was last seen before now - window.
  void Prune(absl::Time now) {
    while (!order_.empty() && order_.front().first < now - window_) {
      auto it = seen_.find(order_.front().second);
      if (it != seen_.end() && it->second == order_.front().first) seen_.erase(it);
      order_.pop_front();
    }
  }
  size_t size() const { return seen_.size(); }

 private:
  const absl::Duration window_;
  absl::flat_hash_map<std::string, absl::Time> seen_;
  std::deque<std::pair<absl::Time, std::string>> order_;
};

}  // namespace evnet

#endif  // EVNET_CENTRAL_ID_WINDOW_H_
