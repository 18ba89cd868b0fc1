#include "central/charger_operations.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "common/ids.h"
#include "common/proto_time.h"
#include "common/validation.h"

namespace evnet {

namespace {

// OCPP's names of actions are letters alone ("Reset").
bool IsActionName(const std::string& action) {
  return !action.empty() && action.size() <= 40 &&
         std::all_of(action.begin(), action.end(), [](char c) { return absl::ascii_isalpha(c); });
}

}  // namespace

absl::StatusOr<v1::CentralCommand> OperationCommand(const v1::OperateChargerRequest& request) {
  if (absl::Status valid = ValidateId("cp_id", request.cp_id()); !valid.ok()) return valid;
  if (!IsActionName(request.action())) {
    return absl::InvalidArgumentError(
        "action must name an OCPP 1.6 operation: Reset, UnlockConnector, GetConfiguration, "
        "ChangeConfiguration, TriggerMessage, ClearCache or DataTransfer");
  }
  if (request.payload_json().size() > kLongestOperationPayload) {
    return absl::InvalidArgumentError(
        absl::StrCat("payload_json is longer than ", kLongestOperationPayload, " bytes"));
  }
  absl::Duration timeout = kDefaultOperationTimeout;
  if (request.has_timeout()) {
    timeout = FromProto(request.timeout());
    if (timeout <= absl::ZeroDuration() || timeout > kLongestOperationTimeout) {
      return absl::InvalidArgumentError(
          absl::StrCat("timeout must be more than 0 and at most ",
                       absl::FormatDuration(kLongestOperationTimeout)));
    }
  }
  v1::CentralCommand command;
  command.set_command_id(NewId(absl::StrCat("operate-", request.cp_id())));
  v1::ChargerOperation* operation = command.mutable_charger_operation();
  operation->set_action(request.action());
  operation->set_payload_json(request.payload_json());
  *operation->mutable_timeout() = ToProto(timeout);
  return command;
}

std::string OperationAuditAction(const v1::OperateChargerRequest& request) {
  return absl::StrCat("charger.", IsActionName(request.action()) ? request.action() : "invalid");
}

std::string OperationOutcome(const v1::OperateChargerRequest& request,
                             const std::string& answer_json) {
  std::string outcome;
  google::protobuf::Struct answer;
  if (google::protobuf::util::JsonStringToMessage(answer_json, &answer).ok()) {
    auto status = answer.fields().find("status");
    if (status != answer.fields().end() && status->second.has_string_value()) {
      outcome = absl::StrCat("answered ", status->second.string_value().substr(0, 40));
    }
  }
  if (request.action() == "ChangeConfiguration") {
    google::protobuf::Struct payload;
    if (google::protobuf::util::JsonStringToMessage(request.payload_json(), &payload).ok()) {
      auto key = payload.fields().find("key");
      if (key != payload.fields().end() && key->second.has_string_value()) {
        absl::StrAppend(&outcome, outcome.empty() ? "" : "; ", "key ",
                        key->second.string_value().substr(0, 50));
      }
    }
  }
  return outcome;
}

absl::Duration OperationDeadline(const v1::CentralCommand& command) {
  return FromProto(command.charger_operation().timeout()) + absl::Seconds(5);
}

}  // namespace evnet
