#include "ocpp_gateway/call_queue.h"

#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace evnet::ocpp {

void CallQueue::Call(const google::protobuf::Message& request, absl::Time steady_now,
                     absl::Duration timeout, Reply reply) {
  const std::string call_id = absl::StrCat("evnet-", next_call_++);
  const std::string action = ActionOf(request);
  waiting_.push_back({call_id, action, EncodeCall(call_id, request), NewResponse(action),
                      steady_now + timeout, timeout, std::move(reply)});
  SendNext();
}

void CallQueue::SendNext() {
  if (outstanding_.has_value() || waiting_.empty()) return;
  outstanding_ = std::move(waiting_.front());
  waiting_.pop_front();
  send_(outstanding_->frame);
}

void CallQueue::OnResult(const Frame& frame) {
  if (!outstanding_.has_value() || outstanding_->call_id != frame.id) {
    LOG(WARNING) << "OCPP:" << name_ << " | An answer to no call of ours outstanding ("
                 << frame.id.substr(0, 36) << "); ignored";
    return;
  }
  PendingCall call = std::move(*outstanding_);
  outstanding_.reset();
  if (frame.type == MessageType::kCallError) {
    call.reply(absl::FailedPreconditionError(absl::StrCat(
                   "the charger answered ", absl::CHexEscape(frame.error_code.substr(0, 50)),
                   ": ", absl::CHexEscape(frame.error_description.substr(0, 200)))),
               nullptr, "");
  } else if (std::optional<CallError> error =
                 DecodePayload(frame.payload_json, call.response.get())) {
    call.reply(absl::InvalidArgumentError(absl::StrCat("the charger's answer is not valid: ",
                                                       error->description)),
               nullptr, "");
  } else {
    call.reply(absl::OkStatus(), call.response.get(), frame.payload_json);
  }
  SendNext();
}

void CallQueue::Disconnected() {
  std::deque<PendingCall> calls = std::move(waiting_);
  waiting_.clear();
  if (outstanding_.has_value()) calls.push_front(std::move(*outstanding_));
  outstanding_.reset();
  for (PendingCall& call : calls) {
    call.reply(absl::UnavailableError("the charger disconnected"), nullptr, "");
  }
}

void CallQueue::Tick(absl::Time steady_now) {
  // Each call has its own timeout, so any of those waiting may be due.
  std::vector<std::pair<PendingCall, absl::Status>> expired;
  std::string holding;  // the action of the call the others wait behind
  if (outstanding_.has_value()) {
    holding = outstanding_->action;
    if (outstanding_->deadline <= steady_now) {
      expired.emplace_back(std::move(*outstanding_),
                           absl::DeadlineExceededError(
                               absl::StrCat("the charger did not answer within ",
                                            absl::FormatDuration(outstanding_->timeout))));
      outstanding_.reset();
    }
  }
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if (it->deadline > steady_now) {
      ++it;
      continue;
    }
    const absl::Duration timeout = it->timeout;
    expired.emplace_back(std::move(*it),
                         absl::DeadlineExceededError(absl::StrCat(
                             "not sent within ", absl::FormatDuration(timeout),
                             ": the charger was still to answer ", holding, " (one call at a time)")));
    it = waiting_.erase(it);
  }
  for (auto& [call, why] : expired) call.reply(why, nullptr, "");
  SendNext();
}

}  // namespace evnet::ocpp
