#include "central/charger_tokens.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "common/validation.h"
#include "glog/logging.h"
#include "openssl/sha.h"

namespace evnet {

std::string ChargerTokens::RequestIdOf(const std::string& cp_id, const v1::ChargerStart& start) {
  const std::string readable =
      absl::StrCat("card-", cp_id, "-", start.transaction_id(), "-", start.started_at().seconds());
  // The session id ("s-" and this) is an id too.
  if (readable.size() + 2 <= kMaxIdLength) return readable;
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(readable.data()), readable.size(), digest);
  return absl::StrCat(
      "card-", absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(digest), 16)));
}

void ChargerTokens::Answer(const std::string& cp_id, const Actor& by, const v1::Authorize& ask,
                           std::function<void(v1::CentralCommand)> answer) {
  v1::CentralCommand command;
  command.set_command_id(ask.ask_id());
  IdTokens::Verdict verdict = tokens_.Check(ask.id_tag(), clock_.Now());
  *command.mutable_authorization() = verdict.authorization;
  if (!ask.has_start()) return answer(std::move(command));

  const std::string tag = absl::CHexEscape(ask.id_tag().substr(0, kMaxIdTagLength));
  if (verdict.authorization.status() != "Accepted") {
    if (!verdict.authorization.status().empty()) {
      // As often as a charger sends them: within a budget of its own.
      audit_.RecordBounded(absl::StrCat("card refusals at ", cp_id), by, "session.card", cp_id,
                           "refused", verdict.authorization.reason());
      LOG(WARNING) << "Central | " << cp_id << " began a transaction with id tag " << tag
                   << ": refused, " << verdict.authorization.reason();
    }
    return answer(std::move(command));
  }
  v1::DriverRequest request;
  request.set_request_id(RequestIdOf(cp_id, ask.start()));
  request.set_driver_id(verdict.driver_id);
  request.set_cp_id(cp_id);
  *request.mutable_requested_at() = ask.start().started_at();
  coordinator_.OpenChargerSession(
      request, [this, cp_id, by, tag, request, command = std::move(command),
                answer = std::move(answer)](absl::StatusOr<v1::StartSupplyRequest> opened) mutable {
        v1::Authorization& authorization = *command.mutable_authorization();
        if (opened.ok()) {
          *authorization.mutable_session() = *opened;
          audit_.Record(by, "session.card", cp_id, "done",
                        absl::StrCat("id tag ", tag, " of ", request.driver_id(), ": session ",
                                     opened->session_id()));
        } else if (absl::IsUnavailable(opened.status())) {
          authorization.set_status("");  // to be asked again
          authorization.set_reason(std::string(opened.status().message()));
        } else {
          authorization.set_status(absl::IsAlreadyExists(opened.status()) ? "ConcurrentTx"
                                                                          : "Invalid");
          authorization.set_reason(std::string(opened.status().message()));
          audit_.RecordBounded(absl::StrCat("card refusals at ", cp_id), by, "session.card", cp_id,
                               "refused",
                               absl::StrCat("id tag ", tag, " of ", request.driver_id(), ": ",
                                            opened.status().message()));
          LOG(WARNING) << "Central | " << cp_id << " began a transaction with id tag " << tag
                       << " of " << request.driver_id() << ": refused, "
                       << opened.status().message();
        }
        answer(std::move(command));
      });
}

}  // namespace evnet
