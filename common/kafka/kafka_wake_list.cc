#include "common/kafka/kafka_wake_list.h"

#include <utility>

namespace evnet {

KafkaWakeList::Entry::~Entry() {
  if (list_ == nullptr) return;
  absl::MutexLock lock(&list_->mu_);
  list_->wakes_.erase(id_);
}

KafkaWakeList::Entry KafkaWakeList::AddWake(std::function<void()> wake) {
  absl::MutexLock lock(&mu_);
  // Woken under the lock, as WakeAll does: a wake takes only the client's
  // queue lock, and the entry cannot end (nor its client) meanwhile.
  if (woken_) wake();
  const uint64_t id = next_id_++;
  wakes_.emplace(id, std::move(wake));
  return Entry(this, id);
}

void KafkaWakeList::WakeAll() {
  absl::MutexLock lock(&mu_);
  woken_ = true;
  for (const auto& [id, wake] : wakes_) wake();
}

}  // namespace evnet
