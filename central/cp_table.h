// The CP table central prints whenever it changes: id, location, price,
// status, driver, kW, kWh, €; coloured as DESIGN.md says when on a terminal.
#ifndef EVNET_CENTRAL_CP_TABLE_H_
#define EVNET_CENTRAL_CP_TABLE_H_

#include <string>
#include <vector>

#include "evnet/v1/central.pb.h"

namespace evnet {

std::string RenderCpTable(const std::vector<v1::ChargingPoint>& cps, bool color);

}  // namespace evnet

#endif  // EVNET_CENTRAL_CP_TABLE_H_
