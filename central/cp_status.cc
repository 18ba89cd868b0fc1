#include "central/cp_status.h"

#include "absl/strings/match.h"

namespace evnet {

v1::CpStatus DeriveStatus(const CpObservation& cp, absl::Time now,
                          absl::Duration monitor_timeout) {
  if (!cp.link_up || now - cp.last_report > monitor_timeout) return v1::CP_STATUS_DISCONNECTED;
  if (cp.stopped_by_operator) return v1::CP_STATUS_STOPPED;
  if (!cp.engine_ok) return v1::CP_STATUS_BROKEN;
  if (cp.engine_state == v1::ENGINE_STATE_SUPPLYING) return v1::CP_STATUS_SUPPLYING;
  return v1::CP_STATUS_ACTIVE;
}

std::string StatusName(v1::CpStatus status) {
  std::string name = v1::CpStatus_Name(status);
  constexpr absl::string_view kPrefix = "CP_STATUS_";
  return absl::StartsWith(name, kPrefix) ? name.substr(kPrefix.size()) : name;
}

}  // namespace evnet
