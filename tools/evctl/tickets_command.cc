#include "tools/evctl/tickets_command.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
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

}  // namespace evnet
