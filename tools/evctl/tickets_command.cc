#include "tools/evctl/tickets_command.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "common/proto_time.h"

namespace evnet {
namespace {

constexpr char kTicketsUsage[] =
    "evctl tickets [--driver DRIVER] [--cp CP] [--from RFC3339] [--to RFC3339] [--csv]";
constexpr char kTotalsUsage[] =
    "evctl totals driver|cp day|month [--from RFC3339] [--to RFC3339] [--csv]";

absl::Status Usage(absl::string_view why, absl::string_view usage) {
  return absl::InvalidArgumentError(absl::StrCat(why, "; ", usage));
}

// --from / --to / --csv, shared by both; others go to `other`.
template <typename Request, typename Other>
absl::Status ParseOptions(const std::vector<std::string>& words, size_t first,
                          absl::string_view usage, Request& request, bool& csv, Other other) {
  for (size_t i = first; i < words.size(); ++i) {
    const std::string& option = words[i];
    if (option == "--csv") {
      csv = true;
      continue;
    }
    if (i + 1 >= words.size()) return Usage(absl::StrCat("unknown option ", option), usage);
    const std::string& value = words[++i];
    if (option == "--from" || option == "--to") {
      absl::Time time;
      if (!absl::ParseTime(absl::RFC3339_full, value, &time, nullptr)) {
        return Usage(absl::StrCat(option, " ", value, " is not an RFC 3339 time (2026-11-01T00:00:00Z)"),
                     usage);
      }
      *(option == "--from" ? request.mutable_start_time() : request.mutable_end_time()) =
          ToProto(time);
    } else if (!other(option, value)) {
      return Usage(absl::StrCat("unknown option ", option), usage);
    }
  }
  return absl::OkStatus();
}

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

absl::StatusOr<TicketsCommand> ParseTicketsCommand(const std::vector<std::string>& words) {
  TicketsCommand command;
  absl::Status parsed = ParseOptions(
      words, 0, kTicketsUsage, command.request, command.csv,
      [&](const std::string& option, const std::string& value) {
        if (option == "--driver") command.request.set_driver_id(value);
        else if (option == "--cp") command.request.set_cp_id(value);
        else return false;
        return true;
      });
  if (!parsed.ok()) return parsed;
  command.request.set_page_size(1000);
  return command;
}

absl::StatusOr<TotalsCommand> ParseTotalsCommand(const std::vector<std::string>& words) {
  TotalsCommand command;
  if (words.size() < 2) return Usage("totals of what, per what", kTotalsUsage);
  if (words[0] == "driver") {
    command.request.set_group_by(v1::SummarizeTicketsRequest::GROUP_DRIVER);
  } else if (words[0] == "cp") {
    command.request.set_group_by(v1::SummarizeTicketsRequest::GROUP_CP);
  } else {
    return Usage(absl::StrCat("totals per driver or cp, not ", words[0]), kTotalsUsage);
  }
  if (words[1] == "day") {
    command.request.set_period(v1::SummarizeTicketsRequest::PERIOD_DAY);
  } else if (words[1] == "month") {
    command.request.set_period(v1::SummarizeTicketsRequest::PERIOD_MONTH);
  } else {
    return Usage(absl::StrCat("totals per day or month, not ", words[1]), kTotalsUsage);
  }
  absl::Status parsed = ParseOptions(words, 2, kTotalsUsage, command.request, command.csv,
                                     [](const std::string&, const std::string&) { return false; });
  if (!parsed.ok()) return parsed;
  return command;
}

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

}  // namespace evnet
