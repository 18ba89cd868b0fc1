// The operator's operations on an OCPP charger (OperateCharger): the
// command that carries one to the charger's gateway, and how long central
// waits for its answer. Which operations there are, and what each takes, is
// OCPP's and the gateway's to know: it checks them against OCPP 1.6's
// schemas and answers with what is wrong.
#ifndef EVNET_CENTRAL_CHARGER_OPERATIONS_H_
#define EVNET_CENTRAL_CHARGER_OPERATIONS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "evnet/v1/central.pb.h"

namespace evnet {

inline constexpr absl::Duration kDefaultOperationTimeout = absl::Seconds(30);
// While an operation is outstanding every other CALL to the charger waits
// (OCPP-J's one at a time), a driver's remote start included.
inline constexpr absl::Duration kLongestOperationTimeout = absl::Minutes(1);
inline constexpr size_t kLongestOperationPayload = 64 * 1024;

// The command for `request` (its command id set), or INVALID_ARGUMENT
// saying what is wrong with the request.
absl::StatusOr<v1::CentralCommand> OperationCommand(const v1::OperateChargerRequest& request);

// The audit log's name of the request's operation: "charger.Reset"
// ("charger.invalid" for a name OCPP could not have).
std::string OperationAuditAction(const v1::OperateChargerRequest& request);

// For the audit log's record of an answered operation: the status the
// charger answered ("answered Rejected") and, of ChangeConfiguration, the
// key (never the value, which may be a secret).
std::string OperationOutcome(const v1::OperateChargerRequest& request,
                             const std::string& answer_json);

// How long central waits for the answer to `command`: the charger's time,
// and a few seconds for the gateway to say that it did not answer.
absl::Duration OperationDeadline(const v1::CentralCommand& command);

}  // namespace evnet

#endif  // EVNET_CENTRAL_CHARGER_OPERATIONS_H_
