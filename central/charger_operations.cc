#include "central/charger_operations.h"

#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "common/proto_time.h"
#include "common/validation.h"

namespace evnet {

absl::StatusOr<v1::CentralCommand> OperationCommand(const v1::OperateChargerRequest& request) {
  if (absl::Status valid = ValidateId("cp_id", request.cp_id()); !valid.ok()) return valid;
  if (request.action().empty() || request.action().size() > 40) {
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
  return absl::StrCat("charger.", request.action().substr(0, 40));
}

absl::Duration OperationDeadline(const v1::CentralCommand& command) {
  return FromProto(command.charger_operation().timeout()) + absl::Seconds(5);
}

}  // namespace evnet
