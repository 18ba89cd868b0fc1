#include "cp_engine/charging_engine.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/crash_point.h"
#include "common/money.h"
#include "common/proto_time.h"
#include "common/trust/signing.h"
#include "common/validation.h"
#include "cp_engine/meter.h"
#include "glog/logging.h"

namespace evnet {
namespace {

// How far the clocks of the driver (its requested_at) and of this engine
// (a session's start) may disagree.
constexpr absl::Duration kClockSkew = absl::Minutes(5);

}  // namespace

ChargingEngine::ChargingEngine(EngineOptions options, Clock& clock, EventPublisher& publisher)
    : options_(std::move(options)),
      clock_(clock),
      publisher_(publisher),
      journal_(options_.state_dir),
      journal_writer_(options_.save_journal
                          ? options_.save_journal
                          : [this](const v1::EngineJournal& journal) {
                              return journal_.Save(journal);
                            }) {}

std::string ChargingEngine::Tag() const { return absl::StrCat("CP_E:", options_.info.cp_id(), " | "); }

absl::Status ChargingEngine::Recover() {
  absl::Status opened = journal_.Open();
  if (!opened.ok()) return opened;
  absl::StatusOr<v1::EngineJournal> journal = journal_.Load();
  if (!journal.ok()) return journal.status();

  absl::MutexLock lock(&mu_);
  for (v1::SessionResult result : journal->pending_results()) {
    // Journaled before amounts were in cents: the one rounding rule, now.
    if (result.amount_cents() == 0) {
      result.set_amount_cents(AmountCents(result.energy_kwh(), result.price_eur_per_kwh()));
      result.set_amount_eur(EurOfCents(result.amount_cents()));
    }
    RecordResultLocked(result);
  }
  if (journal->has_request()) {
    // The engine died while supplying: bill what the journal says was
    // supplied, ending when that energy was reached (and not after now).
    const v1::SupplySnapshot& supply = journal->supply();
    const absl::Time started = FromProto(supply.started_at());
    const absl::Time ended = std::max(
        started,
        std::min(clock_.Now(), started + TimeToSupply(supply.power_kw(), supply.energy_kwh())));
    const double price = journal->price_eur_per_kwh() > 0 ? journal->price_eur_per_kwh()
                                                          : options_.info.price_eur_per_kwh();
    v1::SessionResult result = ResultOf(journal->request(), supply, price, ended,
                                        v1::SESSION_END_REASON_ENGINE_FAILURE);
    // Figures that do not add up (an amount that is not the energy at the
    // price) are not billed blindly: a person looks at the journal.
    absl::Status valid = ValidateSessionResult(result);
    if (valid.ok() && std::abs(supply.amount_eur() - result.amount_eur()) > 0.01 + 1e-9) {
      valid = absl::InvalidArgumentError(absl::StrFormat(
          "amount_eur %.2f is not energy_kwh %.3f at %.4f EUR/kWh (%.2f)", supply.amount_eur(),
          supply.energy_kwh(), price, result.amount_eur()));
    }
    if (!valid.ok()) {
      return absl::DataLossError(absl::StrCat("the journal ", journal_.path(),
                                              " cannot be billed: ", valid.message()));
    }
    RecordResultLocked(result);
    LOG(WARNING) << Tag() << "Session " << result.session_id()
                 << " was cut short by an engine failure: "
                 << absl::StrFormat("%.2f kWh, %.2f EUR", result.energy_kwh(), result.amount_eur());
  }
  SaveJournalLocked();
  if (!pending_.empty()) {
    LOG(INFO) << Tag() << "Publishing " << pending_.size() << " journaled session result(s)";
  }
  PublishPendingLocked(clock_.Steady());
  return absl::OkStatus();
}

absl::StatusOr<v1::CheckResponse> ChargingEngine::Check() {
  absl::MutexLock lock(&mu_);
  if (fault_) return absl::UnavailableError(absl::StrCat(options_.info.cp_id(), " is in fault"));
  v1::CheckResponse response;
  *response.mutable_info() = options_.info;
  response.mutable_info()->set_telemetry_mac(true);
  if (supply_.has_value()) {
    response.set_state(v1::ENGINE_STATE_SUPPLYING);
    *response.mutable_supply() = SnapshotLocked(clock_.Steady());
  } else {
    response.set_state(v1::ENGINE_STATE_IDLE);
  }
  for (const auto& [id, result] : pending_) response.add_pending_results(id);
  return response;
}

absl::StatusOr<v1::StartSupplyResponse> ChargingEngine::StartSupply(
    const v1::StartSupplyRequest& request) {
  if (request.session_id().empty()) return absl::InvalidArgumentError("session_id is empty");
  v1::StartSupplyResponse response;
  uint64_t journaled = 0;
  bool started = false;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time steady = clock_.Steady();
    if (supply_.has_value() && supply_->request.session_id() == request.session_id()) {
      // A repeated start: the same session, answered as the first once it
      // is on disk.
      *response.mutable_supply() = SnapshotLocked(steady);
      journaled = supply_->journaled;
    } else {
      if (auto ended = ended_.find(request.session_id()); ended != ended_.end()) {
        // The same id for another driver or request, or a session that
        // began well before this request was made: a request id used
        // again, not this one's session. Refused, and nothing published.
        const v1::SessionResult& was = ended->second;
        if (was.driver_id() != request.driver_id() || was.request_id() != request.request_id() ||
            (request.has_requested_at() &&
             FromProto(was.started_at()) < FromProto(request.requested_at()) - kClockSkew)) {
          return absl::FailedPreconditionError(absl::StrCat(
              "session ", request.session_id(), " ended here for ", was.driver_id(), " at ",
              absl::FormatTime(FromProto(was.ended_at())),
              ", before this request; its id is used again"));
        }
        // Central asks again for a session that ran here and ended: it did
        // not hear the first answer (it restarted in between), and may have
        // set the result aside as unasked meanwhile. Published again: the
        // session it now holds open is billed from it, once.
        if (pending_.emplace(ended->first, ended->second).second) {
          LOG(INFO) << Tag() << "Session " << ended->first
                    << " was asked for again after it ended; publishing its result again";
          SaveJournalLocked();
          PublishPendingLocked(steady);
        }
        return absl::AlreadyExistsError(
            absl::StrCat("session ", request.session_id(), " has already ended"));
      }
      if (fault_) {
        return absl::FailedPreconditionError(absl::StrCat(options_.info.cp_id(), " is in fault"));
      }
      if (supply_.has_value()) {
        return absl::FailedPreconditionError(absl::StrCat(
            options_.info.cp_id(), " is supplying session ", supply_->request.session_id()));
      }
      Supply supply;
      supply.request = request;
      supply.started_at = clock_.Now();
      supply.started_steady = steady;
      supply.duration = request.has_max_duration() ? FromProto(request.max_duration())
                                                   : options_.session_duration;
      if (request.target_energy_kwh() > 0) {
        supply.duration = std::min(
            supply.duration, TimeToSupply(options_.info.power_kw(), request.target_energy_kwh()));
      }
      supply_ = std::move(supply);
      supply_->journaled = journaled = SaveJournalLocked();
      *response.mutable_supply() = SnapshotLocked(steady);
      started = true;
    }
  }
  // Off the lock: checks, ticks and stops go on while the disk writes.
  absl::Status durable = journal_writer_.Wait(journaled);
  if (durable.ok() && started) CrashPoint("engine.started");  // on disk, not answered
  if (durable.ok()) {
    if (started) {
      LOG(INFO) << Tag() << "Supplying session " << request.session_id() << " for "
                << request.driver_id() << " at " << options_.info.power_kw() << " kW";
    }
    return response;
  }
  // Not answered OK, so central does not count on it: the supply that is
  // not on disk stops here, unbilled, as central's refused starts are.
  absl::MutexLock lock(&mu_);
  if (supply_.has_value() && supply_->journaled == journaled) {
    supply_.reset();
    SaveJournalLocked();
  }
  return absl::UnavailableError(absl::StrCat("cannot journal session ", request.session_id(),
                                             " in ", options_.state_dir,
                                             ", so it is not started: ", durable.message()));
}

absl::StatusOr<v1::StopSupplyResponse> ChargingEngine::StopSupply(
    const v1::StopSupplyRequest& request) {
  absl::MutexLock lock(&mu_);
  v1::StopSupplyResponse response;
  if (!supply_.has_value() ||
      (!request.session_id().empty() && request.session_id() != supply_->request.session_id())) {
    return response;  // nothing of that session runs: stopping is done
  }
  v1::SessionEndReason reason = request.reason() == v1::SESSION_END_REASON_UNSPECIFIED
                                    ? v1::SESSION_END_REASON_STOPPED_BY_CENTRAL
                                    : request.reason();
  EndSupplyLocked(reason, clock_.Steady());
  response.set_was_supplying(true);
  return response;
}

absl::StatusOr<v1::SimulateResponse> ChargingEngine::Simulate(
    const v1::SimulateRequest& request) {
  absl::MutexLock lock(&mu_);
  const absl::Time steady = clock_.Steady();
  switch (request.action()) {
    case v1::SIMULATE_ACTION_UNPLUG:
      if (supply_.has_value()) EndSupplyLocked(v1::SESSION_END_REASON_UNPLUGGED, steady);
      break;
    case v1::SIMULATE_ACTION_FAULT:
      if (!fault_) LOG(WARNING) << Tag() << "Simulated fault: engine KO";
      fault_ = true;
      if (supply_.has_value()) EndSupplyLocked(v1::SESSION_END_REASON_ENGINE_FAILURE, steady);
      break;
    case v1::SIMULATE_ACTION_RECOVER:
      if (fault_) LOG(INFO) << Tag() << "Engine back to OK";
      fault_ = false;
      break;
    default:
      return absl::InvalidArgumentError("unknown simulate action");
  }
  v1::SimulateResponse response;
  response.set_state(fault_ ? v1::ENGINE_STATE_FAULT
                            : supply_.has_value() ? v1::ENGINE_STATE_SUPPLYING
                                                  : v1::ENGINE_STATE_IDLE);
  return response;
}

void ChargingEngine::Tick() {
  absl::MutexLock lock(&mu_);
  const absl::Time steady = clock_.Steady();
  if (supply_.has_value()) {
    const bool done = steady - supply_->started_steady >= supply_->duration;
    if (done) {
      const bool target = supply_->request.target_energy_kwh() > 0 &&
                          supply_->duration == TimeToSupply(options_.info.power_kw(),
                                                            supply_->request.target_energy_kwh());
      const bool limited = supply_->request.has_max_duration();
      EndSupplyLocked(target    ? v1::SESSION_END_REASON_TARGET_ENERGY_REACHED
                      : limited ? v1::SESSION_END_REASON_DURATION_REACHED
                                : v1::SESSION_END_REASON_UNPLUGGED,
                      supply_->started_steady + supply_->duration);
    } else {
      v1::SupplyTelemetry telemetry;
      telemetry.set_cp_id(options_.info.cp_id());
      *telemetry.mutable_supply() = SnapshotLocked(steady);
      *telemetry.mutable_measured_at() = ToProto(clock_.Now());
      MacTelemetry(supply_->request.telemetry_key(), telemetry);
      SaveJournalLocked();
      publisher_.PublishTelemetry(telemetry);
    }
  }
  ExpireInFlightLocked(steady);
  PublishPendingLocked(steady);
}

v1::EngineState ChargingEngine::state() const {
  absl::MutexLock lock(&mu_);
  if (fault_) return v1::ENGINE_STATE_FAULT;
  return supply_.has_value() ? v1::ENGINE_STATE_SUPPLYING : v1::ENGINE_STATE_IDLE;
}

int ChargingEngine::PendingResults() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(pending_.size());
}

v1::SupplySnapshot ChargingEngine::SnapshotLocked(absl::Time steady) const {
  v1::SupplySnapshot snapshot;
  const absl::Duration elapsed = std::clamp(steady - supply_->started_steady,
                                            absl::ZeroDuration(), supply_->duration);
  MeterReading reading =
      ReadMeter(options_.info.power_kw(), options_.info.price_eur_per_kwh(), elapsed);
  snapshot.set_session_id(supply_->request.session_id());
  snapshot.set_driver_id(supply_->request.driver_id());
  snapshot.set_power_kw(options_.info.power_kw());
  snapshot.set_energy_kwh(reading.energy_kwh);
  snapshot.set_amount_eur(reading.amount_eur);
  *snapshot.mutable_started_at() = ToProto(supply_->started_at);
  return snapshot;
}

v1::SessionResult ChargingEngine::ResultOf(const v1::StartSupplyRequest& request,
                                           const v1::SupplySnapshot& supplied,
                                           double price_eur_per_kwh,
                                           absl::Time ended_at,
                                           v1::SessionEndReason reason) const {
  v1::SessionResult result;
  result.set_session_id(request.session_id());
  result.set_request_id(request.request_id());
  result.set_cp_id(options_.info.cp_id());
  result.set_driver_id(request.driver_id());
  *result.mutable_started_at() = supplied.started_at();
  *result.mutable_ended_at() = ToProto(ended_at);
  result.set_energy_kwh(supplied.energy_kwh());
  result.set_price_eur_per_kwh(price_eur_per_kwh);
  result.set_amount_cents(AmountCents(supplied.energy_kwh(), price_eur_per_kwh));
  result.set_amount_eur(EurOfCents(result.amount_cents()));
  result.set_end_reason(reason);
  return result;
}

void ChargingEngine::RecordResultLocked(const v1::SessionResult& result) {
  pending_[result.session_id()] = result;
  if (ended_.emplace(result.session_id(), result).second) {
    ended_order_.push_back(result.session_id());
  }
  while (ended_order_.size() > kRememberedSessions) {
    ended_.erase(ended_order_.front());
    ended_order_.pop_front();
  }
}

void ChargingEngine::EndSupplyLocked(v1::SessionEndReason reason, absl::Time steady_end) {
  // The wall time it started and how long it ran on the steady clock:
  // exact, and never before it started, whatever the wall clock did meanwhile.
  const absl::Time ended_at =
      supply_->started_at + std::max(absl::ZeroDuration(), steady_end - supply_->started_steady);
  const v1::SessionResult result =
      ResultOf(supply_->request, SnapshotLocked(steady_end), options_.info.price_eur_per_kwh(),
               ended_at, reason);
  supply_.reset();
  RecordResultLocked(result);
  SaveJournalLocked();
  LOG(INFO) << Tag() << "Session " << result.session_id()
            << absl::StrFormat(" completed: %.2f kWh, %.2f EUR", result.energy_kwh(),
                               result.amount_eur())
            << " (" << v1::SessionEndReason_Name(reason) << ")";
  PublishPendingLocked(clock_.Steady());
}

uint64_t ChargingEngine::SaveJournalLocked() {
  v1::EngineJournal journal;
  if (supply_.has_value()) {
    *journal.mutable_request() = supply_->request;
    *journal.mutable_supply() = SnapshotLocked(clock_.Steady());
    journal.set_price_eur_per_kwh(options_.info.price_eur_per_kwh());
  }
  for (const auto& [id, result] : pending_) *journal.add_pending_results() = result;
  // Written on the writer's thread; the supply goes on whatever the disk does.
  return journal_writer_.Post(std::move(journal));
}

void ChargingEngine::PublishPendingLocked(absl::Time steady) {
  for (const auto& [id, result] : pending_) {
    if (in_flight_.count(id) > 0) continue;
    const uint64_t attempt = ++attempts_;
    in_flight_[id] = {attempt, steady};
    absl::Status queued = publisher_.PublishResult(
        result, [this, id = id, attempt](absl::Status status) {
          OnResultDelivered(id, attempt, status);
        });
    if (!queued.ok()) {
      in_flight_.erase(id);
      LOG(WARNING) << Tag() << "result of session " << id
                   << " not queued (kept in the journal, retrying): " << queued;
    }
  }
}

void ChargingEngine::ExpireInFlightLocked(absl::Time steady) {
  for (auto it = in_flight_.begin(); it != in_flight_.end();) {
    if (steady - it->second.since < options_.result_delivery_timeout) {
      ++it;
      continue;
    }
    LOG(WARNING) << Tag() << "result of session " << it->first << " has had no delivery report for "
                 << absl::FormatDuration(steady - it->second.since) << "; publishing it again";
    it = in_flight_.erase(it);
  }
}

void ChargingEngine::OnResultDelivered(const std::string& session_id, uint64_t attempt,
                                       const absl::Status& status) {
  absl::MutexLock lock(&mu_);
  auto it = in_flight_.find(session_id);
  if (!status.ok()) {
    // An older attempt failing says nothing of the one now in flight.
    if (it == in_flight_.end() || it->second.attempt != attempt) return;
    in_flight_.erase(it);
    LOG(WARNING) << Tag() << "result of session " << session_id
                 << " not delivered yet (kept in the journal, retrying): " << status;
    return;
  }
  // Kafka has it, from whichever attempt: nothing is left to send.
  if (it != in_flight_.end()) in_flight_.erase(it);
  if (pending_.erase(session_id) > 0) SaveJournalLocked();
}

}  // namespace evnet
