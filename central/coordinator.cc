#include "central/coordinator.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/ids.h"
#include "common/proto_time.h"
#include "glog/logging.h"

namespace evnet {
namespace {

bool Open(const v1::Session& session) { return session.state() != v1::SESSION_STATE_ENDED; }

// A session (or, with no session id, just the request's parties) as the
// coordinator records it.
v1::Session SessionFor(const v1::DriverRequest& request, const std::string& session_id,
                       v1::SessionState state) {
  v1::Session session;
  session.set_session_id(session_id);
  session.set_request_id(request.request_id());
  session.set_driver_id(request.driver_id());
  session.set_cp_id(request.cp_id());
  session.set_state(state);
  *session.mutable_requested_at() = request.requested_at();
  return session;
}

std::string Describe(v1::CpStatus status) {
  switch (status) {
    case v1::CP_STATUS_STOPPED:
      return "out of order (STOPPED)";
    case v1::CP_STATUS_SUPPLYING:
      return "busy (SUPPLYING)";
    default:
      return StatusName(status);
  }
}

}  // namespace

SessionCoordinator::SessionCoordinator(CoordinatorOptions options, Clock& clock,
                                       Registry& registry, CommandSender& sender,
                                       UpdatePublisher& publisher, Metrics& metrics)
    : options_(options),
      clock_(clock),
      registry_(registry),
      sender_(sender),
      publisher_(publisher),
      metrics_(metrics) {}

void SessionCoordinator::RestoreUpdate(const v1::DriverUpdate& update) {
  absl::MutexLock lock(&mu_);
  switch (update.kind()) {
    case v1::UPDATE_KIND_REJECTED:
      answered_requests_.insert(update.request_id());
      break;
    case v1::UPDATE_KIND_ACCEPTED: {
      answered_requests_.insert(update.request_id());
      v1::Session& session = sessions_[update.session_id()];
      if (session.state() == v1::SESSION_STATE_ENDED) break;
      session.set_session_id(update.session_id());
      session.set_request_id(update.request_id());
      session.set_driver_id(update.driver_id());
      session.set_cp_id(update.cp_id());
      session.set_state(v1::SESSION_STATE_SUPPLYING);
      *session.mutable_requested_at() = update.sent_at();
      break;
    }
    case v1::UPDATE_KIND_ENDED: {
      ticketed_.insert(update.session_id());
      v1::Session& session = sessions_[update.session_id()];
      session.set_session_id(update.session_id());
      session.set_request_id(update.request_id());
      session.set_driver_id(update.driver_id());
      session.set_cp_id(update.cp_id());
      session.set_state(v1::SESSION_STATE_ENDED);
      *session.mutable_ticket() = update.ticket();
      break;
    }
    case v1::UPDATE_KIND_INTERRUPTED:
      interrupted_.insert(update.session_id());
      break;
    default:
      break;
  }
}

void SessionCoordinator::RestoreResult(const v1::SessionResult& result) {
  absl::MutexLock lock(&mu_);
  unticketed_[result.session_id()] = result;
}

absl::Status SessionCoordinator::SendMissingTickets() {
  std::vector<v1::SessionResult> results;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, result] : unticketed_) {
      if (ticketed_.count(id) == 0) results.push_back(result);
    }
    unticketed_.clear();
  }
  for (const v1::SessionResult& result : results) {
    absl::Status sent = HandleResult(result);
    if (!sent.ok()) return sent;
  }
  return absl::OkStatus();
}

absl::Status SessionCoordinator::HandleRequest(const v1::DriverRequest& original,
                                               const KafkaMessage& message) {
  v1::DriverRequest request = original;
  if (request.driver_id().empty()) request.set_driver_id(message.key);
  if (request.driver_id().empty()) {
    LOG(WARNING) << "Central | Request at " << message.topic << "/" << message.partition << "@"
                 << message.offset << " names no driver and has no key; skipped";
    return absl::OkStatus();
  }
  if (request.request_id().empty()) {
    // Stable across redeliveries of the same message.
    request.set_request_id(absl::StrCat("req-", message.partition, "-", message.offset));
  }
  if (!request.has_requested_at() && message.timestamp != absl::InfinitePast()) {
    *request.mutable_requested_at() = ToProto(message.timestamp);
  }

  const std::string session_id = absl::StrCat("s-", request.request_id());
  std::optional<v1::Session> created;
  {
    absl::MutexLock lock(&mu_);
    if (answered_requests_.count(request.request_id()) > 0) {
      LOG(INFO) << "Central | Duplicate request " << request.request_id() << " from "
                << request.driver_id() << " ignored";
      return absl::OkStatus();
    }
    auto it = sessions_.find(session_id);
    // Started before, but its acceptance did not reach Kafka: say it again.
    if (it != sessions_.end()) created = it->second;
  }
  if (created.has_value()) return PublishAccepted(*created);

  const std::string& cp = request.cp_id();
  if (cp.empty()) return Reject(request, "invalid", "the request names no charging point");
  const absl::Duration waited = clock_.Now() - FromProto(request.requested_at());
  if (request.has_requested_at() && waited > options_.request_ttl) {
    return Reject(request, "expired", absl::StrFormat("request expired: it waited %s in the queue, longer than %s",
                                           absl::FormatDuration(absl::Trunc(waited, absl::Seconds(1))),
                                           absl::FormatDuration(options_.request_ttl)));
  }
  if (!registry_.Known(cp)) return Reject(request, "unknown_cp", absl::StrCat(cp, " is not a known charging point"));
  if (absl::StatusOr<v1::ChargingPoint> now = registry_.Get(cp);
      now.ok() && now->supply().session_id() == session_id) {
    // Central died after starting this very session and before saying so:
    // the CP is supplying it, so it is accepted, not refused as busy.
    const v1::Session running = SessionFor(request, session_id, v1::SESSION_STATE_SUPPLYING);
    {
      absl::MutexLock lock(&mu_);
      sessions_[session_id] = running;
    }
    return PublishAccepted(running);
  }
  const v1::CpStatus status = registry_.Status(cp);
  if (status != v1::CP_STATUS_ACTIVE) return Reject(request, "not_active", absl::StrCat(cp, " is ", Describe(status)));

  v1::Session session;
  std::string busy;
  {
    absl::MutexLock lock(&mu_);
    if (auto open = OpenSessionWhereLocked("", request.driver_id()); open.has_value()) {
      busy = absl::StrCat(request.driver_id(), " already has a session at ", open->cp_id());
    } else if (OpenSessionWhereLocked(cp, "").has_value()) {
      busy = absl::StrCat(cp, " is busy (SUPPLYING)");
    } else {
      session = SessionFor(request, session_id, v1::SESSION_STATE_STARTING);
      sessions_[session_id] = session;
    }
  }
  if (!busy.empty()) return Reject(request, "busy", busy);

  LOG(INFO) << "Central | START_SUPPLY " << cp << " " << request.driver_id() << " session "
            << session_id;
  v1::CentralCommand command;
  command.set_command_id(absl::StrCat("start-", session_id));
  v1::StartSupplyRequest* start = command.mutable_start_supply();
  start->set_session_id(session_id);
  start->set_request_id(request.request_id());
  start->set_driver_id(request.driver_id());
  absl::Status started = sender_.SendCommand(cp, command, options_.command_timeout);
  if (!started.ok()) {
    {
      absl::MutexLock lock(&mu_);
      sessions_.erase(session_id);
    }
    return Reject(request, "start_failed",
                  absl::StrCat(cp, " could not start the supply: ", started.message()));
  }
  {
    absl::MutexLock lock(&mu_);
    sessions_[session_id].set_state(v1::SESSION_STATE_SUPPLYING);
    session = sessions_[session_id];
  }
  metrics_.RequestAccepted(clock_.Now() - FromProto(request.requested_at()));
  return PublishAccepted(session);
}

absl::Status SessionCoordinator::PublishAccepted(const v1::Session& session) {
  v1::DriverUpdate accepted = NewUpdate(session, v1::UPDATE_KIND_ACCEPTED, "accepted");
  absl::Status published = publisher_.Publish(accepted);
  if (!published.ok()) return published;
  v1::DriverUpdate started = NewUpdate(session, v1::UPDATE_KIND_SUPPLY_STARTED, "started");
  started.mutable_progress()->set_session_id(session.session_id());
  started.mutable_progress()->set_driver_id(session.driver_id());
  published = publisher_.Publish(started);
  if (!published.ok()) return published;
  absl::MutexLock lock(&mu_);
  answered_requests_.insert(session.request_id());
  return absl::OkStatus();
}

absl::Status SessionCoordinator::Reject(const v1::DriverRequest& request,
                                        absl::string_view label, const std::string& reason) {
  const v1::Session parties = SessionFor(request, "", v1::SESSION_STATE_UNSPECIFIED);
  v1::DriverUpdate update = NewUpdate(parties, v1::UPDATE_KIND_REJECTED, "rejected");
  update.set_rejection_reason(reason);
  absl::Status published = publisher_.Publish(update);
  if (!published.ok()) return published;
  LOG(INFO) << "Central | Request " << request.request_id() << " from " << request.driver_id()
            << " rejected: " << reason;
  metrics_.RequestRejected(label);
  absl::MutexLock lock(&mu_);
  answered_requests_.insert(request.request_id());
  return absl::OkStatus();
}

absl::Status SessionCoordinator::HandleResult(const v1::SessionResult& result) {
  if (result.session_id().empty() || result.driver_id().empty()) {
    LOG(WARNING) << "Central | Session result without session or driver id skipped";
    return absl::OkStatus();
  }
  v1::Session session;
  {
    absl::MutexLock lock(&mu_);
    if (ticketed_.count(result.session_id()) > 0) return absl::OkStatus();
    auto it = sessions_.find(result.session_id());
    if (it != sessions_.end()) session = it->second;
  }
  session.set_session_id(result.session_id());
  session.set_request_id(result.request_id());
  session.set_driver_id(result.driver_id());
  session.set_cp_id(result.cp_id());
  v1::DriverUpdate ended = NewUpdate(session, v1::UPDATE_KIND_ENDED, "ended");
  *ended.mutable_ticket() = result;
  absl::Status published = publisher_.Publish(ended);
  if (!published.ok()) return published;
  LOG(INFO) << "Central | Session " << result.session_id() << " at " << result.cp_id() << " for "
            << result.driver_id() << " ended ("
            << v1::SessionEndReason_Name(result.end_reason()) << "): "
            << absl::StrFormat("%.2f kWh, %.2f EUR", result.energy_kwh(), result.amount_eur())
            << "; ticket sent";
  metrics_.SessionCompleted(result.end_reason());
  absl::MutexLock lock(&mu_);
  ticketed_.insert(result.session_id());
  session.set_state(v1::SESSION_STATE_ENDED);
  *session.mutable_ticket() = result;
  session.clear_supply();
  sessions_[result.session_id()] = session;
  last_progress_.erase(result.session_id());
  progress_count_.erase(result.session_id());
  return absl::OkStatus();
}

absl::Status SessionCoordinator::HandleTelemetry(const v1::SupplyTelemetry& telemetry) {
  const std::string& id = telemetry.supply().session_id();
  const absl::Time now = clock_.Now();
  v1::DriverUpdate progress;
  {
    absl::MutexLock lock(&mu_);
    auto it = sessions_.find(id);
    if (it == sessions_.end() || !Open(it->second)) return absl::OkStatus();
    *it->second.mutable_supply() = telemetry.supply();
    // Old samples (read again after a restart) update the record, not drivers.
    if (now - FromProto(telemetry.measured_at()) > options_.progress_interval * 3) {
      return absl::OkStatus();
    }
    auto last = last_progress_.find(id);
    if (last != last_progress_.end() && now - last->second < options_.progress_interval) {
      return absl::OkStatus();
    }
    last_progress_[id] = now;
    const int n = ++progress_count_[id];
    progress = NewUpdate(it->second, v1::UPDATE_KIND_PROGRESS, absl::StrCat("progress-", n));
    *progress.mutable_progress() = telemetry.supply();
  }
  absl::Status published = publisher_.Publish(progress);
  // Progress is best effort: the next sample brings a newer one.
  if (!published.ok()) VLOG(1) << "progress update not sent: " << published;
  return absl::OkStatus();
}

void SessionCoordinator::OnStatusChange(const StatusChange& change) {
  const std::string& cp = change.cp_id;
  if (change.to == v1::CP_STATUS_BROKEN) {
    LOG(WARNING) << "Central | CP " << cp << " marked as FAULTY";
    metrics_.FaultDetected();
    std::optional<v1::Session> session;
    {
      absl::MutexLock lock(&mu_);
      session = OpenSessionWhereLocked(cp, "");
      if (session.has_value() && !interrupted_.insert(session->session_id()).second) {
        session.reset();  // the driver was told already
      }
    }
    if (session.has_value()) {
      LOG(WARNING) << "Central | CP " << cp << " has active session with " << session->driver_id();
      v1::DriverUpdate update = NewUpdate(*session, v1::UPDATE_KIND_INTERRUPTED, "interrupted");
      update.set_rejection_reason(absl::StrCat(
          cp, " failed during your session; your ticket follows when it is back"));
      absl::Status published = publisher_.Publish(update);
      if (!published.ok()) LOG(WARNING) << "Central | cannot tell " << session->driver_id() << ": " << published;
    }
    return;
  }
  if (change.from == v1::CP_STATUS_BROKEN &&
      (change.to == v1::CP_STATUS_ACTIVE || change.to == v1::CP_STATUS_SUPPLYING)) {
    LOG(INFO) << "Central | CP " << cp << " fault cleared, now available";
    return;
  }
  LOG(INFO) << "Central | CP " << cp << " is " << StatusName(change.to);
}

absl::Status SessionCoordinator::StopSessionAt(const std::string& cp_id) {
  std::optional<v1::Session> session;
  {
    absl::MutexLock lock(&mu_);
    session = OpenSessionWhereLocked(cp_id, "");
  }
  v1::CentralCommand command;
  command.set_command_id(NewId(absl::StrCat("stop-", cp_id)));
  v1::StopSupplyRequest* stop = command.mutable_stop_supply();
  if (session.has_value()) stop->set_session_id(session->session_id());
  stop->set_reason(v1::SESSION_END_REASON_STOPPED_BY_OPERATOR);
  return sender_.SendCommand(cp_id, command, options_.command_timeout);
}

std::vector<v1::Session> SessionCoordinator::Sessions(const v1::ListSessionsRequest& filter) const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::Session> out;
  for (const auto& [id, session] : sessions_) {
    if (!filter.cp_id().empty() && session.cp_id() != filter.cp_id()) continue;
    if (!filter.driver_id().empty() && session.driver_id() != filter.driver_id()) continue;
    out.push_back(session);
  }
  return out;
}

int SessionCoordinator::RunningSessions() const {
  absl::MutexLock lock(&mu_);
  int running = 0;
  for (const auto& [id, session] : sessions_) running += Open(session) ? 1 : 0;
  return running;
}

std::optional<v1::Session> SessionCoordinator::OpenSessionWhereLocked(
    const std::string& cp_id, const std::string& driver_id) const {
  for (const auto& [id, session] : sessions_) {
    if (!Open(session)) continue;
    if (!cp_id.empty() && session.cp_id() == cp_id) return session;
    if (!driver_id.empty() && session.driver_id() == driver_id) return session;
  }
  return std::nullopt;
}

v1::DriverUpdate SessionCoordinator::NewUpdate(const v1::Session& session, v1::UpdateKind kind,
                                               const std::string& suffix) const {
  v1::DriverUpdate update;
  // Stable for the same step of the same request, so a driver can show each once.
  update.set_update_id(absl::StrCat(
      session.request_id().empty() ? session.session_id() : session.request_id(), "/", suffix));
  update.set_request_id(session.request_id());
  update.set_driver_id(session.driver_id());
  update.set_cp_id(session.cp_id());
  update.set_session_id(session.session_id());
  update.set_kind(kind);
  *update.mutable_sent_at() = ToProto(clock_.Now());
  return update;
}

}  // namespace evnet
