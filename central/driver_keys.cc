#include "central/driver_keys.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/proto_time.h"

namespace evnet {

void DriverKeys::Learn(const std::string& driver_id, const std::string& public_key) {
  {
    absl::MutexLock lock(&mu_);
    std::string& known = keys_[driver_id];
    if (known == public_key) return;
    known = public_key;
  }
  v1::DriverKey record;
  record.set_driver_id(driver_id);
  record.set_public_key(public_key);
  *record.mutable_learned_at() = ToProto(clock_.Now());
  save_(record);  // outside the lock: it may produce to Kafka
}

void DriverKeys::Restore(const v1::DriverKey& key) {
  absl::MutexLock lock(&mu_);
  keys_[key.driver_id()] = key.public_key();
}

absl::StatusOr<std::string> DriverKeys::KeyOf(const std::string& driver_id) const {
  absl::MutexLock lock(&mu_);
  auto it = keys_.find(driver_id);
  if (it == keys_.end()) {
    return absl::NotFoundError(absl::StrCat("no key is known for ", driver_id));
  }
  return it->second;
}

}  // namespace evnet
