#include "cp_monitor/health_monitor.h"

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "glog/logging.h"

namespace evnet {

Monitor::Monitor(MonitorOptions options, Clock& clock, EngineClient& engine)
    : options_(std::move(options)),
      clock_(clock),
      engine_(engine),
      tracker_(options_.failure_threshold),
      started_(clock.Steady()) {
  info_.set_cp_id(options_.cp_id);
}

std::string Monitor::Tag() const { return absl::StrCat("CP_M:", options_.cp_id, " | "); }

void Monitor::CheckOnce() {
  absl::StatusOr<v1::CheckResponse> check = engine_.Check(options_.check_timeout);
  v1::MonitorMessage report;
  bool info_changed = false;
  {
    absl::MutexLock lock(&mu_);
    last_check_at_ = clock_.Now();
    if (check.ok() && check->info().cp_id() != options_.cp_id) {
      check = absl::FailedPreconditionError(absl::StrCat(
          "the engine says it is ", check->info().cp_id(), ", not ", options_.cp_id));
    }
    if (!check.ok() && !engine_known_ &&
        clock_.Steady() - started_ < options_.startup_grace) {
      // Not up yet: nothing is counted, and central is not told anything.
      if (!waiting_logged_) {
        LOG(INFO) << Tag() << "Waiting for the engine to start (" << check.status().message()
                  << "); no fault is counted for the first "
                  << absl::FormatDuration(options_.startup_grace);
        waiting_logged_ = true;
      }
      return;
    }
    HealthTracker::Change change = tracker_.Record(check.ok());
    if (check.ok()) {
      engine_known_ = true;
      last_check_ = *check;
      pending_results_.assign(check->pending_results().begin(), check->pending_results().end());
      info_changed = !(check->info().SerializeAsString() == info_.SerializeAsString());
      if (info_changed) info_ = check->info();
    } else {
      last_check_.Clear();
      LOG(WARNING) << Tag() << "Health check failed (" << change.consecutive_failures
                   << "): " << check.status().message();
    }
    if (change.fault_detected) {
      LOG(ERROR) << Tag() << "FAULT DETECTED";
      fault_unsent_ = true;
      restoration_unsent_ = false;
    }
    if (change.health_restored) {
      LOG(INFO) << Tag() << "Health restored";
      restoration_unsent_ = true;
      fault_unsent_ = false;
    }
    report = ReportLocked();
  }
  if (uplink_ == nullptr) return;
  if (info_changed) uplink_->Send(Registration());
  if (!uplink_->Send(report)) return;
  absl::MutexLock lock(&mu_);
  if (fault_unsent_ && !report.health().engine_ok()) {
    LOG(INFO) << Tag() << "Fault notification sent to Central";
    fault_unsent_ = false;
  }
  if (restoration_unsent_ && report.health().engine_ok()) {
    LOG(INFO) << Tag() << "Health restoration notification sent to Central";
    restoration_unsent_ = false;
  }
}

v1::MonitorMessage Monitor::Registration() const {
  absl::MutexLock lock(&mu_);
  v1::MonitorMessage message;
  *message.mutable_register_() = info_;
  return message;
}

v1::MonitorMessage Monitor::LastReport() const {
  absl::MutexLock lock(&mu_);
  return ReportLocked();
}

v1::MonitorMessage Monitor::ReportLocked() const {
  v1::MonitorMessage message;
  v1::HealthReport* health = message.mutable_health();
  health->set_engine_ok(!tracker_.faulty());
  health->set_consecutive_failures(tracker_.consecutive_failures());
  health->set_engine_state(tracker_.faulty() ? v1::ENGINE_STATE_FAULT : last_check_.state());
  if (last_check_.has_supply()) *health->mutable_supply() = last_check_.supply();
  *health->mutable_checked_at() = ToProto(last_check_at_);
  for (const std::string& session_id : pending_results_) health->add_pending_results(session_id);
  return message;
}

v1::CommandResult Monitor::HandleCommand(const v1::CentralCommand& command) {
  absl::Status status;
  switch (command.kind_case()) {
    case v1::CentralCommand::kStartSupply:
      LOG(INFO) << Tag() << "Start supply for " << command.start_supply().driver_id()
                << ", session " << command.start_supply().session_id();
      status = engine_.StartSupply(command.start_supply(), options_.command_timeout);
      break;
    case v1::CentralCommand::kStopSupply:
      LOG(INFO) << Tag() << "Stop supply, session " << command.stop_supply().session_id();
      status = engine_.StopSupply(command.stop_supply(), options_.command_timeout);
      break;
    case v1::CentralCommand::kAvailability:
      // The engine has no availability of its own: central refuses sessions
      // at a stopped CP, and a running one was stopped with kStopSupply.
      LOG(INFO) << Tag() << "The operator "
                << (command.availability().operative() ? "resumed" : "stopped") << " this CP";
      break;
    default:
      status = absl::InvalidArgumentError("unknown command");
  }
  if (!status.ok()) LOG(WARNING) << Tag() << "Command " << command.command_id() << ": " << status;
  v1::CommandResult result;
  result.set_command_id(command.command_id());
  result.set_code(static_cast<int>(status.code()));
  result.set_message(std::string(status.message()));
  return result;
}

bool Monitor::checks_failing() const {
  absl::MutexLock lock(&mu_);
  return tracker_.consecutive_failures() > 0;
}

bool Monitor::engine_known() const {
  absl::MutexLock lock(&mu_);
  return engine_known_;
}

bool Monitor::engine_faulty() const {
  absl::MutexLock lock(&mu_);
  return tracker_.faulty();
}

}  // namespace evnet
