// How a driver sees the updates about its requests: one line each, as a
// person would like to read it.
#ifndef EVNET_DRIVER_UPDATE_VIEW_H_
#define EVNET_DRIVER_UPDATE_VIEW_H_

#include <string>

#include "evnet/v1/events.pb.h"

namespace evnet {

std::string DescribeUpdate(const v1::DriverUpdate& update);

// Whether the update closes its request: a ticket or a rejection.
bool IsOutcome(const v1::DriverUpdate& update);

}  // namespace evnet

#endif  // EVNET_DRIVER_UPDATE_VIEW_H_
