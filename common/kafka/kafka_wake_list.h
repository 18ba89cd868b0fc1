// For a component whose threads make and poll Kafka consumers or readers of
// their own: its stop wakes every poll that is waiting, so that no thread
// waits out its poll's timeout (100 to 200 ms, or a batch's linger) before
// it sees that it is to stop.
#ifndef EVNET_COMMON_KAFKA_WAKE_LIST_H_
#define EVNET_COMMON_KAFKA_WAKE_LIST_H_

#include <cstdint>
#include <functional>
#include <map>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace evnet {

// Thread-safe. A polling thread names each client it polls (Add) for as
// long as the returned entry lives, which must end before the client is
// closed or goes (KafkaConsumer::Wake must not overlap its Close).
// The stopping thread sets its stop flag, then calls WakeAll: each client
// named then is woken (KafkaConsumer::Wake, KafkaReader::Wake), and each
// named afterwards is woken as it is named, so a thread that checked the
// flag just before it was set still polls only briefly.
class KafkaWakeList {
 public:
  class Entry {
   public:
    Entry(Entry&& other) noexcept : list_(other.list_), id_(other.id_) { other.list_ = nullptr; }
    Entry& operator=(Entry&&) = delete;
    Entry(const Entry&) = delete;
    ~Entry();

   private:
    friend class KafkaWakeList;
    Entry(KafkaWakeList* list, uint64_t id) : list_(list), id_(id) {}
    KafkaWakeList* list_;
    uint64_t id_;
  };

  template <typename Client>  // KafkaConsumer or KafkaReader
  [[nodiscard]] Entry Add(Client& client) {
    return AddWake([&client] { client.Wake(); });
  }
  void WakeAll();

 private:
  Entry AddWake(std::function<void()> wake);

  absl::Mutex mu_;
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<uint64_t, std::function<void()>> wakes_ ABSL_GUARDED_BY(mu_);
};

}  // namespace evnet

#endif  // EVNET_COMMON_KAFKA_WAKE_LIST_H_
