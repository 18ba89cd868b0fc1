// How a driver sees the updates about its requests: one line each, as a
// person would like to read it.
#ifndef EVNET_DRIVER_UPDATE_VIEW_H_
#define EVNET_DRIVER_UPDATE_VIEW_H_

#include <string>

#include "absl/status/statusor.h"
#include "common/trust/sealing.h"
#include "evnet/v1/events.pb.h"

namespace evnet {

std::string DescribeUpdate(const v1::DriverUpdate& update);

// Whether the update closes its request: a ticket or a rejection.
bool IsOutcome(const v1::DriverUpdate& update);

// The update a record of evnet.driver.updates holds: itself, or the one
// sealed in it (DriverUpdate.sealed), opened by `opener` with the driver's
// key (PEM). An error when it is sealed and `key_pem` does not open it.
absl::StatusOr<v1::DriverUpdate> OpenUpdate(const v1::DriverUpdate& received,
                                            const std::string& key_pem, Opener& opener);

}  // namespace evnet

#endif  // EVNET_DRIVER_UPDATE_VIEW_H_
