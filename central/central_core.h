// Central's logic, wired once for the program, its tests and its fuzzers:
// the registry, the monitors' links, the session coordinator and the gRPC
// service over them, with enrolments, revocations, who may call what, and
// the metrics they count. What it sends out comes in as interfaces
// (outbound.h): Kafka in the program (central.h), fakes in tests and
// fuzzers (fakes.h). It starts no thread and serves nothing by itself.
#ifndef EVNET_CENTRAL_CENTRAL_CORE_H_
#define EVNET_CENTRAL_CENTRAL_CORE_H_

#include "absl/time/time.h"
#include "central/access.h"
#include "central/central_service.h"
#include "central/charger_tokens.h"
#include "central/coordinator.h"
#include "central/enrolments.h"
#include "central/id_tokens.h"
#include "central/link_hub.h"
#include "central/metrics.h"
#include "central/outbound.h"
#include "central/registry.h"
#include "central/revocations.h"
#include "common/clock.h"
#include "common/trust/audit_log.h"

namespace evnet {

struct CentralCoreOptions {
  // A CP whose monitor is silent this long is DISCONNECTED.
  absl::Duration monitor_timeout = absl::Seconds(3);
  // A link whose monitor never says which CP it is is closed after this.
  absl::Duration register_timeout = absl::Seconds(10);
  CoordinatorOptions coordinator;
  // No identities: anyone may call anything (Access).
  bool insecure = true;
  // Never null.
  Clock* clock = &SystemClock::Get();
};

// Where central's decisions and records go.
struct CentralOutbound {
  UpdatePublisher& updates;
  RegistryStore& registry;
  EnrolmentStore& enrolments;
  IdTokenStore& id_tokens;
  Revocations::Save revocations;
  AuditLog& audit;
  // Where the coordinator's commands go; null: down the monitors' links.
  CommandSender* commands = nullptr;
};

class CentralCore {
 public:
  CentralCore(const CentralCoreOptions& options, CentralOutbound out);

  // In the order they are made (and gone in reverse).
  Metrics metrics;
  Enrolments enrolments;
  Revocations revocations;
  Access access;
  Registry registry;
  LinkHub hub;
  SessionCoordinator coordinator;
  IdTokens id_tokens;
  ChargerTokens charger_tokens;
  CentralServiceImpl service;
};

}  // namespace evnet

#endif  // EVNET_CENTRAL_CENTRAL_CORE_H_
