// evnet.v1.CentralService: the monitors' MonitorLink streams and
// WatchChargingPoints on gRPC's callback API (no thread per stream), and the
// operator's unary calls (list / get / stop / resume, list sessions, enrol /
// revoke, id tokens), each for operators only once identities are on (Access).
#ifndef EVNET_CENTRAL_CENTRAL_SERVICE_H_
#define EVNET_CENTRAL_CENTRAL_SERVICE_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "central/access.h"
#include "central/charger_tokens.h"
#include "central/coordinator.h"
#include "central/enrolments.h"
#include "central/id_tokens.h"
#include "central/link_hub.h"
#include "central/outbound.h"
#include "central/registry.h"
#include "central/revocations.h"
#include "central/watch.h"
#include "common/trust/audit_log.h"
#include "common/clock.h"
#include "evnet/v1/central.grpc.pb.h"

namespace evnet {

// Callbacks where a call waits on others: the streams, stop / resume
// (finished from Kafka's delivery report) and a charger's operations
// (finished from its answer).
using CentralServiceBase = v1::CentralService::WithCallbackMethod_MonitorLink<
    v1::CentralService::WithCallbackMethod_WatchChargingPoints<
        v1::CentralService::WithCallbackMethod_StopChargingPoint<
            v1::CentralService::WithCallbackMethod_ResumeChargingPoint<
                v1::CentralService::WithCallbackMethod_OperateCharger<
                    v1::CentralService::Service>>>>>;

// Calls at once on one connection to central: an OCPP gateway without
// certificates links all its chargers over one connection (a MonitorLink
// each), as `evload --channels` does; a monitor of its own needs two.
inline constexpr int kMonitorLinksPerConnection = 1024;

class CentralServiceImpl final : public CentralServiceBase {
 public:
  // Enrolment, for EnrollChargingPoint / RevokeChargingPoint, and revoked
  // certificates, for RevokeCertificate (none: refused as unimplemented).
  struct Enrolment {
    Enrolments& enrolments;
    EnrolmentStore& store;
    Revocations* revocations = nullptr;
  };
  // Drivers' id tokens, for PutIdToken / ListIdTokens and the chargers'
  // Authorize.
  struct Tokens {
    IdTokens& tokens;
    IdTokenStore& store;
    ChargerTokens& chargers;
  };
  CentralServiceImpl(Registry& registry, LinkHub& hub, SessionCoordinator& coordinator,
                     RegistryStore& store, AuditLog& audit, const Access& access,
                     Enrolment enrolment, Tokens tokens, const Clock& clock = SystemClock::Get());
  ~CentralServiceImpl() override;

  grpc::ServerBidiReactor<v1::MonitorMessage, v1::CentralCommand>* MonitorLink(
      grpc::CallbackServerContext* context) override;
  grpc::ServerWriteReactor<v1::ChargingPoint>* WatchChargingPoints(
      grpc::CallbackServerContext* context, const v1::WatchChargingPointsRequest*) override;

  grpc::Status ListChargingPoints(grpc::ServerContext*, const v1::ListChargingPointsRequest* request,
                                  v1::ListChargingPointsResponse* response) override;
  grpc::Status GetChargingPoint(grpc::ServerContext*, const v1::GetChargingPointRequest* request,
                                v1::ChargingPoint* response) override;
  grpc::ServerUnaryReactor* StopChargingPoint(grpc::CallbackServerContext* context,
                                              const v1::StopChargingPointRequest* request,
                                              v1::StopChargingPointResponse* response) override;
  grpc::ServerUnaryReactor* ResumeChargingPoint(grpc::CallbackServerContext* context,
                                                const v1::ResumeChargingPointRequest* request,
                                                v1::ResumeChargingPointResponse* response) override;
  grpc::Status ListSessions(grpc::ServerContext*, const v1::ListSessionsRequest* request,
                            v1::ListSessionsResponse* response) override;
  grpc::Status EnrollChargingPoint(grpc::ServerContext* context,
                                   const v1::EnrollChargingPointRequest* request,
                                   v1::Enrolment* response) override;
  grpc::Status RevokeChargingPoint(grpc::ServerContext* context,
                                   const v1::RevokeChargingPointRequest* request,
                                   v1::Enrolment* response) override;
  grpc::Status RevokeCertificate(grpc::ServerContext* context,
                                 const v1::RevokeCertificateRequest* request,
                                 v1::RevokedCertificate* response) override;
  grpc::Status PutIdToken(grpc::ServerContext* context, const v1::PutIdTokenRequest* request,
                          v1::IdToken* response) override;
  grpc::Status ListIdTokens(grpc::ServerContext* context, const v1::ListIdTokensRequest* request,
                            v1::ListIdTokensResponse* response) override;
  grpc::ServerUnaryReactor* OperateCharger(grpc::CallbackServerContext* context,
                                           const v1::OperateChargerRequest* request,
                                           v1::OperateChargerResponse* response) override;

  // One of an OCPP charger's operations, by an operator already admitted:
  // `done` gets the charger's answer (its JSON), or why there is none;
  // each outcome audited.
  void Operate(const v1::OperateChargerRequest& request, const Actor& by,
               std::function<void(absl::StatusOr<std::string>)> done);

  // Stop / Resume, for the gRPC API and the dashboard alike: one CP by id,
  // or all; each CP's change is kept once Kafka has it (undone if Kafka
  // refuses it) and audited as done by `by`. `done` runs once, from Kafka's
  // delivery report (or at once for a refusal), with the first error and the
  // CPs as they are then. No thread waits.
  using StoppedDone = std::function<void(absl::Status, std::vector<v1::ChargingPoint>)>;
  void SetStopped(const std::string& cp_id, bool all, bool stopped, const Actor& by,
                  StoppedDone done);
  // The same, waiting for `done` at most `timeout` (the dashboard's HTTP
  // threads, which are its own); the CPs go to `out`.
  [[nodiscard]] absl::Status SetStoppedAndWait(
      const std::string& cp_id, bool all, bool stopped,
      google::protobuf::RepeatedPtrField<v1::ChargingPoint>* out, const Actor& by,
      absl::Duration timeout);

  // A page of sessions, for callers that checked who asks (the dashboard).
  void ListSessionsPage(const v1::ListSessionsRequest& request,
                        v1::ListSessionsResponse* response) const;

  // Where the operator calls are audited, for the other ways in (HTTP).
  AuditLog& audit() { return audit_; }

  // Ends every watch (before the server shuts down).
  void CloseWatches() { watchers_.CloseAll(); }

 private:
  grpc::ServerUnaryReactor* SetStoppedReactor(
      grpc::CallbackServerContext* context, const std::string& cp_id, bool all, bool stopped,
      google::protobuf::RepeatedPtrField<v1::ChargingPoint>* out);
  const Clock& clock_;  // Now(): when enrolments and revocations are made
  Registry& registry_;
  LinkHub& hub_;
  SessionCoordinator& coordinator_;
  RegistryStore& store_;
  // For an operator: makes the record `change` gives (by that operator),
  // records it in Kafka, then applies it; each outcome audited as `action`.
  absl::StatusOr<v1::Enrolment> ChangeEnrolment(
      const grpc::ServerContext& context, const std::string& cp_id, const std::string& action,
      const std::function<absl::StatusOr<v1::Enrolment>(const std::string& by)>& change);

  AuditLog& audit_;
  const Access& access_;
  Enrolment enrolment_;
  Tokens tokens_;
  Watchers watchers_;
};

}  // namespace evnet

#endif  // EVNET_CENTRAL_CENTRAL_SERVICE_H_
