// One monitor's MonitorLink stream, served with gRPC's callback API: no
// thread per CP. Reads the registration, then health reports and command
// results; commands go down through a write queue with one write in flight.
// Nothing in a reaction blocks: registry records go to Kafka asynchronously.
// A stream that has not registered within the hub's register_timeout is
// closed (DEADLINE_EXCEEDED) and audited: an idle stream holds nothing.
#ifndef EVNET_CENTRAL_MONITOR_LINK_H_
#define EVNET_CENTRAL_MONITOR_LINK_H_

#include <atomic>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "central/access.h"
#include "central/charger_tokens.h"
#include "central/link_hub.h"
#include "central/outbound.h"
#include "central/registry.h"
#include "common/trust/audit_log.h"
#include "evnet/v1/central.grpc.pb.h"
#include "grpcpp/alarm.h"

namespace evnet {

class MonitorLinkReactor final
    : public grpc::ServerBidiReactor<v1::MonitorMessage, v1::CentralCommand>,
      public LinkHub::Stream {
 public:
  // Starts serving one stream; the reactor owns itself until OnDone.
  static grpc::ServerBidiReactor<v1::MonitorMessage, v1::CentralCommand>* Start(
      grpc::CallbackServerContext* context, Registry& registry, LinkHub& hub,
      RegistryStore& store, AuditLog& audit, const Access& access, ChargerTokens& tokens);

  // LinkHub::Stream
  bool Write(const v1::CentralCommand& command) override;
  void Close(const absl::Status& reason) override;

  // grpc::ServerBidiReactor
  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone() override;

 private:
  MonitorLinkReactor(grpc::CallbackServerContext* context, Registry& registry, LinkHub& hub,
                     RegistryStore& store, AuditLog& audit, const Access& access,
                     ChargerTokens& tokens);
  // Audits a refusal of this monitor and ends its stream with it.
  void Refuse(const std::string& action, const std::string& target, const grpc::Status& status);
  void OnRegister();
  // The alarm of register_deadline_: ends a stream that has not registered.
  void OnRegisterDeadline(absl::Duration timeout);
  void Handle();
  void ReadNext();
  void Persist(const v1::CpRegistryRecord& record);
  void FinishLocked(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  grpc::CallbackServerContext* const context_;  // valid until OnDone
  Registry& registry_;
  LinkHub& hub_;
  RegistryStore& store_;
  AuditLog& audit_;
  const Access& access_;
  ChargerTokens& tokens_;
  std::shared_ptr<MonitorLinkReactor> self_;  // released in OnDone
  grpc::Alarm register_deadline_;
  std::atomic<bool> first_read_{false};  // the registration (or what came instead)

  // Touched only by reactions, which gRPC runs one read at a time.
  v1::MonitorMessage in_;
  std::string cp_id_;
  uint64_t link_id_ = 0;

  absl::Mutex mu_;
  std::deque<v1::CentralCommand> out_ ABSL_GUARDED_BY(mu_);  // front is in flight
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> finish_after_write_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace evnet

#endif  // EVNET_CENTRAL_MONITOR_LINK_H_
