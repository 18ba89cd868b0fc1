// What evnet accepts from outside: every message read from Kafka and every
// RPC a monitor sends is checked here before it has any effect. A refusal is
// INVALID_ARGUMENT with a reason a person can act on ("energy_kwh is NaN");
// the caller decides what to do with it (answer it, or set the message
// aside on the dead-letter topic).
#ifndef EVNET_COMMON_VALIDATION_H_
#define EVNET_COMMON_VALIDATION_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "proto/evnet/v1/central.pb.h"
#include "proto/evnet/v1/events.pb.h"
#include "proto/evnet/v1/types.pb.h"

namespace evnet {

// Limits on what the network holds; beyond them a value is not a mistake of
// rounding but of the sender.
inline constexpr size_t kMaxIdLength = 64;
inline constexpr double kMaxPowerKw = 1000;        // the largest DC chargers are 400-600 kW
inline constexpr double kMaxPriceEurPerKwh = 10;
inline constexpr double kMaxSessionKwh = 1000;     // no vehicle battery holds more
inline constexpr size_t kMaxTextLength = 256;      // locations and the like

// An id a person types: 1 to 64 of A-Z a-z 0-9 and . _ : -, as CP-001 or
// driver-alice. `field` names it in the error.
[[nodiscard]] absl::Status ValidateId(absl::string_view field, absl::string_view id);

[[nodiscard]] absl::Status ValidateDriverRequest(const v1::DriverRequest& request);
// A result on its own terms: ids, finite non-negative figures, an end not
// before its start, and an amount that is the energy at the price (to the
// cent). Whether central started that session is central's to check.
[[nodiscard]] absl::Status ValidateSessionResult(const v1::SessionResult& result);
[[nodiscard]] absl::Status ValidateTelemetry(const v1::SupplyTelemetry& telemetry);
[[nodiscard]] absl::Status ValidateCpInfo(const v1::ChargingPointInfo& info);
[[nodiscard]] absl::Status ValidateSupply(const v1::SupplySnapshot& supply);
[[nodiscard]] absl::Status ValidateHealthReport(const v1::HealthReport& report);

}  // namespace evnet

#endif  // EVNET_COMMON_VALIDATION_H_
