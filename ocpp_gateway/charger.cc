#include "ocpp_gateway/charger.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/files.h"
#include "common/json_codec.h"
#include "common/money.h"
#include "common/proto_time.h"
#include "common/trust/signing.h"
#include "common/kafka/topics.h"
#include "common/validation.h"
#include "glog/logging.h"
#include "google/protobuf/util/message_differencer.h"
#include "ocpp/v16/messages.pb.h"

namespace evnet::ocpp {
namespace {

namespace o = ::ocpp::v16;
using google::protobuf::Message;

// Ended transactions kept to answer a repeated StopTransaction.
constexpr int kEndedKept = 8;
// A remote start the charger accepted but never began (nobody plugged in):
// the session ends with nothing supplied. OCPP's ConnectionTimeOut is
// usually a minute or two.
constexpr absl::Duration kPendingStartTimeout = absl::Minutes(3);
// A local authorization list's changes are sent again from this long before
// the charger's version.
constexpr int32_t kLocalListSlackSeconds = 60;
// After "Operative" is asked, an "Unavailable" still in flight is not a fault.
constexpr absl::Duration kAvailabilityGrace = absl::Seconds(10);

template <typename T>
const T& As(const Message& message) {
  return static_cast<const T&>(message);
}

v1::SessionEndReason EndReason(const o::StopTransactionRequest& stop,
                               std::optional<v1::SessionEndReason> asked) {
  const std::string reason = stop.has_reason() ? stop.reason() : "Local";
  if (reason == "Remote") return asked.value_or(v1::SESSION_END_REASON_STOPPED_BY_CENTRAL);
  if (reason == "EmergencyStop" || reason == "PowerLoss" || reason == "HardReset" ||
      reason == "Reboot") {
    return v1::SESSION_END_REASON_ENGINE_FAILURE;
  }
  if (reason == "DeAuthorized") return v1::SESSION_END_REASON_STOPPED_BY_CENTRAL;
  return v1::SESSION_END_REASON_UNPLUGGED;  // Local, EVDisconnected, UnlockCommand, Other...
}

// One measurand of one MeterValue: for the whole charger (no phase), or
// per line phase (L1, L2, L3, or L1-N, ...); a neutral's or a line-to-line
// reading adds nothing to the whole.
class PhasedReading {
 public:
  void Add(const o::SampledValue& sample, double value) {
    if (!sample.has_phase()) {
      whole_ = value;
    } else if (absl::StartsWith(sample.phase(), "L") && sample.phase().size() <= 4 &&
               (sample.phase().size() == 2 || absl::EndsWith(sample.phase(), "-N"))) {
      phases_ = phases_.value_or(0) + value;
    }
  }
  std::optional<double> Value() const { return whole_.has_value() ? whole_ : phases_; }

 private:
  std::optional<double> whole_;
  std::optional<double> phases_;
};

absl::Time TimeOr(absl::string_view text, absl::Time fallback) {
  return ParseDateTime(text).value_or(fallback);
}

// Central's verdict on a transaction's idTag; empty while it is asked. (A
// journal of an earlier gateway says it by the session alone.)
std::string IdTagStatus(const v1::OcppTransaction& t) {
  if (!t.id_tag_status().empty()) return t.id_tag_status();
  if (t.has_session()) return "Accepted";
  return t.ended() ? "Invalid" : "";
}

// Central's word on an idTag, as OCPP gives it to a charger.
void FillIdTagInfo(const v1::Authorization& authorization, o::IdTagInfo* info) {
  info->set_status(authorization.status());
  if (authorization.has_expires_at()) {
    info->set_expiry_date(FormatDateTime(FromProto(authorization.expires_at())));
  }
  if (!authorization.group().empty()) info->set_parent_id_tag(authorization.group());
}

// Transaction ids are unique per WebSocket (a StopTransaction names only
// its id): connector 1 counts from 1, connector n from n * 10^6.
int32_t NextTransactionId(int32_t last, int32_t connector_id) {
  if (connector_id <= 1) return last + 1;
  return std::max(last + 1, connector_id * kTransactionIdsPerConnector + 1);
}

}  // namespace

Charger::Charger(ChargerOptions options, ChargerLinks& links)
    : options_(std::move(options)),
      links_(links),
      info_(options_.info),
      own_calls_(options_.calls != nullptr
                     ? nullptr
                     : std::make_unique<CallQueue>(
                           options_.info.cp_id(),
                           [this](const std::string& frame) { links_.SendToCharger(frame); })),
      calls_(options_.calls != nullptr ? options_.calls : own_calls_.get()) {
  journal_.set_charge_box_id(id());
}

void Charger::SetInfo(const v1::ChargingPointInfo& info) {
  if (google::protobuf::util::MessageDifferencer::Equals(info, info_) || info.cp_id() != id()) {
    return;
  }
  info_ = info;
  LOG(INFO) << "OCPP:" << id() << " | Now " << absl::StrFormat("%.4f", info_.price_eur_per_kwh())
            << " EUR/kWh, " << info_.power_kw() << " kW, at " << absl::CHexEscape(info_.location());
  links_.SendToCentral(Hello());  // registered again, with its new figures
}

void Charger::Begin(v1::OcppTransaction& t, const v1::StartSupplyRequest& session) {
  *t.mutable_session() = session;
  if (session.has_price_eur_per_kwh()) t.set_price_eur_per_kwh(session.price_eur_per_kwh());
  v1::SupplySnapshot* supply = t.mutable_supply();
  supply->set_session_id(session.session_id());
  supply->set_driver_id(session.driver_id());
  *supply->mutable_started_at() = t.started_at();
  available_since_.erase(t.connector_id());  // its connector is busy now
}

v1::SessionResult Charger::ResultOf(const v1::OcppTransaction& t, absl::Time ended,
                                    double kwh) const {
  v1::SessionResult result;
  result.set_session_id(t.session().session_id());
  result.set_request_id(t.session().request_id());
  result.set_cp_id(id());
  result.set_driver_id(t.session().driver_id());
  *result.mutable_started_at() = t.started_at();
  *result.mutable_ended_at() = ToProto(std::max(FromProto(t.started_at()), ended));
  result.set_energy_kwh(kwh);
  result.set_price_eur_per_kwh(PriceOf(t));
  result.set_amount_cents(AmountCents(kwh, result.price_eur_per_kwh()));
  result.set_amount_eur(EurOfCents(result.amount_cents()));
  return result;
}

double Charger::PriceOf(const v1::OcppTransaction& t) const {
  return t.has_price_eur_per_kwh() ? t.price_eur_per_kwh() : info_.price_eur_per_kwh();
}

absl::Status Charger::Recover(const std::optional<v1::OcppChargerJournal>& shared) {
  absl::StatusOr<std::string> text =
      options_.journal_path.empty() ? absl::NotFoundError("none") : ReadFile(options_.journal_path);
  if (text.ok()) {
    absl::StatusOr<v1::OcppChargerJournal> journal = FromJson<v1::OcppChargerJournal>(*text);
    if (!journal.ok() || journal->charge_box_id() != id()) {
      return absl::DataLossError(absl::StrCat(
          "the journal ", options_.journal_path, " is damaged: ",
          journal.ok() ? absl::StrCat("it is ", journal->charge_box_id(), "'s")
                       : journal.status().ToString()));
    }
    journal_ = *std::move(journal);
    SetPendingDeadline();
  }
  Adopt(shared);
  if (v1::OcppTransaction* running = Running()) {
    LOG(INFO) << "OCPP:" << id() << " | Transaction " << running->transaction_id()
              << " of session " << running->session().session_id() << " goes on";
  }
  return absl::OkStatus();
}

void Charger::Adopt(const std::optional<v1::OcppChargerJournal>& shared) {
  if (!shared.has_value() || shared->charge_box_id() != id() ||
      shared->revision() <= journal_.revision()) {
    return;
  }
  LOG(INFO) << "OCPP:" << id() << " | Taking up its journal from another gateway (revision "
            << shared->revision() << ")";
  const std::string pending_before = journal_.pending_start().session_id();
  journal_ = *shared;
  stop_reasons_.clear();
  // The same start still pending keeps its steady deadline; another one
  // takes what its journal's wall time leaves.
  if (journal_.pending_start().session_id() != pending_before ||
      pending_deadline_ == absl::InfiniteFuture()) {
    SetPendingDeadline();
  }
  WriteJournalFile();
}

v1::MonitorMessage Charger::Hello() const {
  v1::MonitorMessage hello;
  *hello.mutable_register_() = info_;
  hello.mutable_register_()->set_telemetry_mac(true);
  hello.mutable_register_()->set_charger_operations(true);
  return hello;
}

void Charger::Booted() { asked_since_connected_ = false; }  // asked again

void Charger::OnChargerStatus(const google::protobuf::Message& status) {
  OnStatus(status, options_.clock->Now());
}

Charger::Holding Charger::Holds(int32_t transaction_id) const {
  for (const v1::OcppTransaction& t : journal_.transactions()) {
    if (t.transaction_id() == transaction_id) return t.ended() ? Holding::kEnded : Holding::kRunning;
  }
  return Holding::kNone;
}

bool Charger::AwaitsStartFor(absl::string_view id_tag) const {
  return journal_.has_pending_start() &&
         absl::EqualsIgnoreCase(journal_.pending_start().driver_id(), id_tag);
}

bool Charger::RunsFor(absl::string_view id_tag) const {
  for (const v1::OcppTransaction& t : journal_.transactions()) {
    if (!t.ended() && t.has_session() &&
        (absl::EqualsIgnoreCase(id_tag, t.id_tag()) ||
         absl::EqualsIgnoreCase(id_tag, t.session().driver_id()))) {
      return true;
    }
  }
  return false;
}

int Charger::running_transactions() const {
  int n = 0;
  for (const v1::OcppTransaction& t : journal_.transactions()) n += t.ended() ? 0 : 1;
  return n;
}

v1::OcppTransaction* Charger::Transaction(int32_t id) {
  for (v1::OcppTransaction& t : *journal_.mutable_transactions()) {
    if (t.transaction_id() == id) return &t;
  }
  return nullptr;
}

v1::OcppTransaction* Charger::Running() {
  for (v1::OcppTransaction& t : *journal_.mutable_transactions()) {
    if (!t.ended() && t.has_session()) return &t;
  }
  return nullptr;
}

void Charger::WriteJournalFile() {
  if (options_.journal_path.empty()) return;
  if (absl::Status saved = WriteFileDurably(options_.journal_path, ToJson(journal_)); !saved.ok()) {
    LOG(ERROR) << "OCPP:" << id() << " | cannot journal: " << saved;
  }
}

void Charger::ForgetPendingStart() {
  journal_.clear_pending_start();
  journal_.clear_pending_since();
  pending_deadline_ = absl::InfiniteFuture();
}

void Charger::SetPendingDeadline() {
  if (!journal_.has_pending_start()) {
    pending_deadline_ = absl::InfiniteFuture();
    return;
  }
  // Wall time is all a journal can carry across processes; a clock stepped
  // meanwhile moves this one deadline, never past a whole timeout from now.
  const absl::Duration waited = options_.clock->Now() - FromProto(journal_.pending_since());
  const absl::Duration left =
      std::clamp(kPendingStartTimeout - waited, absl::ZeroDuration(), kPendingStartTimeout);
  pending_deadline_ = options_.clock->Steady() + left;
}

void Charger::Save(std::function<void(absl::Status)> then) {
  if (options_.connector_id >= 2) {
    // Whose connector this CP is: how a gateway finds it again.
    const std::string suffix = absl::StrCat("-", options_.connector_id);
    journal_.set_charger_id(id().substr(0, id().size() - suffix.size()));
    journal_.set_connector_id(options_.connector_id);
  }
  // Only ended transactions are dropped, the oldest first.
  int ended = 0;
  for (const v1::OcppTransaction& t : journal_.transactions()) ended += t.ended() ? 1 : 0;
  auto* transactions = journal_.mutable_transactions();
  for (int i = 0; i < transactions->size() && ended > kEndedKept;) {
    if ((*transactions)[i].ended()) {
      transactions->erase(transactions->begin() + i);
      --ended;
    } else {
      ++i;
    }
  }
  journal_.set_revision(journal_.revision() + 1);
  WriteJournalFile();
  links_.ShareJournal(journal_, [this, alive = std::weak_ptr<int>(alive_),
                                 then = std::move(then)](absl::Status shared) {
    if (alive.expired()) return;
    if (!shared.ok()) {
      LOG(WARNING) << "OCPP:" << id() << " | The journal is not shared with other gateways yet: "
                   << shared;
    }
    if (then) then(shared);
  });
}

// --- from the charger --------------------------------------------------------

void Charger::OnFrame(absl::string_view text) {
  const absl::Time now = options_.clock->Now();
  std::variant<Frame, BadFrame> parsed = ParseFrame(text);
  if (auto* bad = std::get_if<BadFrame>(&parsed)) {
    LOG(WARNING) << "OCPP:" << id() << " | Bad frame answered with "
                 << ErrorCodeName(bad->error.code) << ": " << bad->error.description;
    links_.SendToCharger(EncodeCallError(bad->id, bad->error));
    return;
  }
  const Frame& frame = std::get<Frame>(parsed);
  if (frame.type != MessageType::kCall) return calls_->OnResult(frame);

  std::unique_ptr<Message> request = NewRequest(frame.action);
  std::optional<CallError> error;
  if (request == nullptr) {
    error = CallError{ErrorCode::kNotImplemented,
                      absl::StrCat("OCPP 1.6 has no action \"", frame.action.substr(0, 50), "\"")};
  } else if (!SentByChargePoint(frame.action)) {
    error = CallError{ErrorCode::kNotSupported,
                      absl::StrCat(frame.action, " is sent by a central system, not to one")};
  } else {
    error = DecodePayload(frame.payload_json, request.get());
  }
  if (error.has_value()) {
    LOG(WARNING) << "OCPP:" << id() << " | " << frame.action.substr(0, 50) << " answered with "
                 << ErrorCodeName(error->code) << ": " << error->description;
    links_.SendToCharger(EncodeCallError(frame.id, *error));
    return;
  }
  if (frame.action == "StartTransaction") return OnStartTransaction(frame.id, *request, now);
  if (frame.action == "StopTransaction") return OnStopTransaction(frame.id, *request, now);
  if (frame.action == "Authorize") return OnAuthorize(frame.id, *request);

  std::unique_ptr<Message> response = NewResponse(frame.action);
  if (frame.action == "BootNotification") {
    const auto& boot = As<o::BootNotificationRequest>(*request);
    LOG(INFO) << "OCPP:" << id() << " | Booted: " << boot.charge_point_vendor() << " "
              << boot.charge_point_model();
    auto& r = static_cast<o::BootNotificationResponse&>(*response);
    r.set_status("Accepted");
    r.set_current_time(FormatDateTime(now));
    r.set_interval(options_.heartbeat_interval_s);
    Booted();
  } else if (frame.action == "Heartbeat") {
    static_cast<o::HeartbeatResponse&>(*response).set_current_time(FormatDateTime(now));
  } else if (frame.action == "StatusNotification") {
    OnStatus(*request, now);
  } else if (frame.action == "MeterValues") {
    OnMeterValues(*request, now);
  } else if (frame.action == "DataTransfer") {
    static_cast<o::DataTransferResponse&>(*response).set_status("UnknownVendorId");
  } else if (frame.action == "SecurityEventNotification") {
    // To central's audit log; answered at once, so that it never holds the
    // charger's queue of transaction messages behind it.
    const auto& notified = As<o::SecurityEventNotificationRequest>(*request);
    LOG(WARNING) << "OCPP:" << id() << " | Security event " << absl::CHexEscape(notified.type())
                 << ": " << absl::CHexEscape(notified.tech_info());
    v1::MonitorMessage message;
    v1::SecurityEvent* event = message.mutable_security_event();
    event->set_type(notified.type());
    *event->mutable_at() = ToProto(TimeOr(notified.timestamp(), now));
    event->set_tech_info(notified.tech_info());
    if (!links_.SendToCentral(message)) {
      // Not recorded anywhere: the charger keeps it and sends it again.
      links_.SendToCharger(EncodeCallError(
          frame.id, {ErrorCode::kInternalError, "central is not reachable; send it again"}));
      return;
    }
  }
  // DiagnosticsStatusNotification, FirmwareStatusNotification: an empty answer.
  links_.SendToCharger(EncodeCallResult(frame.id, *response));
}

const std::string& Charger::Status() const {
  return charger_status_ == "Faulted" || charger_status_ == "Unavailable" ? charger_status_
                                                                          : status_;
}

void Charger::OnStatus(const Message& request, absl::Time now) {
  const auto& status = As<o::StatusNotificationRequest>(request);
  const std::string before = Status();
  const int32_t connector = status.connector_id();
  // The CP's status is its connector's, unless the whole charger's
  // (connector 0) is Faulted or Unavailable. Another connector's (one this
  // CP bills because the gateway cannot speak for it as a CP of its own)
  // counts only for reconciling its transactions.
  if (connector == 0) {
    charger_status_ = status.status();
    charger_error_code_ = status.error_code();
  } else if (connector == options_.connector_id) {
    status_ = status.status();
    error_code_ = status.error_code();
  }
  if (connector > 0) {
    if (status.status() != "Available") {
      available_since_.erase(connector);
    } else {
      available_since_.try_emplace(connector, options_.clock->Steady());
    }
  }
  if (before != Status()) {
    const std::string& code = Status() == status_ ? error_code_ : charger_error_code_;
    LOG(INFO) << "OCPP:" << id() << " | Status " << Status()
              << (code == "NoError" ? "" : absl::StrCat(" (", code, ")"));
  }
  SendHealth(now);
}

void Charger::OnStartTransaction(const std::string& call_id, const Message& request,
                                 absl::Time now) {
  const auto& start = As<o::StartTransactionRequest>(request);
  const absl::Time started = TimeOr(start.timestamp(), now);
  // A repeat (our answer was lost): the same transaction again.
  v1::OcppTransaction* t = nullptr;
  for (v1::OcppTransaction& known : *journal_.mutable_transactions()) {
    if (known.connector_id() == start.connector_id() && known.id_tag() == start.id_tag() &&
        known.meter_start_wh() == start.meter_start() && FromProto(known.started_at()) == started) {
      t = &known;
    }
  }
  if (t == nullptr) {
    t = journal_.add_transactions();
    t->set_transaction_id(NextTransactionId(journal_.last_transaction_id(), options_.connector_id));
    journal_.set_last_transaction_id(t->transaction_id());
    t->set_connector_id(start.connector_id());
    t->set_id_tag(start.id_tag());
    t->set_meter_start_wh(start.meter_start());
    *t->mutable_started_at() = ToProto(started);
    t->set_price_eur_per_kwh(info_.price_eur_per_kwh());
    if (journal_.has_pending_start() && journal_.pending_start().driver_id() == start.id_tag()) {
      t->set_id_tag_status("Accepted");
      Begin(*t, journal_.pending_start());
      ForgetPendingStart();
      LOG(INFO) << "OCPP:" << id() << " | Transaction " << t->transaction_id() << " started for "
                << t->session().driver_id() << " (session " << t->session().session_id()
                << "), meter at " << start.meter_start() << " Wh";
    }
  }
  if (IdTagStatus(*t).empty()) {
    // Begun at the charger itself (a card): answered as central judges it.
    const int32_t transaction_id = t->transaction_id();
    return AskToOpen(transaction_id, [this, call_id, transaction_id](absl::Status asked) {
      v1::OcppTransaction* t = Transaction(transaction_id);
      if (!asked.ok() || t == nullptr) {
        return links_.SendToCharger(EncodeCallError(
            call_id, {ErrorCode::kInternalError, std::string(asked.message())}));
      }
      RespondToStart(call_id, *t);
      SendHealth(options_.clock->Now());
    });
  }
  RespondToStart(call_id, *t);
  SendHealth(now);
}

void Charger::RespondToStart(const std::string& call_id, const v1::OcppTransaction& t) {
  // Answered once every gateway can read the transaction: a charger that
  // reconnects elsewhere is billed there.
  o::StartTransactionResponse response;
  response.mutable_id_tag_info()->set_status(IdTagStatus(t));
  response.set_transaction_id(t.transaction_id());
  Save([this, call_id, frame = EncodeCallResult(call_id, response)](absl::Status shared) {
    links_.SendToCharger(shared.ok() ? frame
                                     : EncodeCallError(call_id, {ErrorCode::kInternalError,
                                                                 "not recorded yet; send it again"}));
  });
}

void Charger::AskToOpen(int32_t transaction_id, std::function<void(absl::Status)> then) {
  const v1::OcppTransaction& t = *Transaction(transaction_id);
  v1::ChargerStart start;
  start.set_transaction_id(t.transaction_id());
  *start.mutable_started_at() = t.started_at();
  start.set_meter_start_wh(t.meter_start_wh());
  start.set_connector_id(t.connector_id());
  LOG(INFO) << "OCPP:" << id() << " | Transaction " << transaction_id << " began at the charger"
            << " with idTag " << absl::CHexEscape(t.id_tag()) << "; asking central";
  AskCentral(t.id_tag(), &start, [this, transaction_id, then = std::move(then)](
                                     absl::StatusOr<v1::Authorization> answer) {
    v1::OcppTransaction* t = Transaction(transaction_id);
    if (t == nullptr) return then(absl::NotFoundError("no longer in the journal"));
    if (!answer.ok() || answer->status().empty()) {
      // Kept as asked: the charger sends it again, and central answers the
      // same (its session, if it opened one).
      const std::string why(answer.ok() ? answer->reason() : answer.status().message());
      LOG(WARNING) << "OCPP:" << id() << " | Transaction " << transaction_id
                   << ": central cannot say now (" << why << "); the charger is to send it again";
      return then(absl::UnavailableError(absl::StrCat("central cannot say now: ", why)));
    }
    if (IdTagStatus(*t).empty()) {
      t->set_id_tag_status(answer->status());
      if (answer->status() == "Accepted" && !answer->session().session_id().empty()) {
        Begin(*t, answer->session());
        LOG(INFO) << "OCPP:" << id() << " | Transaction " << transaction_id << " is session "
                  << t->session().session_id() << " of " << t->session().driver_id();
      } else {
        // Never billed: the charger stops (StopTransactionOnInvalidId).
        t->set_ended(true);
        LOG(WARNING) << "OCPP:" << id() << " | Transaction " << transaction_id << " for idTag "
                     << absl::CHexEscape(t->id_tag()) << " refused by central: "
                     << answer->status() << (answer->reason().empty() ? "" : ", ")
                     << answer->reason();
      }
    }
    then(absl::OkStatus());
  });
}

void Charger::OnAuthorize(const std::string& call_id, const Message& request) {
  const std::string& id_tag = As<o::AuthorizeRequest>(request).id_tag();
  if (journal_.has_pending_start() && journal_.pending_start().driver_id() == id_tag) {
    // The driver a remote start waits for.
    o::AuthorizeResponse response;
    response.mutable_id_tag_info()->set_status("Accepted");
    return links_.SendToCharger(EncodeCallResult(call_id, response));
  }
  AskCentral(id_tag, nullptr, [this, call_id](absl::StatusOr<v1::Authorization> answer) {
    if (!answer.ok() || answer->status().empty()) {
      // Not "Invalid", which the charger would remember of the card: an
      // error, after which it may admit the card from its own list.
      links_.SendToCharger(EncodeCallError(
          call_id, {ErrorCode::kInternalError,
                    absl::StrCat("cannot authorize now: ",
                                 answer.ok() ? answer->reason() : answer.status().message())}));
      return;
    }
    o::AuthorizeResponse response;
    FillIdTagInfo(*answer, response.mutable_id_tag_info());
    links_.SendToCharger(EncodeCallResult(call_id, response));
  });
}

void Charger::AskCentral(const std::string& id_tag, const v1::ChargerStart* start,
                         Answered answered) {
  const std::string ask_id = absl::StrCat("ask-", next_ask_++);
  v1::MonitorMessage message;
  message.mutable_authorize()->set_ask_id(ask_id);
  message.mutable_authorize()->set_id_tag(id_tag);
  if (start != nullptr) *message.mutable_authorize()->mutable_start() = *start;
  if (!links_.SendToCentral(message)) {
    return answered(absl::UnavailableError("central is not reachable"));
  }
  asks_[ask_id] = {options_.clock->Steady() + options_.call_timeout, std::move(answered)};
}

void Charger::OnMeterValues(const Message& request, absl::Time now) {
  const auto& values = As<o::MeterValuesRequest>(request);
  v1::OcppTransaction* t =
      values.has_transaction_id() ? Transaction(values.transaction_id()) : Running();
  if (t == nullptr || t->ended() || !t->has_session()) return;  // nothing central bills
  v1::SupplySnapshot& supply = *t->mutable_supply();
  last_heard_[t->transaction_id()] = options_.clock->Steady();
  last_meter_[t->transaction_id()] = options_.clock->Steady();
  absl::Time measured = now;
  for (const o::MeterValue& meter : values.meter_value()) {
    measured = TimeOr(meter.timestamp(), now);
    // Whatever its context (Sample.Periodic, Transaction.Begin / End,
    // Trigger, ...), a register is read as it is. A charger may give a
    // measurand for the whole charger, per phase, or both: the whole is
    // taken when given, else the sum of the phases.
    PhasedReading energy_wh, power_w;
    for (const o::SampledValue& sample : meter.sampled_value()) {
      if (sample.format() == "SignedData") continue;  // a signed meter's blob, not a number
      if (sample.location() == "EV") continue;        // the car's own (its SoC, ...)
      double value = 0;
      if (!absl::SimpleAtod(sample.value(), &value) || !std::isfinite(value)) {
        LOG(WARNING) << "OCPP:" << id() << " | A meter value that is not a number: "
                     << sample.value().substr(0, 30);
        continue;
      }
      const std::string measurand =
          sample.has_measurand() ? sample.measurand() : "Energy.Active.Import.Register";
      const std::string unit = sample.unit();
      if (measurand == "Energy.Active.Import.Register") {
        energy_wh.Add(sample, unit == "kWh" ? value * 1000 : value);
      } else if (measurand == "Power.Active.Import") {
        power_w.Add(sample, unit == "kW" ? value * 1000 : value);
      }
    }
    if (std::optional<double> wh = energy_wh.Value()) {
      supply.set_energy_kwh(std::max(0.0, (*wh - t->meter_start_wh()) / 1000));
    }
    if (std::optional<double> w = power_w.Value()) supply.set_power_kw(std::max(0.0, *w / 1000));
  }
  supply.set_amount_eur(
      EurOfCents(AmountCents(supply.energy_kwh(), PriceOf(*t))));
  v1::SupplyTelemetry telemetry;
  telemetry.set_cp_id(id());
  *telemetry.mutable_supply() = supply;
  *telemetry.mutable_measured_at() = ToProto(measured);
  MacTelemetry(t->session().telemetry_key(), telemetry);
  if (absl::Status valid = ValidateTelemetry(telemetry); !valid.ok()) {
    LOG(WARNING) << "OCPP:" << id() << " | Meter values not sent on: " << valid.message();
    return;
  }
  // Best effort, as an engine's: the next sample brings a newer one.
  links_.Publish(kSupplyTelemetryTopic, id(), ToJson(telemetry), [](absl::Status) {});
  SendHealth(now);
}

void Charger::OnStopTransaction(const std::string& call_id, const Message& request,
                                absl::Time now) {
  const auto& stop = As<o::StopTransactionRequest>(request);
  auto respond = [this, call_id](const std::string& status) {
    o::StopTransactionResponse response;
    if (!status.empty()) response.mutable_id_tag_info()->set_status(status);
    links_.SendToCharger(EncodeCallResult(call_id, response));
  };
  v1::OcppTransaction* t = Transaction(stop.transaction_id());
  if (t == nullptr) {
    // Some firmware stops a transaction it started offline with id -1, or
    // with an id the gateway never gave: the running one of the same idTag
    // (case-insensitive, as OCPP's idTags are) is the one, the charger's
    // one connector running one at a time; unless the stop is from before
    // it began, or its meter below the start's (a stale stop of an earlier
    // transaction, which must not end this one at nothing).
    v1::OcppTransaction* running = Running();
    if (running != nullptr && running->has_session() && stop.has_id_tag() &&
        (absl::EqualsIgnoreCase(stop.id_tag(), running->id_tag()) ||
         absl::EqualsIgnoreCase(stop.id_tag(), running->session().driver_id())) &&
        TimeOr(stop.timestamp(), now) >= FromProto(running->started_at()) &&
        static_cast<int64_t>(stop.meter_stop()) >= running->meter_start_wh()) {
      LOG(WARNING) << "OCPP:" << id() << " | StopTransaction of unknown transaction "
                   << stop.transaction_id() << " by " << stop.id_tag()
                   << ": taken as the stop of its running transaction "
                   << running->transaction_id();
      t = running;
    } else {
      LOG(WARNING) << "OCPP:" << id() << " | StopTransaction of unknown transaction "
                   << stop.transaction_id() << (stop.has_id_tag() ? "" : " without an idTag")
                   << ": nothing running matches it; nothing billed";
      return respond("");
    }
  }
  if (IdTagStatus(*t).empty()) {
    // Its start never had central's answer (central was out of reach while
    // the charger sent it, and the charger gave up on it): asked now, and
    // billed as any once central opened its session.
    const int32_t transaction_id = t->transaction_id();
    return AskToOpen(transaction_id, [this, call_id, stop](absl::Status asked) {
      if (!asked.ok()) {
        return links_.SendToCharger(
            EncodeCallError(call_id, {ErrorCode::kInternalError, std::string(asked.message())}));
      }
      OnStopTransaction(call_id, stop, options_.clock->Now());
    });
  }
  if (t->ended() || !t->has_session()) return respond("Accepted");  // a repeat, or refused
  if (ending_.count(t->transaction_id()) > 0) {
    // Its result is on its way (this stop's, sent before, or Reconcile's):
    // once it is in Kafka, this one is answered as a repeat.
    return links_.SendToCharger(EncodeCallError(
        call_id, {ErrorCode::kInternalError, "being recorded; send it again"}));
  }
  stop_seen_.insert(t->transaction_id());

  const int64_t wh = static_cast<int64_t>(stop.meter_stop()) - t->meter_start_wh();
  if (wh < 0) {
    LOG(WARNING) << "OCPP:" << id() << " | Transaction " << t->transaction_id()
                 << ": meterStop " << stop.meter_stop() << " is below meterStart "
                 << t->meter_start_wh() << "; billed as nothing supplied";
  }
  v1::SessionResult result =
      ResultOf(*t, TimeOr(stop.timestamp(), now), std::max<int64_t>(wh, 0) / 1000.0);
  auto asked = stop_reasons_.find(t->transaction_id());
  result.set_end_reason(EndReason(
      stop, asked == stop_reasons_.end() ? std::nullopt : std::make_optional(asked->second)));
  EndTransaction(t->transaction_id(), std::move(result), [this, call_id, respond](absl::Status ended) {
    if (!ended.ok()) {
      // Until Kafka has it, the charger keeps the message and sends it
      // again, to this gateway or another.
      links_.SendToCharger(EncodeCallError(
          call_id, {ErrorCode::kInternalError, absl::IsInternal(ended)
                                                   ? "the result could not be signed; send it again"
                                                   : "not recorded yet; send it again"}));
      return;
    }
    respond("Accepted");
  });
}

void Charger::EndTransaction(int32_t transaction_id, v1::SessionResult result,
                             std::function<void(absl::Status)> done) {
  if (absl::Status signing = SignResult(options_.key_pem, result); !signing.ok()) {
    LOG(ERROR) << "OCPP:" << id() << " | cannot sign the result: " << signing;
    return done(absl::InternalError(signing.message()));
  }
  ending_.insert(transaction_id);
  links_.Publish(
      kSessionResultsTopic, id(), ToJson(result),
      [this, alive = std::weak_ptr<int>(alive_), transaction_id, result,
       done = std::move(done)](absl::Status published) {
        if (alive.expired()) return;
        ending_.erase(transaction_id);
        if (!published.ok()) {
          LOG(WARNING) << "OCPP:" << id() << " | The result of session " << result.session_id()
                       << " is not in Kafka yet: " << published;
          return done(absl::UnavailableError(published.message()));
        }
        if (v1::OcppTransaction* ended = Transaction(transaction_id)) ended->set_ended(true);
        stop_reasons_.erase(transaction_id);
        last_heard_.erase(transaction_id);
        last_meter_.erase(transaction_id);
        stop_seen_.erase(transaction_id);
        Save();
        LOG(INFO) << "OCPP:" << id() << " | Transaction " << transaction_id << " ended: "
                  << absl::StrFormat("%.3f kWh, %.2f EUR", result.energy_kwh(),
                                     result.amount_eur())
                  << " for " << result.driver_id() << " (session " << result.session_id()
                  << ")";
        done(absl::OkStatus());
        SendHealth(options_.clock->Now());
      });
}

void Charger::Reconcile(absl::Time now) {
  const absl::Time steady = options_.clock->Steady();
  v1::OcppTransaction* running = Running();
  if (!asked_since_connected_ && options_.ask_charger) {
    asked_since_connected_ = true;
    // The first connector's CP asks for every connector's (and so finds
    // those it has); the others for their own.
    Trigger("StatusNotification", options_.connector_id == 1 ? 0 : options_.connector_id, now);
    if (running != nullptr) {
      Trigger("MeterValues", running->connector_id(), now);
      last_heard_[running->transaction_id()] = steady;
    }
  }
  if (running == nullptr) return;
  const int32_t transaction_id = running->transaction_id();
  absl::Time& heard = last_heard_.try_emplace(transaction_id, steady).first->second;
  if (steady - heard >= options_.meter_silence && options_.ask_charger) {
    LOG(INFO) << "OCPP:" << id() << " | Transaction " << transaction_id << ": no meter value for "
              << absl::FormatDuration(absl::Trunc(steady - heard, absl::Seconds(1)))
              << "; asking for one";
    Trigger("MeterValues", running->connector_id(), now);
    heard = steady;
  }
  auto available = available_since_.find(running->connector_id());
  if (available == available_since_.end() || steady - available->second < options_.stop_grace ||
      ending_.count(transaction_id) > 0 || stop_seen_.count(transaction_id) > 0) {
    return;
  }
  if (auto meter = last_meter_.find(transaction_id);
      meter != last_meter_.end() && meter->second > available->second) {
    return;  // metered since: it runs, whatever the status said
  }
  // The charger runs no transaction, and has not sent this one's stop for
  // stop_grace: it gave it up (its TransactionMessageAttempts spent).
  const v1::OcppTransaction& t = *running;
  const double kwh = t.supply().energy_kwh();
  v1::SessionResult result = ResultOf(t, now, kwh);
  result.set_end_reason(v1::SESSION_END_REASON_RECONCILED);
  const std::string detail = absl::StrFormat(
      "transaction %d of session %s: the charger showed its connector Available for %s and "
      "never sent its StopTransaction; closed, billed from its last meter reading (%.3f kWh)",
      transaction_id, t.session().session_id(),
      absl::FormatDuration(absl::Trunc(steady - available->second, absl::Seconds(1))), kwh);
  LOG(WARNING) << "OCPP:" << id() << " | Transaction " << detail.substr(sizeof("transaction"));
  EndTransaction(transaction_id, std::move(result),
                 [this, transaction_id, session = t.session().session_id(), detail](absl::Status ended) {
                   if (!ended.ok()) return;  // again at the next tick
                   v1::MonitorMessage message;
                   message.mutable_reconciled()->set_transaction_id(transaction_id);
                   message.mutable_reconciled()->set_session_id(session);
                   message.mutable_reconciled()->set_detail(detail);
                   links_.SendToCentral(message);
                 });
}

void Charger::Trigger(const std::string& message, int32_t connector_id, absl::Time now) {
  o::TriggerMessageRequest trigger;
  trigger.set_requested_message(message);
  if (connector_id > 0) trigger.set_connector_id(connector_id);
  Call(trigger, now, [this, message](absl::Status status, const Message* response, absl::string_view) {
    if (!status.ok() || As<o::TriggerMessageResponse>(*response).status() != "Accepted") {
      LOG(INFO) << "OCPP:" << id() << " | TriggerMessage " << message << " not taken: "
                << (status.ok() ? As<o::TriggerMessageResponse>(*response).status()
                                : status.ToString());
    }
  });
}

// --- from central ------------------------------------------------------------

void Charger::OnCommand(const v1::CentralCommand& command) {
  const absl::Time now = options_.clock->Now();
  switch (command.kind_case()) {
    case v1::CentralCommand::kRegistered:
      operator_stopped_ = command.registered().stopped_by_operator();
      if (operator_stopped_) SetAvailability(false, "", now);
      SendHealth(now);
      return;
    case v1::CentralCommand::kStartSupply:
      return StartSupply(command, now);
    case v1::CentralCommand::kStopSupply:
      return StopSupply(command, now);
    case v1::CentralCommand::kAvailability:
      return SetAvailability(command.availability().operative(), command.command_id(), now);
    case v1::CentralCommand::kChargerOperation:
      return Operate(command, now);
    case v1::CentralCommand::kAuthorization: {
      auto ask = asks_.find(command.command_id());
      if (ask == asks_.end()) return;  // answered late: asked again since
      Answered answered = std::move(ask->second.answered);
      asks_.erase(ask);
      return answered(command.authorization());
    }
    default:
      Answer(command.command_id(), absl::InvalidArgumentError("unknown command"));
  }
}

void Charger::Answer(const std::string& command_id, absl::Status status) {
  if (command_id.empty()) return;
  if (!status.ok()) LOG(WARNING) << "OCPP:" << id() << " | Command " << command_id << ": " << status;
  v1::MonitorMessage message;
  v1::CommandResult* result = message.mutable_command_result();
  result->set_command_id(command_id);
  result->set_code(static_cast<int>(status.code()));
  result->set_message(std::string(status.message()));
  links_.SendToCentral(message);
}

void Charger::StartSupply(const v1::CentralCommand& command, absl::Time now) {
  const v1::StartSupplyRequest& start = command.start_supply();
  const v1::OcppTransaction* running = Running();
  if ((running != nullptr && running->session().session_id() == start.session_id()) ||
      (journal_.has_pending_start() && journal_.pending_start().session_id() == start.session_id())) {
    return Answer(command.command_id(), absl::OkStatus());  // already under way
  }
  if (Status() == "Faulted" || Status() == "Unavailable") {
    return Answer(command.command_id(),
                  absl::FailedPreconditionError(absl::StrCat("the charger is ", Status())));
  }
  if (running != nullptr || journal_.has_pending_start()) {
    return Answer(command.command_id(),
                  absl::FailedPreconditionError("the charger is busy with another session"));
  }
  if (start.driver_id().size() > 20) {
    return Answer(command.command_id(),
                  absl::FailedPreconditionError(
                      "the driver's id is longer than OCPP's idTag (20 characters)"));
  }
  *journal_.mutable_pending_start() = start;
  *journal_.mutable_pending_since() = ToProto(now);
  pending_deadline_ = options_.clock->Steady() + kPendingStartTimeout;
  // Asked of the charger once every gateway knows the session is coming:
  // its StartTransaction may reach another.
  Save([this, command, start](absl::Status shared) {
    if (!shared.ok()) {
      if (journal_.pending_start().session_id() == start.session_id()) {
        ForgetPendingStart();
      }
      return Answer(command.command_id(),
                    absl::UnavailableError(absl::StrCat("cannot record the start: ",
                                                        shared.message())));
    }
    RemoteStart(command, options_.clock->Now());
  });
}

void Charger::RemoteStart(const v1::CentralCommand& command, absl::Time now) {
  const v1::StartSupplyRequest& start = command.start_supply();
  LOG(INFO) << "OCPP:" << id() << " | RemoteStartTransaction for " << start.driver_id()
            << ", session " << start.session_id();
  o::RemoteStartTransactionRequest remote;
  remote.set_connector_id(options_.connector_id);
  remote.set_id_tag(start.driver_id());
  Call(remote, now,
       [this, command_id = command.command_id(), session = start.session_id()](
           absl::Status status, const Message* response, absl::string_view) {
         if (status.ok() && As<o::RemoteStartTransactionResponse>(*response).status() != "Accepted") {
           status = absl::FailedPreconditionError("the charger rejected RemoteStartTransaction");
         }
         if (!status.ok() && journal_.has_pending_start() &&
             journal_.pending_start().session_id() == session) {
           ForgetPendingStart();
           Save();
         }
         Answer(command_id, status);
       });
}

void Charger::StopSupply(const v1::CentralCommand& command, absl::Time now) {
  const v1::StopSupplyRequest& stop = command.stop_supply();
  auto meant = [&stop](const v1::StartSupplyRequest& session) {
    return stop.session_id().empty() || stop.session_id() == session.session_id();
  };
  if (journal_.has_pending_start() && meant(journal_.pending_start())) {
    ForgetPendingStart();
    Save();
  }
  v1::OcppTransaction* running = Running();
  if (running == nullptr || !meant(running->session())) {
    return Answer(command.command_id(), absl::OkStatus());  // nothing of it runs
  }
  stop_reasons_[running->transaction_id()] = stop.reason();
  LOG(INFO) << "OCPP:" << id() << " | RemoteStopTransaction " << running->transaction_id()
            << " (" << v1::SessionEndReason_Name(stop.reason()) << ")";
  o::RemoteStopTransactionRequest remote;
  remote.set_transaction_id(running->transaction_id());
  Call(remote, now,
       [this, command_id = command.command_id()](absl::Status status, const Message* response,
                                                 absl::string_view) {
         if (status.ok() && As<o::RemoteStopTransactionResponse>(*response).status() != "Accepted") {
           status = absl::FailedPreconditionError("the charger rejected RemoteStopTransaction");
         }
         Answer(command_id, status);
       });
}

void Charger::SetAvailability(bool operative, const std::string& command_id, absl::Time now) {
  operator_stopped_ = !operative;
  if (operative) operative_asked_ = options_.clock->Steady();
  LOG(INFO) << "OCPP:" << id() << " | ChangeAvailability " << (operative ? "Operative" : "Inoperative");
  o::ChangeAvailabilityRequest change;
  change.set_connector_id(options_.connector_id);  // this CP's, not its neighbours'
  change.set_type(operative ? "Operative" : "Inoperative");
  Call(change, now, [this, command_id](absl::Status status, const Message* response,
                                       absl::string_view) {
    if (status.ok() && As<o::ChangeAvailabilityResponse>(*response).status() == "Rejected") {
      status = absl::FailedPreconditionError("the charger rejected ChangeAvailability");
    }
    Answer(command_id, status);
  });
  SendHealth(now);
}

void Charger::Operate(const v1::CentralCommand& command, absl::Time now) {
  const v1::ChargerOperation& operation = command.charger_operation();
  const std::string& action = operation.action();
  std::unique_ptr<Message> request =
      SentByCentralSystem(action) && std::find(std::begin(kOperations), std::end(kOperations),
                                               action) != std::end(kOperations)
          ? NewRequest(action)
          : nullptr;
  if (request == nullptr) {
    return Answer(command.command_id(),
                  absl::InvalidArgumentError(absl::StrCat(
                      "\"", action.substr(0, 40), "\" is not an operation the gateway relays (",
                      absl::StrJoin(kOperations, ", "), ")")));
  }
  const std::string& payload = operation.payload_json();
  if (std::optional<CallError> error = DecodePayload(payload.empty() ? "{}" : payload,
                                                     request.get())) {
    return Answer(command.command_id(),
                  absl::InvalidArgumentError(absl::StrCat(action, " of OCPP 1.6 takes no such request: ",
                                                          error->description)));
  }
  absl::Duration timeout = options_.call_timeout;
  if (operation.has_timeout()) {
    timeout = std::clamp(FromProto(operation.timeout()), absl::Seconds(1), kMaxOperationTimeout);
  }
  LOG(INFO) << "OCPP:" << id() << " | " << action << " for the operator";
  Call(*request, now, timeout,
       [this, command_id = command.command_id()](absl::Status status, const Message*,
                                                 absl::string_view answer_json) {
         if (!status.ok()) return Answer(command_id, status);
         v1::MonitorMessage message;
         v1::CommandResult* result = message.mutable_command_result();
         result->set_command_id(command_id);
         result->set_answer_json(std::string(answer_json));
         links_.SendToCentral(message);
       });
}

// --- calls to the charger ----------------------------------------------------

void Charger::Call(const Message& request, absl::Time now, Reply reply) {
  Call(request, now, options_.call_timeout, std::move(reply));
}

void Charger::Call(const Message& request, absl::Time /*now*/, absl::Duration timeout,
                   Reply reply) {
  calls_->Call(request, options_.clock->Steady(), timeout, std::move(reply));
}

void Charger::Disconnected() {
  if (own_calls_ != nullptr) own_calls_->Disconnected();
  list_version_.reset();  // asked again on its next connection
  list_limits_.reset();
  asked_since_connected_ = false;
  available_since_.clear();  // unknown while it is away
}

void Charger::Tick() {
  const absl::Time now = options_.clock->Now();
  const absl::Time steady = options_.clock->Steady();
  if (own_calls_ != nullptr) own_calls_->Tick(steady);
  std::vector<Answered> unanswered;
  for (auto it = asks_.begin(); it != asks_.end();) {
    if (it->second.deadline > steady) {
      ++it;
      continue;
    }
    unanswered.push_back(std::move(it->second.answered));
    it = asks_.erase(it);
  }
  for (Answered& answered : unanswered) {
    answered(absl::DeadlineExceededError(absl::StrCat(
        "central did not answer within ", absl::FormatDuration(options_.call_timeout))));
  }
  SyncLocalList(now);
  Reconcile(now);
  if (journal_.has_pending_start() && steady > pending_deadline_) {
    // Nobody plugged in: the session ends with nothing supplied, billed at 0.
    const v1::StartSupplyRequest start = journal_.pending_start();
    LOG(WARNING) << "OCPP:" << id() << " | Session " << start.session_id()
                 << " never started at the charger; it ends with nothing supplied";
    v1::SessionResult result;
    result.set_session_id(start.session_id());
    result.set_request_id(start.request_id());
    result.set_cp_id(id());
    result.set_driver_id(start.driver_id());
    *result.mutable_started_at() = journal_.pending_since();
    *result.mutable_ended_at() = ToProto(now);
    result.set_price_eur_per_kwh(info_.price_eur_per_kwh());
    result.set_end_reason(v1::SESSION_END_REASON_UNPLUGGED);
    if (absl::Status signing = SignResult(options_.key_pem, result); !signing.ok()) {
      LOG(ERROR) << "OCPP:" << id() << " | cannot sign the result: " << signing;
    }
    ForgetPendingStart();
    Save();
    links_.Publish(kSessionResultsTopic, id(), ToJson(result), [](absl::Status) {});
  }
  SendHealth(now);
}

void Charger::SyncLocalList(absl::Time now) {
  if (options_.local_list == nullptr || list_call_) return;
  if (!list_version_.has_value()) {
    list_call_ = true;
    return Call(o::GetLocalListVersionRequest(), now,
                [this](absl::Status status, const Message* response, absl::string_view) {
                  list_call_ = false;
                  list_version_ =
                      status.ok() ? As<o::GetLocalListVersionResponse>(*response).list_version() : -1;
                  if (!status.ok()) {
                    LOG(INFO) << "OCPP:" << id() << " | No local authorization list: " << status;
                  }
                });
  }
  if (*list_version_ < 0) return;
  if (!list_limits_.has_value()) {
    // How many cards it holds, and takes in one message (OCPP 1.6's
    // LocalAuthListMaxLength and SendLocalListMaxLength); a charger that
    // will not say gets at most kMaxLocalList, in one message.
    list_call_ = true;
    o::GetConfigurationRequest ask;
    ask.add_key("LocalAuthListMaxLength");
    ask.add_key("SendLocalListMaxLength");
    return Call(ask, now, [this](absl::Status status, const Message* response, absl::string_view) {
      list_call_ = false;
      ListLimits limits;
      if (status.ok()) {
        for (const o::KeyValue& key : As<o::GetConfigurationResponse>(*response).configuration_key()) {
          int64_t value = 0;
          if (!absl::SimpleAtoi(key.value(), &value) || value < 1) continue;
          value = std::min<int64_t>(value, kMaxLocalList);
          if (key.key() == "LocalAuthListMaxLength") limits.entries = value;
          if (key.key() == "SendLocalListMaxLength") limits.per_message = value;
        }
      }
      list_limits_ = limits;
    });
  }
  const int32_t version = options_.local_list->Version();
  if (*list_version_ >= version) return;
  // A charger with no list (0) gets the whole; one behind, what changed
  // since a little before its version (two changes central made within
  // that slack may reach Kafka out of their clocks' order; sending a card
  // again is harmless).
  const bool full = *list_version_ == 0;
  const std::vector<v1::IdToken> cards = options_.local_list->ChangedSince(
      full ? 0 : std::max<int32_t>(0, *list_version_ - kLocalListSlackSeconds));
  std::vector<o::AuthorizationData> entries;
  for (const v1::IdToken& token : cards) {
    if (token.id_tag().size() > 20) continue;
    if (entries.size() >= static_cast<size_t>(list_limits_->entries)) {
      // Beyond what the charger's memory holds: the rest are asked for online.
      LOG(WARNING) << "OCPP:" << id() << " | " << cards.size() << " cards for a local list of at"
                   << " most " << list_limits_->entries << "; the rest are asked for online";
      break;
    }
    o::AuthorizationData& data = entries.emplace_back();
    data.set_id_tag(token.id_tag());
    o::IdTagInfo* info = data.mutable_id_tag_info();
    const bool expired = token.has_expires_at() && FromProto(token.expires_at()) <= now;
    info->set_status(token.status() == v1::ID_TOKEN_STATUS_BLOCKED ? "Blocked"
                     : expired                                      ? "Expired"
                                                                    : "Accepted");
    if (token.has_expires_at()) info->set_expiry_date(FormatDateTime(FromProto(token.expires_at())));
    if (!token.group().empty()) info->set_parent_id_tag(token.group());
  }
  // In messages of at most per_message cards: the first Full (or
  // Differential), the rest Differential. Only the last carries the new
  // version; the others the charger's own (1 after a Full), so that a
  // charger cut off midway is sent again from where it was.
  std::vector<o::SendLocalListRequest> parts;
  const size_t per_message = list_limits_->per_message;
  for (size_t i = 0; i == 0 || i < entries.size(); i += per_message) {
    o::SendLocalListRequest& part = parts.emplace_back();
    part.set_update_type(full && i == 0 ? "Full" : "Differential");
    for (size_t j = i; j < entries.size() && j < i + per_message; ++j) {
      *part.add_local_authorization_list() = entries[j];
    }
  }
  for (size_t i = 0; i < parts.size(); ++i) {
    parts[i].set_list_version(i + 1 == parts.size() ? version : full ? 1 : *list_version_);
  }
  LOG(INFO) << "OCPP:" << id() << " | SendLocalList " << parts[0].update_type() << " of "
            << entries.size() << " card(s) in " << parts.size() << " message(s), version "
            << version;
  SendListPart(std::move(parts), 0, now);
}

void Charger::SendListPart(std::vector<::ocpp::v16::SendLocalListRequest> parts, size_t i,
                           absl::Time now) {
  list_call_ = true;
  const o::SendLocalListRequest part = parts[i];
  Call(part, now,
       [this, parts = std::move(parts), i](absl::Status status, const Message* response,
                                           absl::string_view) mutable {
         list_call_ = false;
         const std::string answer =
             status.ok() ? As<o::SendLocalListResponse>(*response).status() : std::string();
         if (answer == "Accepted") {
           list_version_ = parts[i].list_version();
           if (i + 1 < parts.size()) SendListPart(std::move(parts), i + 1, options_.clock->Now());
         } else if (answer == "VersionMismatch") {
           list_version_ = 0;  // the whole list next
         } else {
           LOG(WARNING) << "OCPP:" << id() << " | SendLocalList not taken ("
                        << (status.ok() ? answer : status.ToString())
                        << "); sent again on its next connection";
           list_version_ = -1;
         }
       });
}

void Charger::SendHealth(absl::Time now) {
  const bool faulted = Status() == "Faulted";
  // Unavailable at the operator's wish (or on its way back) is no fault:
  // central shows the CP as the operator left it.
  const bool unavailable = Status() == "Unavailable" && !operator_stopped_ &&
                           options_.clock->Steady() - operative_asked_ > kAvailabilityGrace;
  const bool ok = !faulted && !unavailable;
  v1::OcppTransaction* running = Running();
  v1::MonitorMessage message;
  v1::HealthReport* health = message.mutable_health();
  health->set_engine_ok(ok);
  health->set_engine_state(!ok ? v1::ENGINE_STATE_FAULT
                               : running != nullptr ? v1::ENGINE_STATE_SUPPLYING
                                                    : v1::ENGINE_STATE_IDLE);
  health->set_consecutive_failures(ok ? 0 : 3);
  if (running != nullptr) *health->mutable_supply() = running->supply();
  *health->mutable_checked_at() = ToProto(now);
  links_.SendToCentral(message);
}

}  // namespace evnet::ocpp
