// Central's registry of charging points: what each CP is (as its monitor
// registered it), what its monitor last reported, whether an operator
// stopped it, and the status derived from all that. Thread-safe.
#ifndef EVNET_CENTRAL_REGISTRY_H_
#define EVNET_CENTRAL_REGISTRY_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <queue>
#include <set>
#include <string>
#include <utility>
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

// What a CP's monitor last reported of its sessions, for reconciling them
// with the ones central holds open.
struct CpReport {
  std::string cp_id;
  v1::CpStatus status = v1::CP_STATUS_UNSPECIFIED;
  std::string session_id;  // the supply it runs; empty when none
  // Ended sessions whose results its engine still holds (not yet in Kafka).
  std::set<std::string> pending_results;
};

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
  // `link_id` (LinkHub's) names the monitor link that registered, if any.
  std::optional<v1::CpRegistryRecord> Register(const v1::ChargingPointInfo& info,
                                               uint64_t link_id = 0);
  // The monitor's link closed: the CP is DISCONNECTED at once.
  // A link that is no longer the CP's latest (a new monitor registered
  // meanwhile) changes nothing.
  void LinkClosed(const std::string& cp_id, uint64_t link_id = 0);
  void Report(const std::string& cp_id, const v1::HealthReport& report);

  // The operator stops or resumes a CP. Returns the record to persist.
  absl::StatusOr<v1::CpRegistryRecord> SetStopped(const std::string& cp_id, bool stopped);

  bool Known(const std::string& cp_id) const;
  v1::CpStatus Status(const std::string& cp_id) const;
  absl::StatusOr<v1::ChargingPoint> Get(const std::string& cp_id) const;
  std::vector<v1::ChargingPoint> List() const;
  std::vector<std::string> Ids() const;
  size_t size() const;
  // How many CPs show each status (one pass, no copies).
  std::map<v1::CpStatus, int> CountByStatus() const;
  // Every CP whose monitor reports (not DISCONNECTED), as it last reported.
  std::vector<CpReport> Reports() const;

  // Returns the statuses that changed since the last sweep, in the order
  // they changed, after marking DISCONNECTED the CPs whose monitor fell
  // silent. Its cost is what changed and the CPs whose silence deadline
  // came, not the size of the registry: a registry that knows 60,000 CPs
  // of which 10,000 report is not scanned five times a second.
  std::vector<StatusChange> Sweep();

  // Up to `max` CPs with ids after `after`, in id order (a page of the list).
  std::vector<v1::ChargingPoint> ListAfter(const std::string& after, size_t max) const;

  // Counts every change a person would see (status, info, supply; not the
  // time of the last report); WaitForChange blocks until it passes `seen`
  // or `timeout` passes, and returns it.
  uint64_t version() const;
  uint64_t WaitForChange(uint64_t seen, absl::Duration timeout) const;

  // Changes as a feed: every CP has the sequence number of its last change.
  // Returns the first CP changed after `seq`, with its sequence number; a
  // reader that follows it sees each CP's latest state once, however often
  // it changed meanwhile.
  std::optional<std::pair<uint64_t, v1::ChargingPoint>> NextChange(uint64_t seq) const;
  // Called (outside the registry's lock, on the thread that made the change)
  // after every change; must not block, nor set the listener. Setting
  // another (or none) waits for calls of the previous one in progress, so
  // once SetChangeListener(nullptr) returns, the old listener may go away.
  void SetChangeListener(std::function<void()> listener) ABSL_LOCKS_EXCLUDED(listener_mu_);

 private:
  struct Entry {
    v1::ChargingPointInfo info;
    v1::ChargingPointInfo persisted;  // as Kafka has it
    CpObservation seen;               // includes the operator's stop
    v1::SupplySnapshot supply;
    std::set<std::string> pending_results;
    uint64_t link_id = 0;  // the monitor link that registered last
    v1::CpStatus swept = v1::CP_STATUS_UNSPECIFIED;      // as of the last sweep
    v1::CpStatus published = v1::CP_STATUS_UNSPECIFIED;  // as of the last change
    uint64_t changed = 0;                                // its sequence number
    bool watched = false;  // in silences_, until its silence deadline comes
  };
  using Entries = std::map<std::string, Entry>;  // nodes stay put: silences_ points at them
  // When a CP that shows as connected would count as silent, unless it
  // reports meanwhile (then it is due again from its last report).
  struct Silence {
    absl::Time at;
    Entries::iterator entry;
    bool operator>(const Silence& other) const { return at > other.at; }
  };

  // Records a change of the entry, and watches it for silence while it
  // shows as connected.
  void ChangedLocked(Entries::iterator it) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WatchLocked(Entries::iterator it) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Notify() const ABSL_LOCKS_EXCLUDED(listener_mu_);
  // The bodies of Restore, Register and SetStopped, which notify once unlocked.
  void DoRestore(const v1::CpRegistryRecord& record) ABSL_LOCKS_EXCLUDED(mu_);
  std::optional<v1::CpRegistryRecord> DoRegister(const v1::ChargingPointInfo& info,
                                                 uint64_t link_id)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<v1::CpRegistryRecord> DoSetStopped(const std::string& cp_id, bool stopped)
      ABSL_LOCKS_EXCLUDED(mu_);

  v1::ChargingPoint ToProtoLocked(const Entry& entry) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  v1::CpRegistryRecord RecordLocked(const Entry& entry) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Clock& clock_;
  const absl::Duration monitor_timeout_;
  mutable absl::Mutex mu_;
  Entries entries_ ABSL_GUARDED_BY(mu_);
  uint64_t version_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<uint64_t, std::string> by_change_ ABSL_GUARDED_BY(mu_);
  uint64_t swept_version_ ABSL_GUARDED_BY(mu_) = 0;  // changes up to here were swept
  std::priority_queue<Silence, std::vector<Silence>, std::greater<Silence>> silences_
      ABSL_GUARDED_BY(mu_);
  // Readers call the listener, concurrently; a writer replaces it.
  mutable absl::Mutex listener_mu_ ABSL_ACQUIRED_AFTER(mu_);
  std::function<void()> listener_ ABSL_GUARDED_BY(listener_mu_);
  bool restored_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace evnet

#endif  // EVNET_CENTRAL_REGISTRY_H_
