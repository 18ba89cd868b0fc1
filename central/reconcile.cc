// SessionCoordinator's reconciliation: what central holds open against
// what the CPs report, so that no session is billed unasked and none stays
// open for ever (DESIGN.md, "What billing promises").
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "central/coordinator.h"
#include "common/ids.h"
#include "common/proto_time.h"
#include "glog/logging.h"

namespace evnet {
namespace {

// A CP whose monitor reports and whose engine answers: what it says it
// runs (or no longer runs) can be believed.
bool Healthy(v1::CpStatus status) {
  return status == v1::CP_STATUS_ACTIVE || status == v1::CP_STATUS_SUPPLYING ||
         status == v1::CP_STATUS_STOPPED;
}

}  // namespace

void SessionCoordinator::Audit(const std::string& action, const std::string& target,
                               const std::string& result, const std::string& reason) {
  if (options_.audit == nullptr) return;
  options_.audit->Record({"central", "reconciliation"}, action, target, result, reason);
}

void SessionCoordinator::SendStop(const std::string& cp_id, const std::string& session_id) {
  v1::CentralCommand stop;
  stop.set_command_id(NewId(absl::StrCat("stop-", session_id)));
  stop.mutable_stop_supply()->set_session_id(session_id);
  stop.mutable_stop_supply()->set_reason(v1::SESSION_END_REASON_STOPPED_BY_CENTRAL);
  sender_.SendCommand(cp_id, stop, options_.command_timeout, [] { return absl::OkStatus(); },
                      [session_id](absl::Status stopped) {
                        // Sent again by Reconcile while the CP still runs it.
                        VLOG(1) << "stop of " << session_id << ": " << stopped;
                      });
}

void SessionCoordinator::Reconcile(const std::vector<CpReport>& reports, bool results_caught_up) {
  const absl::Time now = clock_.Steady();
  std::vector<std::pair<std::string, std::string>> stops;  // cp, session
  std::vector<v1::Session> orphans;
  std::vector<v1::OpenSession> refused_gone;
  std::vector<std::pair<std::string, std::string>> unasked_found;  // cp, session
  {
    absl::MutexLock lock(&mu_);
    std::map<std::string, const CpReport*> by_cp;
    for (const CpReport& report : reports) by_cp[report.cp_id] = &report;
    // Sessions that CPs run.
    for (const CpReport& report : reports) {
      const std::string& id = report.session_id;
      if (id.empty() || open_.count(id) > 0) continue;
      if (auto refused = refused_open_.find(id); refused != refused_open_.end()) {
        if (now - refused->second.last_stop >= options_.stop_retry) {
          refused->second.last_stop = now;
          stops.emplace_back(report.cp_id, id);
        }
        continue;
      }
      // A report a second old may still show a session just ticketed or let go.
      if (requests_in_flight_.count(std::string(absl::StripPrefix(id, "s-"))) > 0 ||
          ticketed_.Contains(id) || tickets_in_flight_.count(id) > 0 || refused_.Contains(id) ||
          closing_.count(id) > 0) {
        continue;
      }
      auto it = unasked_.try_emplace(id, Unasked{report.cp_id, now}).first;
      if (now - it->second.first_seen >= options_.unasked_grace &&
          now - it->second.last_stop >= options_.stop_retry) {
        // Audited once, when it is first stopped: after the grace, it is unasked.
        if (it->second.last_stop == absl::InfinitePast()) {
          unasked_found.emplace_back(report.cp_id, id);
        }
        it->second.last_stop = now;
        stops.emplace_back(report.cp_id, id);
      }
    }
    // Unasked sessions their CP no longer runs are forgotten.
    for (auto it = unasked_.begin(); it != unasked_.end();) {
      auto cp = by_cp.find(it->second.cp_id);
      const bool running = cp != by_cp.end() && cp->second->session_id == it->first;
      it = running ? std::next(it) : unasked_.erase(it);
    }
    // Sessions central holds open that their CP no longer runs.
    auto missing = [&](const std::string& cp_id, const std::string& id) {
      auto cp = by_cp.find(cp_id);
      if (cp == by_cp.end() || !Healthy(cp->second->status)) return false;
      return cp->second->session_id != id && cp->second->pending_results.count(id) == 0;
    };
    for (auto& [id, open] : open_) {
      if (open.session.state() != v1::SESSION_STATE_SUPPLYING || closing_.count(id) > 0 ||
          tickets_in_flight_.count(id) > 0) {
        continue;
      }
      if (!results_caught_up || !missing(open.session.cp_id(), id)) {
        open.missing_since = absl::InfiniteFuture();
        continue;
      }
      if (open.missing_since == absl::InfiniteFuture()) open.missing_since = now;
      if (now - open.missing_since >= options_.orphan_timeout) {
        closing_.insert(id);
        orphans.push_back(open.session);
      }
    }
    for (auto& [id, refused] : refused_open_) {
      if (closing_.count(id) > 0 || tickets_in_flight_.count(id) > 0) continue;
      if (!results_caught_up || !missing(refused.record.cp_id(), id)) {
        refused.missing_since = absl::InfiniteFuture();
        continue;
      }
      if (refused.missing_since == absl::InfiniteFuture()) refused.missing_since = now;
      if (now - refused.missing_since >= options_.orphan_timeout) {
        closing_.insert(id);
        refused_gone.push_back(refused.record);
      }
    }
  }
  for (const auto& [cp, id] : unasked_found) {
    LOG(WARNING) << "Central | " << cp << " runs session " << id
                 << ", which no driver asked central for; it is stopped and never billed";
    Audit("session.unasked", cp, "refused",
          absl::StrCat("session ", id, " runs at ", cp,
                       " without a request central accepted; stopped, never billed"));
  }
  for (const auto& [cp, id] : stops) SendStop(cp, id);
  for (const v1::Session& session : orphans) CloseUnconfirmed(session);
  for (const v1::OpenSession& refused : refused_gone) {
    Decision decision;
    decision.closed_session_id = refused.session_id();
    publisher_.Commit(decision, [this, refused](absl::Status closed) {
      absl::MutexLock lock(&mu_);
      closing_.erase(refused.session_id());
      if (!closed.ok()) return;
      refused_open_.erase(refused.session_id());
      refused_.Insert(refused.session_id(), clock_.Now());
      LOG(INFO) << "Central | Refused session " << refused.session_id() << " no longer runs at "
                << refused.cp_id() << "; no longer held";
    });
  }
}

void SessionCoordinator::CloseUnconfirmed(const v1::Session& session) {
  // Billed at nothing: the CP kept no result of it (its journal was lost),
  // and a guess would bill what may never have been supplied.
  v1::SessionResult zero;
  zero.set_session_id(session.session_id());
  zero.set_request_id(session.request_id());
  zero.set_cp_id(session.cp_id());
  zero.set_driver_id(session.driver_id());
  *zero.mutable_started_at() = session.requested_at();
  *zero.mutable_ended_at() = ToProto(clock_.Now());
  zero.set_end_reason(v1::SESSION_END_REASON_CLOSED_UNCONFIRMED);
  std::string reason = absl::StrCat(
      "session ", session.session_id(), " of ", session.driver_id(), " at ", session.cp_id(),
      " no longer runs there and no result came for ",
      absl::FormatDuration(options_.orphan_timeout), "; closed with a zero ticket");
  {
    absl::MutexLock lock(&mu_);
    auto it = open_.find(session.session_id());
    if (it != open_.end()) zero.set_price_eur_per_kwh(it->second.record.price_eur_per_kwh());
  }
  Decision decision;
  v1::DriverUpdate ended = NewUpdate(session, v1::UPDATE_KIND_ENDED, "ended");
  *ended.mutable_ticket() = zero;
  decision.updates.push_back(std::move(ended));
  decision.closed_session_id = session.session_id();
  publisher_.Commit(decision, [this, session, zero, reason](absl::Status closed) {
    {
      absl::MutexLock lock(&mu_);
      closing_.erase(session.session_id());
      if (closed.ok()) {
        ticketed_.Insert(session.session_id(), clock_.Now());
        EndLocked(session, &zero);
      }
    }
    if (!closed.ok()) return;  // tried again at the next reconciliation
    LOG(WARNING) << "Central | " << reason;
    Audit("session.close", session.cp_id(), "done", reason);
    metrics_.SessionCompleted(zero.end_reason());
  });
}

}  // namespace evnet
