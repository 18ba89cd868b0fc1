// The CALLs a central system has sent to one charger's WebSocket, or is
// still to send: one outstanding at a time, as OCPP-J asks, the others
// waiting in order, each answered as timed out once its timeout has passed
// since it was asked, sent or not. A charger with several connectors is
// several CPs (one Charger each) behind one WebSocket, so they share the
// socket's queue: call ids are unique per socket, and one call of theirs at
// a time is outstanding.
//
// Threading: owned by the gateway's network thread, like the Chargers.
#ifndef EVNET_OCPP_GATEWAY_CALL_QUEUE_H_
#define EVNET_OCPP_GATEWAY_CALL_QUEUE_H_

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "ocpp_gateway/ocpp_messages.h"

namespace evnet::ocpp {

class CallQueue {
 public:
  // A CALL's outcome: its response, read and checked, and the payload as
  // the charger sent it; or why there is none.
  using Reply = std::function<void(absl::Status, const google::protobuf::Message*,
                                   absl::string_view answer_json)>;

  // `send` writes a frame to the charger's WebSocket; `name` is for logs.
  CallQueue(std::string name, std::function<void(const std::string&)> send)
      : name_(std::move(name)), send_(std::move(send)) {}

  CallQueue(const CallQueue&) = delete;
  CallQueue& operator=(const CallQueue&) = delete;

  // Queues `request`; `reply` gets its response or why there is none, at
  // most `timeout` (steady) after `steady_now`.
  void Call(const google::protobuf::Message& request, absl::Time steady_now,
            absl::Duration timeout, Reply reply);
  // A CALLRESULT or CALLERROR from the charger.
  void OnResult(const Frame& frame);
  // Every second: the calls due are answered as timed out.
  void Tick(absl::Time steady_now);
  // The WebSocket closed: every call is answered as failed.
  void Disconnected();

 private:
  struct PendingCall {
    std::string call_id;
    std::string action;  // "Reset"
    std::string frame;   // the CALL as sent
    std::unique_ptr<google::protobuf::Message> response;
    absl::Time deadline;     // steady: `timeout` from when it was asked
    absl::Duration timeout;
    Reply reply;
  };
  void SendNext();

  const std::string name_;
  const std::function<void(const std::string&)> send_;
  std::optional<PendingCall> outstanding_;  // sent, not answered yet
  std::deque<PendingCall> waiting_;         // not sent yet, in order
  int64_t next_call_ = 1;
};

}  // namespace evnet::ocpp

#endif  // EVNET_OCPP_GATEWAY_CALL_QUEUE_H_
