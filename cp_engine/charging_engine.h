// The charging engine: runs one supply at a time on its own once started,
// meters it, publishes telemetry every tick and one result at the end, and
// journals what it is doing so that a crash loses no energy and no result.
// It has no threads: the service drives it with Tick() every second. It
// meters on the clock's Steady() reading and stamps times people read with
// Now(), so that a wall clock stepped mid-session bills what was supplied.
#ifndef EVNET_CP_ENGINE_CHARGING_ENGINE_H_
#define EVNET_CP_ENGINE_CHARGING_ENGINE_H_

#include <functional>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "cp_engine/journal.h"
#include "evnet/v1/engine.pb.h"
#include "evnet/v1/events.pb.h"

namespace evnet {

// Where the engine's events go (Kafka in production, a fake in tests).
class EventPublisher {
 public:
  virtual ~EventPublisher() = default;
  // Best effort: a lost telemetry sample is replaced by the next one.
  virtual void PublishTelemetry(const v1::SupplyTelemetry& telemetry) = 0;
  // An error means the result was not queued and `done` will not run.
  // Otherwise `done` runs once, later, from another thread: OK when Kafka
  // has the result.
  [[nodiscard]] virtual absl::Status PublishResult(
      const v1::SessionResult& result, std::function<void(absl::Status)> done) = 0;
};

struct EngineOptions {
  v1::ChargingPointInfo info;
  // When the simulated driver unplugs, unless the request says otherwise.
  absl::Duration session_duration = absl::Seconds(10);
  std::string state_dir;
  // A result whose delivery has not reported after this long is published
  // again: a publisher may lose a callback (a Kafka producer replaced while
  // it queues). Longer than the producer's delivery timeout, so that a result
  // Kafka is still trying to deliver is not queued twice.
  absl::Duration result_delivery_timeout = absl::Minutes(6);
  // Writes a journal; empty: to state_dir. Tests stand a slow or failing
  // disk in here.
  JournalWriter::Save save_journal;
};

class ChargingEngine {
 public:
  ChargingEngine(EngineOptions options, Clock& clock, EventPublisher& publisher);

  // Reads the journal: a session that was running when the engine died ends
  // as ENGINE_FAILURE with the energy journaled; unacknowledged results are
  // published again.
  [[nodiscard]] absl::Status Recover();

  // UNAVAILABLE while in (simulated) fault, so the monitor's checks fail.
  [[nodiscard]] absl::StatusOr<v1::CheckResponse> Check();
  // Answers once the session is in the journal on disk, so that an engine
  // killed right after answering still bills it when it comes back; a
  // journal that cannot be written fails the start (UNAVAILABLE). A session
  // that already ended here is ALREADY_EXISTS, and its result is published
  // again (central asked again: it may not have billed it).
  [[nodiscard]] absl::StatusOr<v1::StartSupplyResponse> StartSupply(
      const v1::StartSupplyRequest& request);
  [[nodiscard]] absl::StatusOr<v1::StopSupplyResponse> StopSupply(
      const v1::StopSupplyRequest& request);
  [[nodiscard]] absl::StatusOr<v1::SimulateResponse> Simulate(const v1::SimulateRequest& request);

  // Meters the running supply, publishes telemetry, ends the supply when its
  // time or energy target is reached, and retries unacknowledged results,
  // also those whose delivery never reported.
  void Tick();

  v1::EngineState state() const;
  // Results not yet acknowledged by Kafka.
  int PendingResults() const;

 private:
  struct Supply {
    v1::StartSupplyRequest request;
    absl::Time started_at;      // wall time, for people
    absl::Time started_steady;  // what the meter counts from
    absl::Duration duration;    // the supply ends after this long
    uint64_t journaled = 0;     // the journal that first held it
  };
  // A result handed to the publisher, by its attempt: a report of an older
  // attempt does not clear a newer one.
  struct InFlight {
    uint64_t attempt = 0;
    absl::Time since;  // steady
  };

  // The running supply as metered at `steady` (a Steady() reading).
  v1::SupplySnapshot SnapshotLocked(absl::Time steady) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The final record of a session: what `supplied` says, metered at
  // `price_eur_per_kwh`, ended at `ended_at`.
  v1::SessionResult ResultOf(const v1::StartSupplyRequest& request,
                             const v1::SupplySnapshot& supplied, double price_eur_per_kwh,
                             absl::Time ended_at, v1::SessionEndReason reason) const;
  // Keeps a result until Kafka has it, and its session as ended.
  void RecordResultLocked(const v1::SessionResult& result) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends the running supply with `reason` as it was at `steady_end` (a
  // Steady() reading, not after now), journals and publishes its result.
  void EndSupplyLocked(v1::SessionEndReason reason, absl::Time steady_end)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Posts the journal of the engine's state; returns its number.
  uint64_t SaveJournalLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PublishPendingLocked(absl::Time steady) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Forgets deliveries that never reported, so that they are published again.
  void ExpireInFlightLocked(absl::Time steady) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnResultDelivered(const std::string& session_id, uint64_t attempt,
                         const absl::Status& status);
  std::string Tag() const;

  const EngineOptions options_;
  Clock& clock_;
  EventPublisher& publisher_;
  Journal journal_;
  JournalWriter journal_writer_;  // writes journal_ off the lock

  mutable absl::Mutex mu_;
  bool fault_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<Supply> supply_ ABSL_GUARDED_BY(mu_);
  // Results of sessions that ended here, by session id, until Kafka has them.
  std::map<std::string, v1::SessionResult> pending_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, InFlight> in_flight_ ABSL_GUARDED_BY(mu_);
  uint64_t attempts_ ABSL_GUARDED_BY(mu_) = 0;
  // Recently ended sessions with their results, so that a repeated
  // StartSupply is not a new one (and publishes its result again): the
  // last kRememberedSessions, oldest first in ended_order_.
  static constexpr size_t kRememberedSessions = 1000;
  std::map<std::string, v1::SessionResult> ended_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> ended_order_ ABSL_GUARDED_BY(mu_);
};

}  // namespace evnet

#endif  // EVNET_CP_ENGINE_CHARGING_ENGINE_H_
