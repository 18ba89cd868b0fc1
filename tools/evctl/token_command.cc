#include "tools/evctl/token_command.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "common/proto_time.h"

namespace evnet {
namespace {

constexpr char kUsage[] =
    "evctl token add ID_TAG DRIVER [--expires RFC3339] [--group GROUP] | block ID_TAG | "
    "unblock ID_TAG | list [DRIVER]";

absl::Status Usage(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(why, "; ", kUsage));
}

}  // namespace

absl::StatusOr<TokenCommand> ParseTokenCommand(const std::vector<std::string>& words) {
  if (words.empty()) return Usage("no token command");
  const std::string& verb = words[0];
  if (verb == "list" && words.size() <= 2) {
    v1::ListIdTokensRequest list;
    if (words.size() == 2) list.set_driver_id(words[1]);
    return list;
  }
  if ((verb == "block" || verb == "unblock") && words.size() == 2) {
    v1::PutIdTokenRequest change;
    change.set_id_tag(words[1]);
    change.set_status(verb == "block" ? v1::ID_TOKEN_STATUS_BLOCKED : v1::ID_TOKEN_STATUS_ACCEPTED);
    return change;
  }
  if (verb == "add" && words.size() >= 3) {
    v1::PutIdTokenRequest add;
    add.set_id_tag(words[1]);
    add.set_driver_id(words[2]);
    add.set_status(v1::ID_TOKEN_STATUS_ACCEPTED);
    for (size_t i = 3; i < words.size(); i += 2) {
      if (i + 1 >= words.size()) return Usage(absl::StrCat(words[i], " needs a value"));
      const std::string& value = words[i + 1];
      if (words[i] == "--expires") {
        absl::Time expires;
        std::string error;
        if (!absl::ParseTime(absl::RFC3339_full, value, &expires, &error)) {
          return Usage(absl::StrCat("--expires ", value, " is not an RFC 3339 time (",
                                    "2027-01-31T23:59:59Z)"));
        }
        *add.mutable_expires_at() = ToProto(expires);
      } else if (words[i] == "--group") {
        add.set_group(value);
      } else {
        return Usage(absl::StrCat("unknown option ", words[i]));
      }
    }
    return add;
  }
  return Usage(absl::StrCat("not a token command: ", verb));
}

std::string FormatToken(const v1::IdToken& token) {
  const std::string status =
      token.status() == v1::ID_TOKEN_STATUS_BLOCKED ? "blocked" : "accepted";
  std::string line = absl::StrFormat("%-20s  %-24s  %-8s", token.id_tag(), token.driver_id(), status);
  if (token.has_expires_at()) {
    absl::StrAppend(&line, "  expires ",
                    absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", FromProto(token.expires_at()),
                                     absl::UTCTimeZone()));
  }
  if (!token.group().empty()) absl::StrAppend(&line, "  group ", token.group());
  absl::StripTrailingAsciiWhitespace(&line);
  return line;
}

}  // namespace evnet
