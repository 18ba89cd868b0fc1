// `evctl token WORDS...`: an operator's words for drivers' id tokens (RFID
// cards, app tokens), made into central's PutIdToken / ListIdTokens.
//
//   add ID_TAG DRIVER [--expires RFC3339] [--group GROUP]
//                                         a card of DRIVER's (again: changed)
//   block ID_TAG | unblock ID_TAG         refuse it from now on / again accept it
//   list [DRIVER]                         every token, or DRIVER's
#ifndef EVNET_TOOLS_EVCTL_TOKEN_COMMAND_H_
#define EVNET_TOOLS_EVCTL_TOKEN_COMMAND_H_

#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "evnet/v1/central.pb.h"

namespace evnet {

using TokenCommand = std::variant<v1::PutIdTokenRequest, v1::ListIdTokensRequest>;

// INVALID_ARGUMENT with the usage when the words are not one of the above.
absl::StatusOr<TokenCommand> ParseTokenCommand(const std::vector<std::string>& words);

// One line per token: id tag, driver, status, expiry and group.
std::string FormatToken(const v1::IdToken& token);

}  // namespace evnet

#endif  // EVNET_TOOLS_EVCTL_TOKEN_COMMAND_H_
