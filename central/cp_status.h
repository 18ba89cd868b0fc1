// The status central shows for a CP, derived from what its monitor reports
// (DESIGN.md, "Status of a CP"); never typed in by hand.
#ifndef EVNET_CENTRAL_CP_STATUS_H_
#define EVNET_CENTRAL_CP_STATUS_H_

#include <string>

#include "absl/time/time.h"
#include "evnet/v1/types.pb.h"

namespace evnet {

struct CpObservation {
  bool link_up = false;                     // its monitor's stream is open
  absl::Time last_report = absl::InfinitePast();  // last health report since start
  bool engine_ok = false;
  v1::EngineState engine_state = v1::ENGINE_STATE_UNSPECIFIED;
  bool stopped_by_operator = false;
};

v1::CpStatus DeriveStatus(const CpObservation& cp, absl::Time now,
                          absl::Duration monitor_timeout);

// "ACTIVE", "BROKEN", ... for people.
std::string StatusName(v1::CpStatus status);

}  // namespace evnet

#endif  // EVNET_CENTRAL_CP_STATUS_H_
