#include "central/central_core.h"

#include <utility>

namespace evnet {
namespace {

CoordinatorOptions Audited(CoordinatorOptions options, AuditLog& audit) {
  options.audit = &audit;
  return options;
}

}  // namespace

CentralCore::CentralCore(const CentralCoreOptions& options, CentralOutbound out)
    : revocations(std::move(out.revocations)),
      access(options.insecure, enrolments, out.audit, &out.enrolments, &revocations),
      registry(*options.clock, options.monitor_timeout),
      hub(*options.clock, options.monitor_timeout,
          [this](absl::string_view kind, absl::Duration took) {
            metrics.CommandAnswered(kind, took);
          },
          options.register_timeout),
      coordinator(Audited(options.coordinator, out.audit), *options.clock, registry,
                  out.commands != nullptr ? *out.commands : static_cast<CommandSender&>(hub),
                  out.updates, metrics),
      charger_tokens(id_tokens, coordinator, out.audit, *options.clock),
      service(registry, hub, coordinator, out.registry, out.audit, access,
              {enrolments, out.enrolments, &revocations}, {id_tokens, out.id_tokens, charger_tokens},
              *options.clock) {}

}  // namespace evnet
