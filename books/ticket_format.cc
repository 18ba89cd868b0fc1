#include "books/ticket_format.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "common/proto_time.h"

namespace evnet::books {
namespace {

std::string Time(const google::protobuf::Timestamp& t, bool set) {
  return set ? absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", FromProto(t), absl::UTCTimeZone()) : "";
}

// Whole units of 10^-digits as a decimal ("12.345"), exactly.
std::string Decimal(int64_t units, int digits) {
  int64_t scale = 1;
  for (int i = 0; i < digits; ++i) scale *= 10;
  const char* sign = units < 0 ? "-" : "";
  const uint64_t magnitude = units < 0 ? 0 - static_cast<uint64_t>(units) : units;
  return absl::StrFormat("%s%d.%0*d", sign, magnitude / scale, digits, magnitude % scale);
}

std::string Text(const std::string& field, bool csv) {
  if (!csv) return field;
  std::string text = field;
  if (!text.empty() && (text[0] == '=' || text[0] == '+' || text[0] == '-' || text[0] == '@')) {
    text.insert(0, "'");
  }
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  return absl::StrCat("\"", absl::StrReplaceAll(text, {{"\"", "\"\""}}), "\"");
}

// COMPLETED of SESSION_END_REASON_COMPLETED.
std::string Reason(const std::string& name) {
  return std::string(absl::StripPrefix(name, "SESSION_END_REASON_"));
}

}  // namespace

std::string TicketHeader(bool csv) {
  if (csv) {
    return "session_id,request_id,driver_id,cp_id,started_at,ended_at,end_reason,energy_kwh,"
           "price_eur_per_kwh,amount_eur";
  }
  return absl::StrFormat("%-20s  %-20s  %-16s  %-20s  %-14s  %10s  %9s", "ENDED", "DRIVER", "CP",
                         "SESSION", "END", "kWh", "EUR");
}

std::string FormatTicket(const v1::Ticket& t, bool csv) {
  const std::string ended = Time(t.ended_at(), t.has_ended_at());
  if (csv) {
    return absl::StrJoin(
        {Text(t.session_id(), true), Text(t.request_id(), true), Text(t.driver_id(), true),
         Text(t.cp_id(), true), Time(t.started_at(), t.has_started_at()), ended,
         Text(Reason(t.end_reason()), true), Decimal(t.energy_wh(), 3), Decimal(t.price_per_kwh_e4(), 4),
         Decimal(t.amount_cents(), 2)},
        ",");
  }
  return absl::StrFormat("%-20s  %-20s  %-16s  %-20s  %-14s  %10s  %9s", ended, t.driver_id(),
                         t.cp_id(), t.session_id().substr(0, 20), Reason(t.end_reason()),
                         Decimal(t.energy_wh(), 3), Decimal(t.amount_cents(), 2));
}

std::string TotalHeader(bool csv) {
  if (csv) return "key,period,sessions,energy_kwh,amount_eur";
  return absl::StrFormat("%-24s  %-10s  %8s  %12s  %11s", "WHO", "PERIOD", "SESSIONS", "kWh", "EUR");
}

std::string FormatTotal(const v1::TicketTotal& t, bool csv) {
  if (csv) {
    return absl::StrJoin({Text(t.key(), true), t.period(), absl::StrCat(t.sessions()),
                          Decimal(t.energy_wh(), 3), Decimal(t.amount_cents(), 2)},
                         ",");
  }
  return absl::StrFormat("%-24s  %-10s  %8d  %12s  %11s", t.key(), t.period(), t.sessions(),
                         Decimal(t.energy_wh(), 3), Decimal(t.amount_cents(), 2));
}

}  // namespace evnet::books
