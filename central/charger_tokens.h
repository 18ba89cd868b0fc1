// Central's answer to a charger's Authorize (MonitorLink): the id token's
// verdict, and, for a transaction the charger began by itself with an
// accepted token, the session opened for the token's driver. Every start is
// audited, opened or refused, as done by the CP that reported it.
// Thread-safe; nothing here blocks: a start is answered from Kafka's
// delivery of its acceptance.
#ifndef EVNET_CENTRAL_CHARGER_TOKENS_H_
#define EVNET_CENTRAL_CHARGER_TOKENS_H_

#include <functional>
#include <string>

#include "central/coordinator.h"
#include "central/id_tokens.h"
#include "common/clock.h"
#include "common/trust/audit_log.h"
#include "evnet/v1/central.pb.h"

namespace evnet {

class ChargerTokens {
 public:
  ChargerTokens(IdTokens& tokens, SessionCoordinator& coordinator, AuditLog& audit,
                const Clock& clock)
      : tokens_(tokens), coordinator_(coordinator), audit_(audit), clock_(clock) {}

  // `answer` gets the Authorization to send down `cp_id`'s link (its
  // command_id the ask's), once, on any thread. An empty status means
  // "not known now": the charger is to ask again.
  void Answer(const std::string& cp_id, const Actor& by, const v1::Authorize& ask,
              std::function<void(v1::CentralCommand)> answer);

  // The request id of a charger's own transaction: stable for the same
  // transaction, distinct across CPs.
  static std::string RequestIdOf(const std::string& cp_id, const v1::ChargerStart& start);

 private:
  IdTokens& tokens_;
  SessionCoordinator& coordinator_;
  AuditLog& audit_;
  const Clock& clock_;
};

}  // namespace evnet

#endif  // EVNET_CENTRAL_CHARGER_TOKENS_H_
