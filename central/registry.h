// Central's registry of charging points: what each CP is (as its monitor
// registered it), what its monitor last reported, whether an operator
// stopped it, and the status derived from all that. Thread-safe.
#ifndef EVNET_CENTRAL_REGISTRY_H_
#define EVNET_CENTRAL_REGISTRY_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "central/cp_status.h"
#include "common/clock.h"
#include "evnet/v1/central.pb.h"
#include "evnet/v1/events.pb.h"

namespace evnet {

struct StatusChange {
  std::string cp_id;
  v1::CpStatus from = v1::CP_STATUS_UNSPECIFIED;  // UNSPECIFIED: newly known
  v1::CpStatus to = v1::CP_STATUS_UNSPECIFIED;
};

class Registry {
 public:
  Registry(Clock& clock, absl::Duration monitor_timeout)
      : clock_(clock), monitor_timeout_(monitor_timeout) {}

  // A record read back from evnet.cp.registry at start. Live registrations
  // win over it; the operator's stop is taken from it.
  void Restore(const v1::CpRegistryRecord& record);

  // The rebuild from Kafka is done: from now on registrations are persisted.
  // Returns the records of CPs whose registration changed what Kafka had.
  std::vector<v1::CpRegistryRecord> FinishRestore();

  // A monitor registered its CP over its link (which is now up). Returns the
  // record to persist when what central must remember about the CP changed
  // (never before FinishRestore: the record would hide an operator's stop
  // that the rebuild has not read yet).
  std::optional<v1::CpRegistryRecord> Register(const v1::ChargingPointInfo& info);
  // The monitor's link closed: the CP is DISCONNECTED at once.
  void LinkClosed(const std::string& cp_id);
  void Report(const std::string& cp_id, const v1::HealthReport& report);

  // The operator stops or resumes a CP. Returns the record to persist.
  absl::StatusOr<v1::CpRegistryRecord> SetStopped(const std::string& cp_id, bool stopped);

  bool Known(const std::string& cp_id) const;
  v1::CpStatus Status(const std::string& cp_id) const;
  absl::StatusOr<v1::ChargingPoint> Get(const std::string& cp_id) const;
  std::vector<v1::ChargingPoint> List() const;
  std::vector<std::string> Ids() const;

  // Derives every status again and returns those that changed since the
  // last sweep, in id order.
  std::vector<StatusChange> Sweep();

  // Counts every change of what List() returns; WaitForChange blocks until it
  // passes `seen` or `timeout` passes, and returns it.
  uint64_t version() const;
  uint64_t WaitForChange(uint64_t seen, absl::Duration timeout) const;

 private:
  struct Entry {
    v1::ChargingPointInfo info;
    v1::ChargingPointInfo persisted;  // as Kafka has it
    CpObservation seen;               // includes the operator's stop
    v1::SupplySnapshot supply;
    v1::CpStatus swept = v1::CP_STATUS_UNSPECIFIED;  // as of the last sweep
  };

  v1::ChargingPoint ToProtoLocked(const Entry& entry) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  v1::CpRegistryRecord RecordLocked(const Entry& entry) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Clock& clock_;
  const absl::Duration monitor_timeout_;
  mutable absl::Mutex mu_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  uint64_t version_ ABSL_GUARDED_BY(mu_) = 0;
  bool restored_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace evnet

#endif  // EVNET_CENTRAL_REGISTRY_H_
