#include "cp_engine/charging_engine.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/proto_time.h"
#include "common/validation.h"
#include "cp_engine/meter.h"
#include "glog/logging.h"

namespace evnet {

ChargingEngine::ChargingEngine(EngineOptions options, Clock& clock, EventPublisher& publisher)
    : options_(std::move(options)),
      clock_(clock),
      publisher_(publisher),
      journal_(options_.state_dir),
      journal_writer_([this](const v1::EngineJournal& journal) { return journal_.Save(journal); }) {}

std::string ChargingEngine::Tag() const { return absl::StrCat("CP_E:", options_.info.cp_id(), " | "); }

absl::Status ChargingEngine::Recover() {
  absl::Status opened = journal_.Open();
  if (!opened.ok()) return opened;
  absl::StatusOr<v1::EngineJournal> journal = journal_.Load();
  if (!journal.ok()) return journal.status();

  absl::MutexLock lock(&mu_);
  for (const v1::SessionResult& result : journal->pending_results()) RecordResultLocked(result);
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
    if (absl::Status valid = ValidateSessionResult(result); !valid.ok()) {
      return absl::DataLossError(absl::StrCat("the journal ", journal_.path(),
                                              " cannot be billed: ", valid.message()));
    }
    RecordResultLocked(result);
    LOG(WARNING) << Tag() << "Session " << result.session_id()
                 << " was cut short by an engine failure: "
                 << absl::StrFormat("%.2f kWh, %.2f EUR", result.energy_kwh(), result.amount_eur());
  }
  SaveJournalLocked(clock_.Now());
  if (!pending_.empty()) {
    LOG(INFO) << Tag() << "Publishing " << pending_.size() << " journaled session result(s)";
  }
  PublishPendingLocked();
  return absl::OkStatus();
}

absl::StatusOr<v1::CheckResponse> ChargingEngine::Check() {
  absl::MutexLock lock(&mu_);
  if (fault_) return absl::UnavailableError(absl::StrCat(options_.info.cp_id(), " is in fault"));
  v1::CheckResponse response;
  *response.mutable_info() = options_.info;
  if (supply_.has_value()) {
    response.set_state(v1::ENGINE_STATE_SUPPLYING);
    *response.mutable_supply() = SnapshotLocked(clock_.Now());
  } else {
    response.set_state(v1::ENGINE_STATE_IDLE);
  }
  return response;
}

absl::StatusOr<v1::StartSupplyResponse> ChargingEngine::StartSupply(
    const v1::StartSupplyRequest& request) {
  if (request.session_id().empty()) return absl::InvalidArgumentError("session_id is empty");
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.Now();
  v1::StartSupplyResponse response;
  if (supply_.has_value() && supply_->request.session_id() == request.session_id()) {
    *response.mutable_supply() = SnapshotLocked(now);  // a repeated start: same session
    return response;
  }
  if (ended_.count(request.session_id()) > 0) {
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
  supply.started_at = now;
  supply.duration = request.has_max_duration() ? FromProto(request.max_duration())
                                               : options_.session_duration;
  if (request.target_energy_kwh() > 0) {
    supply.duration = std::min(
        supply.duration, TimeToSupply(options_.info.power_kw(), request.target_energy_kwh()));
  }
  supply_ = std::move(supply);
  SaveJournalLocked(now);
  LOG(INFO) << Tag() << "Supplying session " << request.session_id() << " for "
            << request.driver_id() << " at " << options_.info.power_kw() << " kW";
  *response.mutable_supply() = SnapshotLocked(now);
  return response;
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
  EndSupplyLocked(reason, clock_.Now());
  response.set_was_supplying(true);
  return response;
}

absl::StatusOr<v1::SimulateResponse> ChargingEngine::Simulate(
    const v1::SimulateRequest& request) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.Now();
  switch (request.action()) {
    case v1::SIMULATE_ACTION_UNPLUG:
      if (supply_.has_value()) EndSupplyLocked(v1::SESSION_END_REASON_UNPLUGGED, now);
      break;
    case v1::SIMULATE_ACTION_FAULT:
      if (!fault_) LOG(WARNING) << Tag() << "Simulated fault: engine KO";
      fault_ = true;
      if (supply_.has_value()) EndSupplyLocked(v1::SESSION_END_REASON_ENGINE_FAILURE, now);
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
  const absl::Time now = clock_.Now();
  if (supply_.has_value()) {
    const bool done = now - supply_->started_at >= supply_->duration;
    if (done) {
      const bool target = supply_->request.target_energy_kwh() > 0 &&
                          supply_->duration == TimeToSupply(options_.info.power_kw(),
                                                            supply_->request.target_energy_kwh());
      const bool limited = supply_->request.has_max_duration();
      EndSupplyLocked(target    ? v1::SESSION_END_REASON_TARGET_ENERGY_REACHED
                      : limited ? v1::SESSION_END_REASON_DURATION_REACHED
                                : v1::SESSION_END_REASON_UNPLUGGED,
                      supply_->started_at + supply_->duration);
    } else {
      v1::SupplyTelemetry telemetry;
      telemetry.set_cp_id(options_.info.cp_id());
      *telemetry.mutable_supply() = SnapshotLocked(now);
      *telemetry.mutable_measured_at() = ToProto(now);
      SaveJournalLocked(now);
      publisher_.PublishTelemetry(telemetry);
    }
  }
  PublishPendingLocked();
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

v1::SupplySnapshot ChargingEngine::SnapshotLocked(absl::Time now) const {
  v1::SupplySnapshot snapshot;
  const absl::Duration elapsed = std::min(now - supply_->started_at, supply_->duration);
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
  result.set_amount_eur(supplied.amount_eur());
  result.set_end_reason(reason);
  return result;
}

void ChargingEngine::RecordResultLocked(const v1::SessionResult& result) {
  pending_[result.session_id()] = result;
  if (ended_.insert(result.session_id()).second) ended_order_.push_back(result.session_id());
  while (ended_order_.size() > kRememberedSessions) {
    ended_.erase(ended_order_.front());
    ended_order_.pop_front();
  }
}

void ChargingEngine::EndSupplyLocked(v1::SessionEndReason reason, absl::Time now) {
  const v1::SessionResult result =
      ResultOf(supply_->request, SnapshotLocked(now), options_.info.price_eur_per_kwh(),
               std::max(now, supply_->started_at), reason);
  supply_.reset();
  RecordResultLocked(result);
  SaveJournalLocked(now);
  LOG(INFO) << Tag() << "Session " << result.session_id()
            << absl::StrFormat(" completed: %.2f kWh, %.2f EUR", result.energy_kwh(),
                               result.amount_eur())
            << " (" << v1::SessionEndReason_Name(reason) << ")";
  PublishPendingLocked();
}

void ChargingEngine::SaveJournalLocked(absl::Time now) {
  v1::EngineJournal journal;
  if (supply_.has_value()) {
    *journal.mutable_request() = supply_->request;
    *journal.mutable_supply() = SnapshotLocked(now);
    journal.set_price_eur_per_kwh(options_.info.price_eur_per_kwh());
  }
  for (const auto& [id, result] : pending_) *journal.add_pending_results() = result;
  // Written on the writer's thread; the supply goes on whatever the disk does.
  journal_writer_.Post(std::move(journal));
}

void ChargingEngine::PublishPendingLocked() {
  for (const auto& [id, result] : pending_) {
    if (!in_flight_.insert(id).second) continue;
    absl::Status queued = publisher_.PublishResult(
        result, [this, id = id](absl::Status status) { OnResultDelivered(id, status); });
    if (!queued.ok()) {
      in_flight_.erase(id);
      LOG(WARNING) << Tag() << "result of session " << id
                   << " not queued (kept in the journal, retrying): " << queued;
    }
  }
}

void ChargingEngine::OnResultDelivered(const std::string& session_id,
                                       const absl::Status& status) {
  absl::MutexLock lock(&mu_);
  in_flight_.erase(session_id);
  if (!status.ok()) {
    LOG(WARNING) << Tag() << "result of session " << session_id
                 << " not delivered yet (kept in the journal, retrying): " << status;
    return;
  }
  if (pending_.erase(session_id) > 0) SaveJournalLocked(clock_.Now());
}

}  // namespace evnet
