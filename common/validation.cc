#include "common/validation.h"

#include <cmath>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace evnet {
namespace {

absl::Status Refuse(absl::string_view what) { return absl::InvalidArgumentError(what); }

// A finite number within [low, high].
absl::Status InRange(absl::string_view field, double value, double low, double high) {
  if (std::isnan(value)) return Refuse(absl::StrCat(field, " is NaN"));
  if (std::isinf(value)) return Refuse(absl::StrCat(field, " is infinite"));
  if (value < low || value > high) {
    return Refuse(absl::StrFormat("%s is %g, outside [%g, %g]", field, value, low, high));
  }
  return absl::OkStatus();
}

absl::Status Text(absl::string_view field, absl::string_view text) {
  if (text.size() > kMaxTextLength) {
    return Refuse(absl::StrCat(field, " is ", text.size(), " bytes long, more than ",
                               kMaxTextLength));
  }
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20) {
      return Refuse(absl::StrCat(field, " holds a control character"));
    }
  }
  return absl::OkStatus();
}

absl::Status Timestamp(absl::string_view field, const google::protobuf::Timestamp& t) {
  // Timestamps the well-known type allows: years 1 to 9999.
  if (t.seconds() < -62135596800 || t.seconds() > 253402300799 || t.nanos() < 0 ||
      t.nanos() > 999999999) {
    return Refuse(absl::StrCat(field, " is not a valid time"));
  }
  return absl::OkStatus();
}

// The first error of `checks`, in order.
absl::Status First(std::initializer_list<absl::Status> checks) {
  for (const absl::Status& status : checks) {
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateId(absl::string_view field, absl::string_view id) {
  if (id.empty()) return Refuse(absl::StrCat(field, " is empty"));
  if (id.size() > kMaxIdLength) {
    return Refuse(absl::StrCat(field, " is ", id.size(), " characters long, more than ",
                               kMaxIdLength));
  }
  for (char c : id) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) {
      return Refuse(absl::StrCat(field, " '", absl::CHexEscape(id),
                                 "' may hold only letters, digits and . _ : -"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateDriverRequest(const v1::DriverRequest& request) {
  return First({
      request.request_id().empty() ? absl::OkStatus()
                                   : ValidateId("request_id", request.request_id()),
      request.driver_id().empty() ? absl::OkStatus()  // the message key names the driver
                                  : ValidateId("driver_id", request.driver_id()),
      request.cp_id().empty() ? absl::OkStatus()  // answered: "names no charging point"
                              : ValidateId("cp_id", request.cp_id()),
      Timestamp("requested_at", request.requested_at()),
  });
}

absl::Status ValidateSupply(const v1::SupplySnapshot& supply) {
  return First({
      supply.session_id().empty() ? absl::OkStatus()
                                  : ValidateId("session_id", supply.session_id()),
      supply.driver_id().empty() ? absl::OkStatus() : ValidateId("driver_id", supply.driver_id()),
      InRange("power_kw", supply.power_kw(), 0, kMaxPowerKw),
      InRange("energy_kwh", supply.energy_kwh(), 0, kMaxSessionKwh),
      InRange("amount_eur", supply.amount_eur(), 0, kMaxSessionKwh * kMaxPriceEurPerKwh),
      Timestamp("started_at", supply.started_at()),
  });
}

absl::Status ValidateSessionResult(const v1::SessionResult& result) {
  absl::Status fields = First({
      ValidateId("session_id", result.session_id()),
      result.request_id().empty() ? absl::OkStatus()
                                  : ValidateId("request_id", result.request_id()),
      ValidateId("cp_id", result.cp_id()),
      ValidateId("driver_id", result.driver_id()),
      Timestamp("started_at", result.started_at()),
      Timestamp("ended_at", result.ended_at()),
      InRange("energy_kwh", result.energy_kwh(), 0, kMaxSessionKwh),
      InRange("price_eur_per_kwh", result.price_eur_per_kwh(), 0, kMaxPriceEurPerKwh),
      InRange("amount_eur", result.amount_eur(), 0, kMaxSessionKwh * kMaxPriceEurPerKwh),
  });
  if (!fields.ok()) return fields;
  const auto& s = result.started_at();
  const auto& e = result.ended_at();
  if (result.has_started_at() && result.has_ended_at() &&
      (e.seconds() < s.seconds() || (e.seconds() == s.seconds() && e.nanos() < s.nanos()))) {
    return Refuse("ended_at is before started_at");
  }
  const double billed = result.energy_kwh() * result.price_eur_per_kwh();
  if (std::abs(billed - result.amount_eur()) > 0.01 + 1e-9 * billed) {
    return Refuse(absl::StrFormat("amount_eur %.2f is not energy_kwh %.3f at %.4f EUR/kWh (%.2f)",
                                  result.amount_eur(), result.energy_kwh(),
                                  result.price_eur_per_kwh(), billed));
  }
  return absl::OkStatus();
}

absl::Status ValidateTelemetry(const v1::SupplyTelemetry& telemetry) {
  return First({
      ValidateId("cp_id", telemetry.cp_id()),
      ValidateSupply(telemetry.supply()),
      Timestamp("measured_at", telemetry.measured_at()),
  });
}

absl::Status ValidateCpInfo(const v1::ChargingPointInfo& info) {
  return First({
      ValidateId("cp_id", info.cp_id()),
      Text("location", info.location()),
      InRange("price_eur_per_kwh", info.price_eur_per_kwh(), 0, kMaxPriceEurPerKwh),
      InRange("power_kw", info.power_kw(), 0, kMaxPowerKw),
  });
}

absl::Status ValidateHealthReport(const v1::HealthReport& report) {
  return First({
      ValidateSupply(report.supply()),
      InRange("consecutive_failures", report.consecutive_failures(), 0, 1e6),
      Timestamp("checked_at", report.checked_at()),
  });
}

}  // namespace evnet
