#include "central/monitor_link.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/grpc/grpc_status.h"
#include "common/proto_time.h"
#include "common/validation.h"
#include "glog/logging.h"

namespace evnet {

grpc::ServerBidiReactor<v1::MonitorMessage, v1::CentralCommand>* MonitorLinkReactor::Start(
    grpc::CallbackServerContext* context, Registry& registry, LinkHub& hub,
    RegistryStore& store, AuditLog& audit, const Access& access, ChargerTokens& tokens) {
  std::shared_ptr<MonitorLinkReactor> reactor(
      new MonitorLinkReactor(context, registry, hub, store, audit, access, tokens));
  reactor->self_ = reactor;
  hub.StreamStarted();
  if (absl::Status admitted = access.AdmitMonitorLink(*context); !admitted.ok()) {
    reactor->Refuse("monitor.link", "", ToGrpcStatus(admitted));
    return reactor.get();
  }
  reactor->StartRead(&reactor->in_);
  std::weak_ptr<MonitorLinkReactor> weak = reactor;
  const absl::Duration timeout = hub.register_timeout();
  reactor->register_deadline_.Set(
      absl::ToChronoTime(SystemClock::Get().Now() + timeout), [weak, timeout](bool fired) {
        std::shared_ptr<MonitorLinkReactor> self = weak.lock();
        if (fired && self != nullptr) self->OnRegisterDeadline(timeout);
      });
  return reactor.get();
}

MonitorLinkReactor::MonitorLinkReactor(grpc::CallbackServerContext* context, Registry& registry,
                                       LinkHub& hub, RegistryStore& store, AuditLog& audit,
                                       const Access& access, ChargerTokens& tokens)
    : context_(context),
      registry_(registry),
      hub_(hub),
      store_(store),
      audit_(audit),
      access_(access),
      tokens_(tokens) {}

void MonitorLinkReactor::Refuse(const std::string& action, const std::string& target,
                                const grpc::Status& status) {
  audit_.RecordRetriedRefusal(access_.ActorOf(*context_), action, target, status.error_message());
  absl::MutexLock lock(&mu_);
  FinishLocked(status);
}

void MonitorLinkReactor::OnRegisterDeadline(absl::Duration timeout) {
  if (first_read_.load()) return;
  const grpc::Status late(
      grpc::StatusCode::DEADLINE_EXCEEDED,
      absl::StrCat("no registration within ", absl::FormatDuration(timeout),
                   " of opening MonitorLink"));
  Actor by;
  {
    absl::MutexLock lock(&mu_);
    if (done_ || finishing_) return;
    by = access_.ActorOf(*context_);  // the context lives until OnDone
    FinishLocked(late);
  }
  audit_.RecordRetriedRefusal(by, "monitor.register", "", late.error_message());
}

bool MonitorLinkReactor::Write(const v1::CentralCommand& command) {
  absl::MutexLock lock(&mu_);
  if (done_ || finishing_ || finish_after_write_.has_value()) return false;
  out_.push_back(command);
  if (out_.size() == 1) StartWrite(&out_.front());
  return true;
}

void MonitorLinkReactor::Close(const absl::Status& reason) {
  absl::MutexLock lock(&mu_);
  FinishLocked(ToGrpcStatus(reason));
}

void MonitorLinkReactor::FinishLocked(const grpc::Status& status) {
  if (done_ || finishing_) return;
  if (!out_.empty()) {  // one operation of a kind at a time: after the write
    if (!finish_after_write_.has_value()) finish_after_write_ = status;
    return;
  }
  finishing_ = true;
  Finish(status);
}

void MonitorLinkReactor::OnWriteDone(bool ok) {
  absl::MutexLock lock(&mu_);
  out_.pop_front();
  if (!ok) out_.clear();  // the stream is broken; the read side will end it
  if (!out_.empty()) {
    StartWrite(&out_.front());
    return;
  }
  if (finish_after_write_.has_value()) {
    grpc::Status status = *finish_after_write_;
    finish_after_write_.reset();
    FinishLocked(status);
  }
}

void MonitorLinkReactor::OnReadDone(bool ok) {
  if (!ok) {  // the monitor went away, or the call was cancelled
    absl::MutexLock lock(&mu_);
    FinishLocked(grpc::Status::OK);
    return;
  }
  if (cp_id_.empty()) {
    first_read_.store(true);
    OnRegister();
  } else {
    Handle();
  }
}

void MonitorLinkReactor::OnRegister() {
  if (!in_.has_register_() || in_.register_().cp_id().empty()) {
    return Refuse("monitor.register", "",
                  grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                               "the first message on MonitorLink must register a CP id"));
  }
  if (absl::Status valid = ValidateCpInfo(in_.register_()); !valid.ok()) {
    LOG(WARNING) << "Central | Refused a monitor at " << context_->peer() << ": "
                 << valid.message();
    return Refuse("monitor.register", in_.register_().cp_id().substr(0, 64),
                  grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                               absl::StrCat("cannot register: ", valid.message())));
  }
  const std::string cp_id = in_.register_().cp_id();
  if (absl::Status admitted = access_.AdmitMonitor(*context_, cp_id); !admitted.ok()) {
    if (absl::IsUnavailable(admitted)) {  // central is starting: not a refusal
      absl::MutexLock lock(&mu_);
      FinishLocked(ToGrpcStatus(admitted));
      return;
    }
    LOG(WARNING) << "Central | Refused a monitor for " << cp_id << " at " << context_->peer()
                 << ": " << admitted.message();
    return Refuse("monitor.register", cp_id, ToGrpcStatus(admitted));
  }
  absl::StatusOr<uint64_t> link = hub_.Attach(cp_id, self_);
  if (!link.ok()) {
    LOG(WARNING) << "Central | Refused a monitor for " << cp_id << ": " << link.status().message();
    return Refuse("monitor.register", cp_id, ToGrpcStatus(link.status()));
  }
  cp_id_ = cp_id;
  link_id_ = *link;
  const bool known = registry_.Known(cp_id);
  if (auto record = registry_.Register(in_.register_(), link_id_); record.has_value()) {
    Persist(*record);
  }
  LOG(INFO) << "Central | CP " << cp_id << (known ? " reconnected" : " registered")
            << " (monitor at " << context_->peer() << ")";
  v1::CentralCommand registered;
  registered.mutable_registered()->set_cp_id(cp_id);
  if (absl::StatusOr<v1::ChargingPoint> cp = registry_.Get(cp_id); cp.ok()) {
    registered.mutable_registered()->set_stopped_by_operator(cp->stopped_by_operator());
  }
  Write(registered);
  ReadNext();
}

void MonitorLinkReactor::ReadNext() {
  absl::MutexLock lock(&mu_);
  // A link closed meanwhile (a newer monitor took the CP) reads no further.
  if (!finishing_ && !finish_after_write_.has_value()) StartRead(&in_);
}

void MonitorLinkReactor::Handle() {
  hub_.Touch(cp_id_, link_id_);
  switch (in_.kind_case()) {
    case v1::MonitorMessage::kHealth:
      if (absl::Status valid = ValidateHealthReport(in_.health()); !valid.ok()) {
        // A monitor that reports nonsense is not heard at all: its CP shows
        // DISCONNECTED rather than figures nobody can trust.
        LOG(WARNING) << "Central | Closed the link of CP " << cp_id_
                     << ": its health report is invalid: " << valid.message();
        return Refuse("monitor.report", cp_id_,
                      grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                   absl::StrCat("invalid health report: ", valid.message())));
      }
      registry_.Report(cp_id_, in_.health());
      break;
    case v1::MonitorMessage::kCommandResult:
      hub_.Complete(cp_id_, in_.command_result());
      break;
    case v1::MonitorMessage::kSecurityEvent: {
      // The charger's word, audited as it said it; as often as it likes, so
      // within a budget of its own.
      const v1::SecurityEvent& event = in_.security_event();
      audit_.RecordBounded(
          absl::StrCat("security events of ", cp_id_), access_.ActorOf(*context_),
          "charger.security_event", cp_id_, "done",
          absl::StrCat(event.type().substr(0, 50), " at ",
                       absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", FromProto(event.at()),
                                        absl::UTCTimeZone()),
                       event.tech_info().empty() ? "" : ": ", event.tech_info().substr(0, 255)));
      break;
    }
    case v1::MonitorMessage::kReconciled:
      // A gateway's word on what it closed for its charger; its ticket
      // follows from the result like any other.
      audit_.RecordBounded(absl::StrCat("reconciliations of ", cp_id_), access_.ActorOf(*context_),
                           "charger.reconcile", cp_id_, "done",
                           in_.reconciled().detail().substr(0, 255));
      break;
    case v1::MonitorMessage::kAuthorize: {
      if (in_.authorize().ask_id().empty() || in_.authorize().ask_id().size() > kMaxIdLength) {
        LOG(WARNING) << "Central | An Authorize from the link of " << cp_id_
                     << " without a proper ask id; ignored";
        break;
      }
      // Answered down the link it came on, whenever the answer is ready;
      // a link gone meanwhile drops it, and the charger asks again.
      LinkHub* hub = &hub_;
      tokens_.Answer(cp_id_, access_.ActorOf(*context_), in_.authorize(),
                     [hub, cp_id = cp_id_, link_id = link_id_](v1::CentralCommand answer) {
                       hub->Write(cp_id, link_id, answer);
                     });
      break;
    }
    case v1::MonitorMessage::kRegister:
      if (!ValidateCpInfo(in_.register_()).ok() || in_.register_().cp_id() != cp_id_) {
        LOG(WARNING) << "Central | The monitor of " << cp_id_ << " tried to register as "
                     << absl::CHexEscape(in_.register_().cp_id().substr(0, 64))
                     << " (or with invalid details); ignored";
        audit_.RecordRetriedRefusal(
            access_.ActorOf(*context_), "monitor.register", in_.register_().cp_id().substr(0, 64),
            absl::StrCat("the link of ", cp_id_, " cannot speak for another CP"));
        break;
      }
      if (auto record = registry_.Register(in_.register_(), link_id_); record.has_value()) {
        Persist(*record);
      }
      break;
    default:
      LOG(WARNING) << "Central | Unknown message from the monitor of " << cp_id_;
  }
  ReadNext();
}

void MonitorLinkReactor::Persist(const v1::CpRegistryRecord& record) {
  store_.Save(record, [cp_id = record.info().cp_id()](absl::Status saved) {
    if (!saved.ok()) {
      LOG(WARNING) << "Central | CP " << cp_id
                   << " is not yet recorded in Kafka (it will be at its next registration): "
                   << saved;
    }
  });
}

void MonitorLinkReactor::OnDone() {
  {
    absl::MutexLock lock(&mu_);
    done_ = true;
  }
  register_deadline_.Cancel();
  // Only the CP's current link speaks for it: a replaced link ending does
  // not make a live CP look disconnected, even when a new one registers
  // between the two calls below.
  if (!cp_id_.empty() && hub_.Detach(cp_id_, link_id_)) {
    registry_.LinkClosed(cp_id_, link_id_);
    LOG(WARNING) << "Central | The monitor of CP " << cp_id_ << " disconnected";
  }
  LinkHub& hub = hub_;
  self_.reset();  // may delete this
  hub.StreamFinished();
}

}  // namespace evnet
