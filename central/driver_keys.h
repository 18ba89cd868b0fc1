// The public key each driver last signed a request with, which central seals
// that driver's updates to (common/trust/sealing.h): learnt from requests whose
// signature checked, saved to the compacted topic evnet.driver.keys, and
// read back at start, so that the updates of a session that outlives a
// restart of central are sealed too. Thread-safe.
#ifndef EVNET_CENTRAL_DRIVER_KEYS_H_
#define EVNET_CENTRAL_DRIVER_KEYS_H_

#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "evnet/v1/central.pb.h"

namespace evnet {

class DriverKeys {
 public:
  // Writes a record where it will be read back (asynchronously).
  using Save = std::function<void(const v1::DriverKey&)>;
  // `clock` stamps when a key was learned.
  explicit DriverKeys(Save save, const Clock& clock = SystemClock::Get())
      : save_(std::move(save)), clock_(clock) {}

  // `public_key` (DER) is `driver_id`'s now; saved when it is new or changed.
  void Learn(const std::string& driver_id, const std::string& public_key);
  // A record read back at start.
  void Restore(const v1::DriverKey& key);
  // NOT_FOUND for a driver that never signed a request here.
  absl::StatusOr<std::string> KeyOf(const std::string& driver_id) const;

 private:
  const Save save_;
  const Clock& clock_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::string> keys_ ABSL_GUARDED_BY(mu_);
};

}  // namespace evnet

#endif  // EVNET_CENTRAL_DRIVER_KEYS_H_
