#include "central/coordinator.h"

#include <cmath>
#include <memory>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/crash_point.h"
#include "common/ids.h"
#include "common/money.h"
#include "common/proto_time.h"
#include "common/trust/signing.h"
#include "common/validation.h"
#include "glog/logging.h"

namespace evnet {
namespace {

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

// Prices are compared as they are billed: to 1/10,000 EUR per kWh.
bool SamePrice(double a, double b) { return std::llround(a * 1e4) == std::llround(b * 1e4); }

std::function<absl::Status()> Always() {
  return [] { return absl::OkStatus(); };
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
      metrics_(metrics),
      answered_requests_(options.request_ttl + 2 * options.clock_skew),
      ticketed_(options.result_dedupe_window),
      refused_(options.result_dedupe_window) {}

void SessionCoordinator::AddOpenLocked(const v1::Session& session,
                                       const std::string& telemetry_key) {
  Open& open = open_[session.session_id()];
  open.session = session;
  open.telemetry_key = telemetry_key;
  open_by_cp_[session.cp_id()] = session.session_id();
  open_by_driver_[session.driver_id()] = session.session_id();
}

void SessionCoordinator::EndLocked(const v1::Session& session, const v1::SessionResult* ticket) {
  const std::string& session_id = session.session_id();
  auto it = open_.find(session_id);
  const v1::Session& known = it == open_.end() ? session : it->second.session;
  if (ticket != nullptr) {
    v1::Session ended = known;
    ended.set_state(v1::SESSION_STATE_ENDED);
    ended.clear_supply();
    *ended.mutable_ticket() = *ticket;
    ended_.push_back(std::move(ended));
    while (ended_.size() > options_.keep_ended) ended_.pop_front();
  }
  if (it == open_.end()) return;
  auto by_cp = open_by_cp_.find(known.cp_id());
  if (by_cp != open_by_cp_.end() && by_cp->second == session_id) open_by_cp_.erase(by_cp);
  auto by_driver = open_by_driver_.find(known.driver_id());
  if (by_driver != open_by_driver_.end() && by_driver->second == session_id) {
    open_by_driver_.erase(by_driver);
  }
  open_.erase(it);
}

void SessionCoordinator::FinishRestore() {
  absl::MutexLock lock(&mu_);
  // Partitions are read in no common order: index what is open at the end.
  open_by_cp_.clear();
  open_by_driver_.clear();
  for (const auto& [id, open] : open_) {
    open_by_cp_[open.session.cp_id()] = id;
    open_by_driver_[open.session.driver_id()] = id;
  }
}

const SessionCoordinator::Open* SessionCoordinator::OpenAtLocked(const std::string& cp_id) const {
  auto by_cp = open_by_cp_.find(cp_id);
  if (by_cp == open_by_cp_.end()) return nullptr;
  auto it = open_.find(by_cp->second);
  return it == open_.end() ? nullptr : &it->second;
}

void SessionCoordinator::RestoreOpenSession(const v1::OpenSession& record) {
  absl::MutexLock lock(&mu_);
  const std::string& id = record.session_id();
  refused_open_.erase(id);
  if (auto it = open_.find(id); it != open_.end()) open_.erase(it);
  if (record.state() == v1::OPEN_SESSION_STATE_REFUSED) {
    refused_open_[id].record = record;
    return;
  }
  v1::Session session;
  session.set_session_id(id);
  session.set_request_id(record.request_id());
  session.set_driver_id(record.driver_id());
  session.set_cp_id(record.cp_id());
  session.set_state(v1::SESSION_STATE_SUPPLYING);
  *session.mutable_requested_at() = record.requested_at();
  Open& open = open_[id];
  open.session = session;
  open.record = record;
  open.telemetry_key = record.telemetry_key();
}

void SessionCoordinator::RestoreClosedSession(const std::string& session_id) {
  absl::MutexLock lock(&mu_);
  open_.erase(session_id);
  refused_open_.erase(session_id);
}

void SessionCoordinator::RestoreUpdate(const v1::DriverUpdate& update) {
  absl::MutexLock lock(&mu_);
  // Remembered from now, not from when they were written: a central down
  // for longer than the window still recognises the copies of what it
  // answered last, which Kafka delivers again first.
  const absl::Time at = std::max(FromProto(update.sent_at()), clock_.Now());
  switch (update.kind()) {
    case v1::UPDATE_KIND_REJECTED:
      answered_requests_.Insert(update.request_id(), at);
      // A start that failed: its session is never billed.
      if (!update.session_id().empty()) refused_.Insert(update.session_id(), at);
      break;
    case v1::UPDATE_KIND_ACCEPTED:
      answered_requests_.Insert(update.request_id(), at);
      break;
    case v1::UPDATE_KIND_ENDED:
      ticketed_.Insert(update.session_id(), at);
      {
        v1::Session session;
        session.set_session_id(update.session_id());
        session.set_request_id(update.request_id());
        session.set_driver_id(update.driver_id());
        session.set_cp_id(update.cp_id());
        EndLocked(session, &update.ticket());
      }
      break;
    default:
      break;
  }
}

v1::OpenSession SessionCoordinator::RecordOf(const v1::Session& session,
                                             v1::OpenSessionState state,
                                             const std::string& telemetry_key) const {
  v1::OpenSession record;
  record.set_session_id(session.session_id());
  record.set_request_id(session.request_id());
  record.set_driver_id(session.driver_id());
  record.set_cp_id(session.cp_id());
  record.set_state(state);
  *record.mutable_requested_at() = session.requested_at();
  *record.mutable_opened_at() = ToProto(clock_.Now());
  record.set_telemetry_key(telemetry_key);
  if (absl::StatusOr<v1::ChargingPoint> cp = registry_.Get(session.cp_id()); cp.ok()) {
    record.set_price_eur_per_kwh(cp->info().price_eur_per_kwh());
  }
  return record;
}

v1::OpenSession SessionCoordinator::RecordOfAccepted(const v1::DriverUpdate& accepted) const {
  v1::Session session;
  session.set_session_id(accepted.session_id());
  session.set_request_id(accepted.request_id());
  session.set_driver_id(accepted.driver_id());
  session.set_cp_id(accepted.cp_id());
  *session.mutable_requested_at() = accepted.sent_at();
  v1::OpenSession record = RecordOf(session, v1::OPEN_SESSION_STATE_ACCEPTED);
  *record.mutable_opened_at() = accepted.sent_at();
  return record;
}

std::optional<std::pair<std::string, std::string>> SessionCoordinator::Refusal(
    const v1::DriverRequest& request, const KafkaMessage& message) const {
  if (absl::Status valid = ValidateDriverRequest(request); !valid.ok()) {
    if (options_.audit != nullptr) {
      options_.audit->Record({request.driver_id(), absl::StrCat(message.topic, "/",
                                                                message.partition, "@",
                                                                message.offset)},
                             "request", request.cp_id().substr(0, 64), "refused",
                             std::string(valid.message()));
    }
    return std::make_pair("invalid", absl::StrCat("invalid request: ", valid.message()));
  }
  if (request.cp_id().empty()) {
    return std::make_pair("invalid", "the request names no charging point");
  }
  if (!request.has_requested_at()) return std::nullopt;
  // The driver's clock stamped it: within clock_skew of central's, a
  // request is served for request_ttl, whichever way the clock is off.
  const absl::Duration age = clock_.Now() - FromProto(request.requested_at());
  if (age > options_.request_ttl + options_.clock_skew) {
    return std::make_pair(
        "expired", absl::StrFormat("request expired: it was sent %s ago, longer than %s",
                                   absl::FormatDuration(absl::Trunc(age, absl::Seconds(1))),
                                   absl::FormatDuration(options_.request_ttl)));
  }
  if (-age > options_.clock_skew) {
    return std::make_pair(
        "clock", absl::StrFormat("the request is stamped %s ahead of central's clock, more than "
                                 "the %s allowed: check the clock of %s",
                                 absl::FormatDuration(absl::Trunc(-age, absl::Seconds(1))),
                                 absl::FormatDuration(options_.clock_skew), request.driver_id()));
  }
  return std::nullopt;
}

absl::StatusOr<v1::DriverRequest> SessionCoordinator::CheckRequest(
    const v1::DriverRequest& original, const KafkaMessage& message) const {
  v1::DriverRequest request = original;
  if (request.driver_id().empty()) request.set_driver_id(message.key);
  // Without a driver that can be told, a request is set aside, not answered.
  if (absl::Status driver = ValidateId("driver_id (or the message key)", request.driver_id());
      !driver.ok()) {
    return driver;
  }
  // Updates go to the driver the key names; a request in another driver's
  // name is not answered to either of them, but set aside (and audited).
  if (!message.key.empty() && message.key != request.driver_id()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the request names driver ", request.driver_id().substr(0, 64),
                     " but was sent under the key of another driver"));
  }
  if (absl::StartsWith(request.request_id(), "card-")) {
    // Central's, naming a charger's own transaction (OpenChargerSession).
    return absl::InvalidArgumentError(
        "request ids beginning with \"card-\" are central's; the request is not a driver's");
  }
  if (request.request_id().empty()) {
    // Stable across redeliveries of the same message.
    request.set_request_id(absl::StrCat("req-", message.partition, "-", message.offset));
  }
  if (!request.has_requested_at() && message.timestamp != absl::InfinitePast()) {
    *request.mutable_requested_at() = ToProto(message.timestamp);
  }
  return request;
}

SessionCoordinator::Claim SessionCoordinator::ClaimRequest(const v1::DriverRequest& request,
                                                           const std::string& session_id) {
  absl::MutexLock lock(&mu_);
  if (answered_requests_.Contains(request.request_id()) ||
      requests_in_flight_.count(request.request_id()) > 0 ||
      refused_open_.count(session_id) > 0 || refused_.Contains(session_id) ||
      ticketed_.Contains(session_id)) {
    return {Claim::kDuplicate, std::nullopt};
  }
  auto it = open_.find(session_id);
  // Its ticket (or zero ticket) is being written: once it is, this copy is
  // a duplicate. Said again now, it could follow the ticket.
  if (tickets_in_flight_.count(session_id) > 0 || closing_.count(session_id) > 0) {
    return {Claim::kBeingClosed, std::nullopt};
  }
  requests_in_flight_.insert(request.request_id());
  // Accepted before, but the copy that said so was not the last: say it again.
  if (it != open_.end() &&
      (it->second.session.state() == v1::SESSION_STATE_SUPPLYING || it->second.started)) {
    Open accepted = it->second;
    if (accepted.session.state() == v1::SESSION_STATE_SUPPLYING) {
      // Its record is in Kafka since its acceptance was: the driver is told
      // again, the record not written again, so that this decision, however
      // late it lands, can never reopen a session its ticket closed.
      accepted.record.Clear();
    } else if (accepted.record.session_id().empty()) {
      accepted.record =
          RecordOf(accepted.session, v1::OPEN_SESSION_STATE_ACCEPTED, accepted.telemetry_key);
    }
    return {Claim::kAcceptedBefore, std::move(accepted)};
  }
  return {Claim::kNew, std::nullopt};
}

void SessionCoordinator::HandleRequest(const v1::DriverRequest& original,
                                       const KafkaMessage& message, Done done) {
  absl::StatusOr<v1::DriverRequest> checked = CheckRequest(original, message);
  if (!checked.ok()) return done(checked.status());
  const v1::DriverRequest& request = *checked;
  // One outcome per request id, however often and however concurrently it
  // comes: the first copy claims it, the others are ignored.
  const std::string session_id = absl::StrCat("s-", request.request_id());
  Claim claim = ClaimRequest(request, session_id);
  switch (claim.kind) {
    case Claim::kDuplicate:
      LOG(INFO) << "Central | Duplicate request " << request.request_id() << " from "
                << request.driver_id() << " ignored";
      return done(absl::OkStatus());
    case Claim::kBeingClosed:
      return done(absl::UnavailableError(absl::StrCat(
          "session ", session_id, " is being closed; its request comes again")));
    case Claim::kAcceptedBefore:
      return PublishAccepted(claim.accepted->session, claim.accepted->record, std::move(done));
    case Claim::kNew:
      break;
  }
  if (auto refusal = Refusal(request, message); refusal.has_value()) {
    return Reject(request, refusal->first, refusal->second, std::nullopt, std::move(done));
  }
  const std::string& cp = request.cp_id();
  absl::StatusOr<v1::ChargingPoint> now = registry_.Get(cp);
  if (!now.ok()) {
    return Reject(request, "unknown_cp", absl::StrCat(cp, " is not a known charging point"),
                  std::nullopt, std::move(done));
  }
  if (now->supply().session_id() == session_id) {
    return AcceptRunning(request, session_id, *now, std::move(done));
  }
  const v1::CpStatus status = StatusForStart(*now);
  if (status != v1::CP_STATUS_ACTIVE) {
    return Reject(request, "not_active", absl::StrCat(cp, " is ", Describe(status)),
                  std::nullopt, std::move(done));
  }
  const std::string telemetry_key = now->info().telemetry_mac() ? NewTelemetryKey() : "";
  if (absl::Status reserved = Reserve(request, session_id, telemetry_key); !reserved.ok()) {
    if (absl::IsUnavailable(reserved)) return done(reserved);  // comes again
    return Reject(request, "busy", std::string(reserved.message()), std::nullopt,
                  std::move(done));
  }
  SendStart(request, session_id, telemetry_key, now->info().price_eur_per_kwh(), std::move(done));
}

v1::CpStatus SessionCoordinator::StatusForStart(const v1::ChargingPoint& cp) const {
  if (cp.status() != v1::CP_STATUS_SUPPLYING || cp.supply().session_id().empty()) {
    return cp.status();
  }
  // Its monitor reports once a second: a supply it still shows whose ticket
  // is written has ended (one still being written makes the request come
  // again, in Reserve).
  absl::MutexLock lock(&mu_);
  const std::string& id = cp.supply().session_id();
  return ticketed_.Contains(id) || tickets_in_flight_.count(id) > 0 ? v1::CP_STATUS_ACTIVE
                                                                     : cp.status();
}

void SessionCoordinator::AcceptRunning(const v1::DriverRequest& request,
                                       const std::string& session_id,
                                       const v1::ChargingPoint& cp, Done done) {
  // Central died after starting this very session and before saying so:
  // the CP is supplying it, so it is accepted, not refused as busy.
  // Billable once its acceptance is in Kafka (PublishAccepted).
  // The key its CP was sent died with that central: a new one, which no
  // telemetry carries, so that none is believed (its ticket still comes).
  const std::string key = cp.info().telemetry_mac() ? NewTelemetryKey() : "";
  if (!key.empty()) {
    LOG(WARNING) << "Central | Session " << session_id << " at " << cp.info().cp_id()
                 << " goes on without progress for its driver: its telemetry key was lost "
                    "with the central that started it";
  }
  const v1::Session running = SessionFor(request, session_id, v1::SESSION_STATE_STARTING);
  const v1::OpenSession record = RecordOf(running, v1::OPEN_SESSION_STATE_ACCEPTED, key);
  {
    absl::MutexLock lock(&mu_);
    AddOpenLocked(running, key);
    // Said above, once: its CP's own samples are not audited as forged.
    open_[session_id].forged_telemetry_seen = !key.empty();
    open_[session_id].started = true;
    unasked_.erase(session_id);
  }
  PublishAccepted(running, record, std::move(done));
}

void SessionCoordinator::OpenChargerSession(const v1::DriverRequest& request, OpenedDone done) {
  const std::string session_id = absl::StrCat("s-", request.request_id());
  auto start_of = [&request, &session_id](const v1::OpenSession& record) {
    v1::StartSupplyRequest start;
    start.set_session_id(session_id);
    start.set_request_id(request.request_id());
    start.set_driver_id(request.driver_id());
    start.set_telemetry_key(record.telemetry_key());
    start.set_price_eur_per_kwh(record.price_eur_per_kwh());
    return start;
  };
  // Once its acceptance is in Kafka, the session goes to whoever asked.
  auto answer = [done, start_of](const v1::OpenSession& record) {
    return [done, start = start_of(record)](absl::Status published) {
      if (!published.ok()) return done(published);
      done(start);
    };
  };
  std::optional<Open> again;  // opened before, its acceptance not yet in Kafka
  {
    absl::MutexLock lock(&mu_);
    if (requests_in_flight_.count(request.request_id()) > 0 ||
        tickets_in_flight_.count(session_id) > 0 || closing_.count(session_id) > 0) {
      return done(absl::UnavailableError(
          absl::StrCat("session ", session_id, " is being recorded; ask again")));
    }
    if (ticketed_.Contains(session_id) || refused_.Contains(session_id) ||
        refused_open_.count(session_id) > 0) {
      // Closed without the charger's result (its CP never showed it
      // running): nothing more of it is billed.
      return done(absl::FailedPreconditionError(
          absl::StrCat("session ", session_id, " of this transaction was closed already")));
    }
    auto it = open_.find(session_id);
    if (it != open_.end() && (it->second.session.driver_id() != request.driver_id() ||
                              it->second.session.cp_id() != request.cp_id())) {
      return done(absl::FailedPreconditionError(
          absl::StrCat("session ", session_id, " is another driver's or CP's")));
    }
    if (it != open_.end() && it->second.session.state() == v1::SESSION_STATE_SUPPLYING) {
      return done(start_of(it->second.record));
    }
    // A session its CP still holds (its result not read yet: the charger's
    // stop of the transaction before) is waited for, not refused.
    if (auto by_cp = open_by_cp_.find(request.cp_id());
        by_cp != open_by_cp_.end() && by_cp->second != session_id) {
      return done(absl::UnavailableError(absl::StrCat(
          request.cp_id(), " still holds session ", by_cp->second, " open; ask again")));
    }
    // Until its acceptance is in Kafka (or refused), a copy is told to wait.
    requests_in_flight_.insert(request.request_id());
    if (it != open_.end()) again = it->second;
  }
  if (again.has_value()) {
    v1::OpenSession record =
        RecordOf(again->session, v1::OPEN_SESSION_STATE_ACCEPTED, again->telemetry_key);
    if (again->price_eur_per_kwh.has_value()) record.set_price_eur_per_kwh(*again->price_eur_per_kwh);
    return PublishAccepted(again->session, record, answer(record));
  }
  auto refuse = [this, &request, &done](absl::Status why) {
    {
      absl::MutexLock lock(&mu_);
      requests_in_flight_.erase(request.request_id());
    }
    done(std::move(why));
  };
  const std::string& cp = request.cp_id();
  absl::StatusOr<v1::ChargingPoint> now = registry_.Get(cp);
  if (!now.ok()) return refuse(now.status());
  if (now->status() == v1::CP_STATUS_STOPPED || now->status() == v1::CP_STATUS_BROKEN) {
    return refuse(absl::FailedPreconditionError(absl::StrCat(cp, " is ", Describe(now->status()))));
  }
  const std::string telemetry_key = now->info().telemetry_mac() ? NewTelemetryKey() : "";
  if (absl::Status reserved = Reserve(request, session_id, telemetry_key); !reserved.ok()) {
    return refuse(std::move(reserved));
  }
  v1::Session session;
  {
    absl::MutexLock lock(&mu_);
    session = open_[session_id].session;
  }
  session.set_state(v1::SESSION_STATE_SUPPLYING);
  const v1::OpenSession record = RecordOf(session, v1::OPEN_SESSION_STATE_ACCEPTED, telemetry_key);
  {
    absl::MutexLock lock(&mu_);
    Open& open = open_[session_id];
    open.started = true;
    open.price_eur_per_kwh = record.price_eur_per_kwh();
  }
  LOG(INFO) << "Central | Session " << session_id << " of " << request.driver_id()
            << " began at " << cp << " itself";
  PublishAccepted(session, record, answer(record));
}

absl::Status SessionCoordinator::Reserve(const v1::DriverRequest& request,
                                         const std::string& session_id,
                                         const std::string& telemetry_key) {
  absl::MutexLock lock(&mu_);
  const auto by_driver = open_by_driver_.find(request.driver_id());
  const auto by_cp = open_by_cp_.find(request.cp_id());
  // A session whose ticket is being written has ended: its driver may
  // already hold the ticket and ask again. The request waits the moment the
  // ticket takes, rather than being refused as busy.
  for (const auto* holder : {by_driver == open_by_driver_.end() ? nullptr : &by_driver->second,
                             by_cp == open_by_cp_.end() ? nullptr : &by_cp->second}) {
    if (holder != nullptr && tickets_in_flight_.count(*holder) > 0) {
      requests_in_flight_.erase(request.request_id());
      return absl::UnavailableError(
          absl::StrCat("the ticket of session ", *holder, " is being written; asked again"));
    }
  }
  if (by_driver != open_by_driver_.end()) {
    return absl::AlreadyExistsError(
        absl::StrCat(request.driver_id(), " already has a session at ",
                     open_.at(by_driver->second).session.cp_id()));
  }
  if (by_cp != open_by_cp_.end()) {
    return absl::FailedPreconditionError(absl::StrCat(request.cp_id(), " is busy (SUPPLYING)"));
  }
  AddOpenLocked(SessionFor(request, session_id, v1::SESSION_STATE_STARTING), telemetry_key);
  return absl::OkStatus();
}

void SessionCoordinator::SendStart(const v1::DriverRequest& request,
                                   const std::string& session_id,
                                   const std::string& telemetry_key, double price_eur_per_kwh,
                                   Done done) {
  const std::string& cp = request.cp_id();
  LOG(INFO) << "Central | START_SUPPLY " << cp << " " << request.driver_id() << " session "
            << session_id;
  v1::CentralCommand command;
  command.set_command_id(absl::StrCat("start-", session_id));
  v1::StartSupplyRequest* start = command.mutable_start_supply();
  start->set_session_id(session_id);
  start->set_request_id(request.request_id());
  start->set_driver_id(request.driver_id());
  start->set_telemetry_key(telemetry_key);
  start->set_price_eur_per_kwh(price_eur_per_kwh);
  *start->mutable_requested_at() = request.requested_at();
  {
    absl::MutexLock lock(&mu_);
    if (auto it = open_.find(session_id); it != open_.end()) {
      it->second.price_eur_per_kwh = price_eur_per_kwh;
    }
  }
  // Checked in the CP's command order: an operator's stop that got there
  // first wins, and the start is never sent to a stopped CP.
  auto still_active = [this, cp]() -> absl::Status {
    absl::StatusOr<v1::ChargingPoint> now = registry_.Get(cp);
    const v1::CpStatus status = now.ok() ? StatusForStart(*now) : registry_.Status(cp);
    if (status == v1::CP_STATUS_ACTIVE) return absl::OkStatus();
    return absl::AbortedError(absl::StrCat(cp, " is ", Describe(status)));
  };
  sender_.SendCommand(cp, command, options_.command_timeout, still_active,
                      [this, request, session_id, done = std::move(done)](absl::Status started) {
                        Started(request, session_id, std::move(started), done);
                      });
}

void SessionCoordinator::Started(const v1::DriverRequest& request, const std::string& session_id,
                                 absl::Status started, Done done) {
  if (absl::IsAlreadyExists(started)) {
    // The CP ran this very session and ended it: central sent the start,
    // died before writing that it had, and asked again. It is accepted
    // now, and billed from the result the engine publishes again.
    LOG(INFO) << "Central | Session " << session_id << " at " << request.cp_id()
              << " ran while central was away (" << started.message() << "); accepted, and "
              << "billed from its result";
    started = absl::OkStatus();
  }
  if (!started.ok()) {
    // Aborted: never sent; FailedPrecondition: the engine refused it.
    // Anything else (a late answer, a link that broke after the command
    // went out): the engine may have started it after all, so it is held
    // open as refused, in the same transaction as the driver's answer, and
    // stopped at its CP until the CP no longer runs it; never billed.
    std::optional<v1::OpenSession> refused;
    if (!absl::IsAborted(started) && !absl::IsFailedPrecondition(started)) {
      refused = RecordOf(SessionFor(request, session_id, v1::SESSION_STATE_UNSPECIFIED),
                         v1::OPEN_SESSION_STATE_REFUSED);
    }
    {
      absl::MutexLock lock(&mu_);
      v1::Session gone;
      gone.set_session_id(session_id);
      EndLocked(gone, nullptr);
    }
    const std::string& cp = request.cp_id();
    const std::string reason =
        absl::IsAborted(started)
            ? std::string(started.message())
            : absl::StrCat(cp, " could not start the supply: ", started.message());
    return Reject(request, "start_failed", reason, std::move(refused), std::move(done));
  }
  v1::Session session;
  std::string telemetry_key;
  std::optional<double> price;
  {
    absl::MutexLock lock(&mu_);
    auto it = open_.find(session_id);
    if (it == open_.end()) {  // ended meanwhile
      requests_in_flight_.erase(request.request_id());
      return done(absl::OkStatus());
    }
    it->second.started = true;
    session = it->second.session;
    telemetry_key = it->second.telemetry_key;
    price = it->second.price_eur_per_kwh;
  }
  session.set_state(v1::SESSION_STATE_SUPPLYING);
  CrashPoint("central.accepting");  // the CP supplies it; nothing says so yet
  metrics_.RequestAccepted(clock_.Now() - FromProto(request.requested_at()));
  v1::OpenSession record = RecordOf(session, v1::OPEN_SESSION_STATE_ACCEPTED, telemetry_key);
  // At the price its CP was told to bill at, whatever it registered since.
  if (price.has_value()) record.set_price_eur_per_kwh(*price);
  PublishAccepted(session, record, std::move(done));
}

void SessionCoordinator::PublishAccepted(const v1::Session& session,
                                         const v1::OpenSession& record, Done done) {
  Decision decision;
  decision.updates.push_back(NewUpdate(session, v1::UPDATE_KIND_ACCEPTED, "accepted"));
  v1::DriverUpdate started = NewUpdate(session, v1::UPDATE_KIND_SUPPLY_STARTED, "started");
  started.mutable_progress()->set_session_id(session.session_id());
  started.mutable_progress()->set_driver_id(session.driver_id());
  decision.updates.push_back(std::move(started));
  // Without a record (announced again), what central holds open is not
  // written again.
  if (!record.session_id().empty()) decision.open = record;
  publisher_.Commit(decision, [this, session, record,
                               done = std::move(done)](absl::Status published) {
    {
      absl::MutexLock lock(&mu_);
      // Until here a duplicate of the request is ignored, not answered twice.
      requests_in_flight_.erase(session.request_id());
      auto it = open_.find(session.session_id());
      if (published.ok()) {
        answered_requests_.Insert(session.request_id(), clock_.Now());
        // Billable from now on (unless it ended meanwhile).
        if (it != open_.end()) {
          it->second.session.set_state(v1::SESSION_STATE_SUPPLYING);
          if (!record.session_id().empty()) it->second.record = record;
        }
      }
      // Otherwise nothing of it is in Kafka: the request comes again and
      // says it then (after a crash, it finds its CP supplying it).
    }
    done(published);
  });
}

void SessionCoordinator::Reject(const v1::DriverRequest& request, absl::string_view label,
                                const std::string& reason, std::optional<v1::OpenSession> refused,
                                Done done) {
  const std::string session_id = refused.has_value() ? refused->session_id() : "";
  v1::Session parties = SessionFor(request, session_id, v1::SESSION_STATE_UNSPECIFIED);
  v1::DriverUpdate update = NewUpdate(parties, v1::UPDATE_KIND_REJECTED, "rejected");
  update.set_rejection_reason(reason);
  Decision decision;
  decision.updates.push_back(std::move(update));
  decision.open = refused;
  publisher_.Commit(decision, [this, request, label = std::string(label), reason, refused,
                               done = std::move(done)](absl::Status published) {
    if (published.ok()) {
      LOG(INFO) << "Central | Request " << request.request_id() << " from "
                << request.driver_id() << " rejected: " << reason;
      metrics_.RequestRejected(label);
    }
    {
      absl::MutexLock lock(&mu_);
      requests_in_flight_.erase(request.request_id());
      if (published.ok()) {
        answered_requests_.Insert(request.request_id(), clock_.Now());
        if (refused.has_value()) refused_open_[refused->session_id()].record = *refused;
      }
    }
    if (published.ok() && refused.has_value()) SendStop(request.cp_id(), refused->session_id());
    done(published);
  });
}

void SessionCoordinator::HandleResult(const v1::SessionResult& original, Done done) {
  if (absl::Status valid = ValidateSessionResult(original); !valid.ok()) return done(valid);
  v1::SessionResult result = original;
  const std::string& id = result.session_id();
  v1::Session session;
  Decision decision;
  {
    absl::MutexLock lock(&mu_);
    if (ticketed_.Contains(id) || tickets_in_flight_.count(id) > 0) {
      return done(absl::OkStatus());
    }
    if (closing_.count(id) > 0) {  // its zero ticket is being written
      return done(absl::UnavailableError(
          absl::StrCat("session ", id, " is being closed; its result comes again")));
    }
    if (refused_open_.count(id) > 0 || refused_.Contains(id)) {
      LOG(WARNING) << "Central | Session " << id << " at " << result.cp_id()
                   << " was refused to " << result.driver_id()
                   << "; its result is not billed ("
                   << absl::StrFormat("%.3f kWh", result.energy_kwh()) << ")";
      if (refused_open_.count(id) == 0) return done(absl::OkStatus());
      tickets_in_flight_.insert(id);
      decision.closed_session_id = id;
    } else {
      auto it = open_.find(id);
      // Only what a driver asked for and central accepted is billed: a result
      // for anything else is unasked (a CP's own start) or forged, and goes
      // to the dead letters, audited, for a person.
      if (it == open_.end()) {
        return done(absl::InvalidArgumentError(
            absl::StrCat("unasked: central holds no open session ", id,
                         "; a result is billed only for a session a driver asked for and "
                         "central accepted")));
      }
      if (it->second.session.state() == v1::SESSION_STATE_STARTING) {
        return done(absl::UnavailableError(
            absl::StrCat("session ", id, " is still being started; its result comes again")));
      }
      session = it->second.session;
      const v1::OpenSession& record = it->second.record;
      if (session.cp_id() != result.cp_id() || session.driver_id() != result.driver_id()) {
        return done(absl::InvalidArgumentError(absl::StrCat(
            "session ", id, " is ", session.driver_id(), "'s at ", session.cp_id(), ", not ",
            result.driver_id(), "'s at ", result.cp_id())));
      }
      if (record.price_eur_per_kwh() > 0 &&
          !SamePrice(result.price_eur_per_kwh(), record.price_eur_per_kwh())) {
        return done(absl::InvalidArgumentError(absl::StrFormat(
            "session %s at %s is priced at %.4f EUR/kWh in its result, but %s was registered "
            "at %.4f EUR/kWh when the session was accepted",
            id, result.cp_id(), result.price_eur_per_kwh(), result.cp_id(),
            record.price_eur_per_kwh())));
      }
      const int64_t cents = AmountCents(result.energy_kwh(), result.price_eur_per_kwh());
      if (result.amount_cents() != 0 && result.amount_cents() != cents) {
        return done(absl::InvalidArgumentError(absl::StrFormat(
            "session %s at %s bills %d cents for %.3f kWh at %.4f EUR/kWh, which is %d cents",
            id, result.cp_id(), result.amount_cents(), result.energy_kwh(),
            result.price_eur_per_kwh(), cents)));
      }
      // A result of an engine that predates cents is billed by the same rule.
      result.set_amount_cents(cents);
      result.set_amount_eur(EurOfCents(cents));
      tickets_in_flight_.insert(id);
      session.set_request_id(result.request_id().empty() ? session.request_id()
                                                          : result.request_id());
      v1::DriverUpdate ended = NewUpdate(session, v1::UPDATE_KIND_ENDED, "ended");
      *ended.mutable_ticket() = result;
      decision.updates.push_back(std::move(ended));
      decision.closed_session_id = id;
    }
  }
  const bool billed = !decision.updates.empty();
  CrashPoint("central.ticketing");
  publisher_.Commit(decision, [this, result, session, billed,
                               done = std::move(done)](absl::Status published) {
    const std::string& id = result.session_id();
    {
      absl::MutexLock lock(&mu_);
      tickets_in_flight_.erase(id);
      if (published.ok() && billed) {
        ticketed_.Insert(id, clock_.Now());
        EndLocked(session, &result);
      } else if (published.ok()) {
        refused_open_.erase(id);
        refused_.Insert(id, clock_.Now());
      }
    }
    if (published.ok() && billed) {
      LOG(INFO) << "Central | Session " << id << " at " << result.cp_id() << " for "
                << result.driver_id() << " ended ("
                << v1::SessionEndReason_Name(result.end_reason()) << "): "
                << absl::StrFormat("%.3f kWh, %d.%02d EUR", result.energy_kwh(),
                                   result.amount_cents() / 100, result.amount_cents() % 100)
                << "; ticket sent";
      metrics_.SessionCompleted(result.end_reason());
    }
    done(published);
  });
}

absl::Status SessionCoordinator::HandleTelemetry(const v1::SupplyTelemetry& telemetry) {
  if (absl::Status valid = ValidateTelemetry(telemetry); !valid.ok()) return valid;
  const std::string& id = telemetry.supply().session_id();
  const absl::Time now = clock_.Now();
  std::optional<v1::DriverUpdate> progress;
  absl::Status forged;  // the first sample of the session that was not its CP's
  {
    absl::MutexLock lock(&mu_);
    auto it = open_.find(id);
    if (it == open_.end()) return absl::OkStatus();  // ended, or not central's
    Open& open = it->second;
    if (open.session.cp_id() != telemetry.cp_id()) {
      return absl::InvalidArgumentError(absl::StrCat("session ", id, " runs at ",
                                                     open.session.cp_id(), ", not at ",
                                                     telemetry.cp_id()));
    }
    if (absl::Status mac = CheckTelemetryMac(open.telemetry_key, telemetry); !mac.ok()) {
      // Whoever else can write telemetry (another CP, a gateway, a revoked
      // certificate Kafka still admits) cannot speak for the session.
      if (!std::exchange(open.forged_telemetry_seen, true)) forged = mac;
    } else {
      *open.session.mutable_supply() = telemetry.supply();
      // Old samples (read again after a restart) update the record, not
      // drivers; nor do samples read while the ticket is being written. A
      // progress sent just before that can still arrive after the ticket
      // (another producer); the driver drops it then.
      const bool fresh = now - FromProto(telemetry.measured_at()) <= options_.progress_interval * 3;
      if (fresh && tickets_in_flight_.count(id) == 0 &&
          now - open.last_progress >= options_.progress_interval) {
        open.last_progress = now;
        const int n = ++open.progress_count;
        progress = NewUpdate(open.session, v1::UPDATE_KIND_PROGRESS, absl::StrCat("progress-", n));
        *progress->mutable_progress() = telemetry.supply();
      }
    }
  }
  if (!forged.ok()) {
    LOG(WARNING) << "Central | Telemetry for session " << id << " at " << telemetry.cp_id()
                 << " set aside: " << forged.message() << " (said once per session)";
    Audit("telemetry", telemetry.cp_id(), "refused",
          absl::StrCat("session ", id, ": ", forged.message()));
  }
  if (!progress.has_value()) return absl::OkStatus();
  // Progress is best effort: the next sample brings a newer one.
  publisher_.Publish(*progress, [](absl::Status published) {
    if (!published.ok()) VLOG(1) << "progress update not sent: " << published;
  });
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
      auto it = open_.find(open_by_cp_.contains(cp) ? open_by_cp_.at(cp) : "");
      // Once per session: the driver was told already otherwise. Not for a
      // session whose ticket (or zero ticket) is being written: its record
      // written here would reopen it.
      if (it != open_.end() && !it->second.record.interrupted() &&
          tickets_in_flight_.count(it->first) == 0 && closing_.count(it->first) == 0) {
        session = it->second.session;
        Decision decision;
        if (!it->second.record.session_id().empty()) {
          it->second.record.set_interrupted(true);
          decision.open = it->second.record;
        }
        v1::DriverUpdate update = NewUpdate(*session, v1::UPDATE_KIND_INTERRUPTED, "interrupted");
        update.set_rejection_reason(absl::StrCat(
            cp, " failed during your session; your ticket follows when it is back"));
        decision.updates.push_back(std::move(update));
        // Queued under the lock (Commit only queues; this callback takes no
        // lock): a ticket decided after this check is queued after it, so
        // the record above can never follow the tombstone that closes it.
        publisher_.Commit(decision, [driver = session->driver_id()](absl::Status published) {
          if (!published.ok()) LOG(WARNING) << "Central | cannot tell " << driver << ": " << published;
        });
      }
    }
    if (session.has_value()) {
      LOG(WARNING) << "Central | CP " << cp << " has active session with " << session->driver_id();
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

void SessionCoordinator::StopSessionAt(const std::string& cp_id, Done done) {
  v1::CentralCommand command;
  command.set_command_id(NewId(absl::StrCat("stop-", cp_id)));
  v1::StopSupplyRequest* stop = command.mutable_stop_supply();
  {
    absl::MutexLock lock(&mu_);
    if (const Open* open = OpenAtLocked(cp_id); open != nullptr) {
      stop->set_session_id(open->session.session_id());
    }
  }
  stop->set_reason(v1::SESSION_END_REASON_STOPPED_BY_OPERATOR);
  sender_.SendCommand(cp_id, command, options_.command_timeout, Always(), std::move(done));
}

void SessionCoordinator::TellAvailability(const std::string& cp_id, bool operative) {
  v1::CentralCommand command;
  command.set_command_id(NewId(absl::StrCat(operative ? "operative-" : "inoperative-", cp_id)));
  command.mutable_availability()->set_operative(operative);
  sender_.SendCommand(cp_id, command, options_.command_timeout, Always(),
                      [cp_id](absl::Status told) {
                        // Central's own state is what counts; the next
                        // registration tells the monitor again.
                        if (!told.ok()) VLOG(1) << "availability of " << cp_id << ": " << told;
                      });
}

void SessionCoordinator::Prune() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.Now();
  answered_requests_.Prune(now);
  ticketed_.Prune(now);
  refused_.Prune(now);
}

std::vector<v1::Session> SessionCoordinator::Sessions(const v1::ListSessionsRequest& filter) const {
  absl::MutexLock lock(&mu_);
  std::map<std::string, v1::Session> out;
  auto add = [&](const v1::Session& session) {
    if (!filter.cp_id().empty() && session.cp_id() != filter.cp_id()) return;
    if (!filter.driver_id().empty() && session.driver_id() != filter.driver_id()) return;
    out[session.session_id()] = session;
  };
  for (const v1::Session& session : ended_) add(session);
  for (const auto& [id, open] : open_) add(open.session);
  std::vector<v1::Session> sessions;
  sessions.reserve(out.size());
  for (auto& [id, session] : out) sessions.push_back(std::move(session));
  return sessions;
}

int SessionCoordinator::RunningSessions() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(open_.size());
}

size_t SessionCoordinator::RememberedIds() const {
  absl::MutexLock lock(&mu_);
  return answered_requests_.size() + ticketed_.size() + refused_.size();
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
