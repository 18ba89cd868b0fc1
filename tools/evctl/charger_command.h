// `evctl charger CP WORDS...`: an operator's words for an OCPP charger's
// operation, made into the action and JSON payload of OperateCharger.
//
//   reset soft|hard                       Reset
//   unlock CONNECTOR                      UnlockConnector
//   get-configuration [KEY...]            GetConfiguration (no key: all)
//   set-configuration KEY VALUE           ChangeConfiguration
//   trigger MESSAGE [CONNECTOR]           TriggerMessage (StatusNotification, ...)
//   clear-cache                           ClearCache
//   data-transfer VENDOR [MESSAGE [DATA]] DataTransfer
//   call ACTION [JSON]                    any of them, as OCPP 1.6J writes it
#ifndef EVNET_TOOLS_EVCTL_CHARGER_COMMAND_H_
#define EVNET_TOOLS_EVCTL_CHARGER_COMMAND_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace evnet {

struct ChargerCommand {
  std::string action;        // "Reset"
  std::string payload_json;  // {"type":"Soft"}
};

// INVALID_ARGUMENT with the usage when the words are not one of the above.
absl::StatusOr<ChargerCommand> ParseChargerCommand(const std::vector<std::string>& words);

}  // namespace evnet

#endif  // EVNET_TOOLS_EVCTL_CHARGER_COMMAND_H_
