#include "central/cp_table.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "central/cp_status.h"

namespace evnet {
namespace {

const char* Colour(v1::CpStatus status) {
  switch (status) {
    case v1::CP_STATUS_ACTIVE:
    case v1::CP_STATUS_SUPPLYING:
      return "\033[32m";  // green
    case v1::CP_STATUS_STOPPED:
      return "\033[38;5;208m";  // orange
    case v1::CP_STATUS_BROKEN:
      return "\033[31m";  // red
    default:
      return "\033[90m";  // grey
  }
}

std::string Label(v1::CpStatus status) {
  switch (status) {
    case v1::CP_STATUS_ACTIVE:
      return "On";
    case v1::CP_STATUS_SUPPLYING:
      return "Supplying";
    case v1::CP_STATUS_STOPPED:
      return "Out of order";
    case v1::CP_STATUS_BROKEN:
      return "Broken";
    default:
      return "Disconnected";
  }
}

}  // namespace

std::string RenderCpTable(const std::vector<v1::ChargingPoint>& cps, bool color) {
  // As wide as the longest id (an OCPP charger's connector: OCPP-001-2).
  int width = 8;
  for (const v1::ChargingPoint& cp : cps) {
    width = std::max(width, static_cast<int>(cp.info().cp_id().size()));
  }
  std::string out = absl::StrFormat("%-*s %-18s %8s  %-14s %-14s %6s %8s %8s\n", width, "CP",
                                    "LOCATION", "EUR/kWh", "STATUS", "DRIVER", "kW", "kWh", "EUR");
  for (const v1::ChargingPoint& cp : cps) {
    const bool supplying = cp.status() == v1::CP_STATUS_SUPPLYING;
    std::string status = absl::StrFormat("%-14s", Label(cp.status()));
    if (color) status = absl::StrCat(Colour(cp.status()), status, "\033[0m");
    absl::StrAppend(
        &out, absl::StrFormat("%-*s %-18s %8.2f  %s %-14s %6s %8s %8s\n", width, cp.info().cp_id(),
                              cp.info().location().substr(0, 18), cp.info().price_eur_per_kwh(),
                              status, supplying ? cp.supply().driver_id() : "-",
                              supplying ? absl::StrFormat("%.1f", cp.supply().power_kw()) : "-",
                              supplying ? absl::StrFormat("%.3f", cp.supply().energy_kwh()) : "-",
                              supplying ? absl::StrFormat("%.2f", cp.supply().amount_eur()) : "-"));
  }
  return out;
}

}  // namespace evnet
