// One OCPP 1.6J charger's connector as a CP of evnet (a one-connector
// charger is one CP; see ConnectorCpId): what its monitor and its engine
// would do, made of what the charger says over its WebSocket about it.
//
// To central it is a monitor: health from the charger's connection,
// StatusNotification and transactions; central's StartSupply becomes
// RemoteStartTransaction, StopSupply RemoteStopTransaction, the operator's
// stop and resume ChangeAvailability. To Kafka it is an engine: MeterValues
// become telemetry, StopTransaction the session's result, billed from the
// charger's own meter (meterStop - meterStart) and signed with the CP's key.
//
// Threading: a Charger is owned by the gateway's network thread; every
// method runs there, and so must every callback it is given (ChargerLinks
// says how). It outlives its connections: the gateway keeps one per CP,
// and the journal (one file per CP) carries what must
// survive the gateway: the remote start the charger accepted, the running
// transactions with their meterStart, and the last few ended ones.
#ifndef EVNET_OCPP_GATEWAY_CHARGER_H_
#define EVNET_OCPP_GATEWAY_CHARGER_H_

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "evnet/v1/central.pb.h"
#include "common/clock.h"
#include "evnet/v1/gateway.pb.h"
#include "google/protobuf/message.h"
#include "ocpp/v16/messages.pb.h"
#include "ocpp_gateway/call_queue.h"
#include "ocpp_gateway/local_list.h"
#include "ocpp_gateway/ocpp_messages.h"

namespace evnet::ocpp {

// What a charger does to the world; the gateway implements it.
class ChargerLinks {
 public:
  virtual ~ChargerLinks() = default;
  // A text frame to the charger's WebSocket (dropped if it is closed).
  virtual void SendToCharger(const std::string& frame) = 0;
  // A message on the CP's MonitorLink; false when it was dropped, the link
  // being down.
  virtual bool SendToCentral(const v1::MonitorMessage& message) = 0;
  // Produces to Kafka; `done` runs later, on the charger's thread.
  virtual void Publish(absl::string_view topic, const std::string& key, const std::string& value,
                       std::function<void(absl::Status)> done) = 0;
  // Shares the charger's journal with every gateway (journal_store.h);
  // `done` runs later, on the charger's thread.
  virtual void ShareJournal(const v1::OcppChargerJournal& journal,
                            std::function<void(absl::Status)> done) = 0;
};

struct ChargerOptions {
  v1::ChargingPointInfo info;  // cp_id is the chargeBoxId, or <chargeBoxId>-<n>
  // The charger's connector this CP is (ConnectorCpId): its status, its
  // remote starts and availability, its transactions.
  int32_t connector_id = 1;
  // The queue of CALLs to the charger's WebSocket, shared by the CPs of its
  // connectors; null: the Charger keeps its own (a one-connector charger),
  // answers the results itself and fails its calls when disconnected.
  CallQueue* calls = nullptr;
  int heartbeat_interval_s = 60;
  // How long the charger has to answer a CALL of central's supply commands
  // and the operator's availability: under central's command timeout, so
  // that central hears the charger's answer or ours. An operator's
  // operation (Reset, ...) says its own, at most kMaxOperationTimeout.
  absl::Duration call_timeout = absl::Seconds(4);
  std::string journal_path;  // empty: nothing survives the gateway
  std::string key_pem;       // signs results; empty: unsigned
  // Wall time for what the charger and central are told; steady time for
  // every timeout, so that a stepped clock neither fires nor holds one.
  const Clock* clock = &SystemClock::Get();
  // Reconciliation: a running transaction without a meter value for this
  // long is asked for one (TriggerMessage MeterValues); one whose charger
  // shows its connector Available this long without stopping it (it gave up
  // its StopTransaction) is closed, billed from its last meter reading.
  absl::Duration meter_silence = absl::Minutes(5);
  absl::Duration stop_grace = absl::Minutes(2);
  // False: the charger is never asked (TriggerMessage) by the gateway
  // itself, only closed after stop_grace (for tests of other things).
  bool ask_charger = true;
  // Drivers' cards, pushed to a charger that keeps a local authorization
  // list (SendLocalList) so that it admits them offline; null: none pushed.
  const LocalList* local_list = nullptr;
};

// The operator's operations the gateway relays to a charger as they are
// (central's OperateCharger), and the longest an operator may wait for one.
inline constexpr absl::string_view kOperations[] = {
    "Reset",          "UnlockConnector", "GetConfiguration", "ChangeConfiguration",
    "TriggerMessage", "ClearCache",      "DataTransfer"};
// (While one is outstanding, every other CALL waits: a driver's remote
// start included.)
inline constexpr absl::Duration kMaxOperationTimeout = absl::Minutes(1);
// A charger with N connectors is N CPs: the first is the chargeBoxId (so a
// one-connector charger is the CP it always was), connector n >= 2 is
// "<chargeBoxId>-<n>".
inline std::string ConnectorCpId(absl::string_view charge_box_id, int32_t connector_id) {
  return connector_id <= 1 ? std::string(charge_box_id)
                           : absl::StrCat(charge_box_id, "-", connector_id);
}
// The most cards a local authorization list gets, whatever the charger says
// it holds.
inline constexpr int32_t kMaxLocalList = 5000;
// Connector n >= 2 numbers its transactions from n times this.
inline constexpr int32_t kTransactionIdsPerConnector = 1'000'000;

class Charger {
 public:
  Charger(ChargerOptions options, ChargerLinks& links);

  Charger(const Charger&) = delete;
  Charger& operator=(const Charger&) = delete;

  // Reads the journal: the local file's or `shared` (another gateway's),
  // whichever is newer; neither is a new charger.
  absl::Status Recover(const std::optional<v1::OcppChargerJournal>& shared = std::nullopt);
  // The charger is back here after another gateway served it: its journal
  // from there, if newer than this one.
  void Adopt(const std::optional<v1::OcppChargerJournal>& shared);

  const std::string& id() const { return options_.info.cp_id(); }
  // The charger's figures (location, power, price) changed: central is told
  // at once; a transaction under way is billed at the price it began with.
  void SetInfo(const v1::ChargingPointInfo& info);
  const v1::ChargingPointInfo& info() const { return info_; }
  // What registers the CP on a new MonitorLink.
  v1::MonitorMessage Hello() const;

  // The charger's WebSocket closed: its calls are answered as failed.
  void Disconnected();
  // One text frame from the charger.
  void OnFrame(absl::string_view text);
  // One command from central.
  void OnCommand(const v1::CentralCommand& command);
  // Every second while connected: health to central, calls that timed out.
  void Tick();

  // The charger booted (its BootNotification went to its first connector's
  // CP): the others ask it again for their status and meter too.
  void Booted();
  // A StatusNotification of connector 0, the whole charger's, which its
  // first connector's CP answered: it applies to this connector too.
  void OnChargerStatus(const google::protobuf::Message& status);
  // Whether transaction `transaction_id` is this CP's, and running; and
  // whether a transaction of `id_tag` (or its driver) runs here: how the
  // socket finds the CP a StopTransaction is for.
  enum class Holding { kNone, kEnded, kRunning };
  Holding Holds(int32_t transaction_id) const;
  bool RunsFor(absl::string_view id_tag) const;
  // Whether a remote start for `id_tag` waits for the charger here: where
  // its Authorize goes.
  bool AwaitsStartFor(absl::string_view id_tag) const;
  int32_t connector_id() const { return options_.connector_id; }

  // For tests and the gateway's metrics.
  int running_transactions() const;
  int64_t revision() const { return journal_.revision(); }

 private:
  using Reply = CallQueue::Reply;

  // CALLs from the charger, by action.
  std::unique_ptr<google::protobuf::Message> Handle(const google::protobuf::Message& request,
                                                    absl::Time now, std::string* defer_id);
  void OnStartTransaction(const std::string& call_id, const google::protobuf::Message& request,
                          absl::Time now);
  void OnStopTransaction(const std::string& call_id, const google::protobuf::Message& request,
                         absl::Time now);
  void OnMeterValues(const google::protobuf::Message& request, absl::Time now);
  void OnStatus(const google::protobuf::Message& request, absl::Time now);
  void OnAuthorize(const std::string& call_id, const google::protobuf::Message& request);
  void RespondToStart(const std::string& call_id, const v1::OcppTransaction& t);
  // A transaction the charger began by itself: central is asked to open a
  // session of its idTag's driver; `then` runs once the transaction holds
  // central's verdict (its session, or ended as refused), or with why
  // central cannot say now (the charger is to send its message again).
  void AskToOpen(int32_t transaction_id, std::function<void(absl::Status)> then);

  // Asks central about `id_tag` (with `start`, to open a session of its
  // driver); `answered` gets central's Authorization, on this thread, or
  // why there is none (central unreachable, or silent for call_timeout).
  using Answered = std::function<void(absl::StatusOr<v1::Authorization>)>;
  void AskCentral(const std::string& id_tag, const v1::ChargerStart* start, Answered answered);

  // Central's commands.
  void StartSupply(const v1::CentralCommand& command, absl::Time now);
  void RemoteStart(const v1::CentralCommand& command, absl::Time now);
  void StopSupply(const v1::CentralCommand& command, absl::Time now);
  void SetAvailability(bool operative, const std::string& command_id, absl::Time now);
  // An operator's operation (Reset, ...): one CALL, answered to central
  // with the charger's answer as it gave it.
  void Operate(const v1::CentralCommand& command, absl::Time now);
  void Answer(const std::string& command_id, absl::Status status);

  // A CALL to the charger, through its socket's queue (call_queue.h);
  // `reply` gets its response or why there is none within call_timeout, or
  // `timeout`.
  void Call(const google::protobuf::Message& request, absl::Time now, Reply reply);
  void Call(const google::protobuf::Message& request, absl::Time now, absl::Duration timeout,
            Reply reply);
  void SendHealth(absl::Time now);
  // After each (re)connection and BootNotification: the charger is asked
  // for its status (and a running transaction's meter). Every second: a
  // silent transaction is asked for its meter, and one the charger no
  // longer runs is closed.
  void Reconcile(absl::Time now);
  void Trigger(const std::string& message, int32_t connector_id, absl::Time now);
  // Publishes `result` (signed here) as transaction `transaction_id`'s end;
  // once Kafka has it, the transaction is ended and journaled, and `done`
  // runs with OK (else with why not, nothing changed).
  void EndTransaction(int32_t transaction_id, v1::SessionResult result,
                      std::function<void(absl::Status)> done);
  // Brings the charger's local authorization list up to the gateway's: its
  // version asked once per connection, then every change since sent.
  void SyncLocalList(absl::Time now);
  // Sends parts[i] of a list; once the charger took it, the next.
  void SendListPart(std::vector<::ocpp::v16::SendLocalListRequest> parts, size_t i,
                    absl::Time now);
  // Writes the journal to the file and shares it; `then` runs once every
  // gateway can read it (or with why not).
  void Save(std::function<void(absl::Status)> then = nullptr);
  void WriteJournalFile();
  void ForgetPendingStart();
  // When the pending start (if any) gives up, on the steady clock: from
  // when it was asked, or, for one read from a journal, from its wall time
  // then (at most kPendingStartTimeout from now).
  void SetPendingDeadline();

  // What `t` is billed at per kWh.
  double PriceOf(const v1::OcppTransaction& t) const;
  // `t` is central's `session` (a remote start's, or a card's): supplying.
  void Begin(v1::OcppTransaction& t, const v1::StartSupplyRequest& session);
  // The result of `t`, ended at `ended` with `kwh` supplied, priced; its
  // end reason is the caller's.
  v1::SessionResult ResultOf(const v1::OcppTransaction& t, absl::Time ended, double kwh) const;
  v1::OcppTransaction* Transaction(int32_t id);
  v1::OcppTransaction* Running();

  const ChargerOptions options_;
  ChargerLinks& links_;
  // Alive while this charger is: callbacks from other threads check it.
  const std::shared_ptr<int> alive_ = std::make_shared<int>(0);

  v1::OcppChargerJournal journal_;
  v1::ChargingPointInfo info_;  // options_.info, until SetInfo
  std::unique_ptr<CallQueue> own_calls_;  // when options_.calls is null
  CallQueue* const calls_;                // options_.calls, or own_calls_
  // The last StatusNotification of this CP's connector, and of connector 0
  // (the whole charger); Status() is the CP's.
  const std::string& Status() const;
  std::string status_ = "Available";
  std::string error_code_ = "NoError";
  std::string charger_status_ = "Available";
  std::string charger_error_code_ = "NoError";
  bool operator_stopped_ = false;
  absl::Time operative_asked_ = absl::InfinitePast();  // steady
  absl::Time pending_deadline_ = absl::InfiniteFuture();  // steady
  bool asked_since_connected_ = false;  // Reconcile's triggers
  // Steady times: since when the charger shows its connector Available,
  // and when each running transaction last gave a meter value (or began,
  // or was asked for one).
  // By connector: a connector 0 or another connector going Available says
  // nothing of the transaction on this one.
  std::map<int32_t, absl::Time> available_since_;
  std::map<int32_t, absl::Time> last_heard_;
  // Steady time of each running transaction's last MeterValues: one the
  // charger still meters after its connector said Available runs.
  std::map<int32_t, absl::Time> last_meter_;
  // Transactions whose StopTransaction came (published or not yet): the
  // charger holds its stop and sends it again; never closed by Reconcile.
  std::set<int32_t> stop_seen_;
  // Transactions whose result is on its way to Kafka (EndTransaction).
  std::set<int32_t> ending_;
  // The charger's local list version, as it said on this connection; -1:
  // it keeps none (or would not say).
  std::optional<int32_t> list_version_;
  // How many cards its list holds, and how many one SendLocalList may
  // carry, as it said on this connection.
  struct ListLimits {
    int32_t entries = kMaxLocalList;
    int32_t per_message = kMaxLocalList;
  };
  std::optional<ListLimits> list_limits_;
  bool list_call_ = false;  // a call of the list's outstanding
  // Asks to central not answered yet, by ask id.
  struct PendingAsk {
    absl::Time deadline;  // steady
    Answered answered;
  };
  std::map<std::string, PendingAsk> asks_;
  int64_t next_ask_ = 1;
  // Transactions the operator or central asked to stop: their end reason.
  std::map<int32_t, v1::SessionEndReason> stop_reasons_;
};

}  // namespace evnet::ocpp

#endif  // EVNET_OCPP_GATEWAY_CHARGER_H_
