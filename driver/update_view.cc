#include "driver/update_view.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "common/json_codec.h"
#include "common/proto_time.h"
#include "common/trust/sealing.h"

namespace evnet {
namespace {

std::string Reason(v1::SessionEndReason reason) {
  const std::string name = v1::SessionEndReason_Name(reason);
  absl::string_view name_view = name;
  absl::ConsumePrefix(&name_view, "SESSION_END_REASON_");
  return absl::AsciiStrToLower(absl::StrReplaceAll(name_view, {{"_", " "}}));
}

std::string Clock(const google::protobuf::Timestamp& t) {
  return absl::FormatTime("%H:%M:%S", FromProto(t), absl::LocalTimeZone());
}

}  // namespace

std::string DescribeUpdate(const v1::DriverUpdate& u) {
  switch (u.kind()) {
    case v1::UPDATE_KIND_ACCEPTED:
      return absl::StrCat("Request for ", u.cp_id(), " accepted (session ", u.session_id(), ")");
    case v1::UPDATE_KIND_REJECTED:
      return absl::StrCat("Request for ", u.cp_id(), " rejected: ", u.rejection_reason());
    case v1::UPDATE_KIND_SUPPLY_STARTED:
      return absl::StrCat("Charging at ", u.cp_id(), " started");
    case v1::UPDATE_KIND_PROGRESS:
      return absl::StrFormat("Charging at %s: %.3f kWh, %.2f EUR so far", u.cp_id(),
                             u.progress().energy_kwh(), u.progress().amount_eur());
    case v1::UPDATE_KIND_INTERRUPTED:
      return absl::StrCat("Charging at ", u.cp_id(), " interrupted: ", u.rejection_reason());
    case v1::UPDATE_KIND_ENDED: {
      const v1::SessionResult& t = u.ticket();
      return absl::StrFormat("Ticket: %s, %s-%s, %.3f kWh at %.2f EUR/kWh = %.2f EUR (%s)",
                             t.cp_id(), Clock(t.started_at()), Clock(t.ended_at()),
                             t.energy_kwh(), t.price_eur_per_kwh(), t.amount_eur(),
                             Reason(t.end_reason()));
    }
    default:
      return absl::StrCat("Update about ", u.cp_id(), " of an unknown kind");
  }
}

bool IsOutcome(const v1::DriverUpdate& update) {
  return update.kind() == v1::UPDATE_KIND_ENDED || update.kind() == v1::UPDATE_KIND_REJECTED;
}

absl::StatusOr<v1::DriverUpdate> OpenUpdate(const v1::DriverUpdate& received,
                                            const std::string& key_pem, Opener& opener) {
  if (received.sealed().empty()) return received;
  absl::StatusOr<std::string> json = opener.Open(key_pem, received.sealed());
  if (!json.ok()) return json.status();
  return FromJson<v1::DriverUpdate>(*json);
}

}  // namespace evnet
