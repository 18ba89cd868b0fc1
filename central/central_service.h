// evnet.v1.CentralService: the monitors' MonitorLink streams and the
// operator API (list / get / watch CPs, stop / resume, list sessions).
#ifndef EVNET_CENTRAL_CENTRAL_SERVICE_H_
#define EVNET_CENTRAL_CENTRAL_SERVICE_H_

#include "absl/status/status.h"
#include "central/coordinator.h"
#include "central/link_hub.h"
#include "central/registry.h"
#include "evnet/v1/central.grpc.pb.h"

namespace evnet {

// Where central keeps what it must remember about CPs (evnet.cp.registry).
class RegistryStore {
 public:
  virtual ~RegistryStore() = default;
  [[nodiscard]] virtual absl::Status Save(const v1::CpRegistryRecord& record) = 0;
};

class CentralServiceImpl final : public v1::CentralService::Service {
 public:
  CentralServiceImpl(Registry& registry, LinkHub& hub, SessionCoordinator& coordinator,
                     RegistryStore& store)
      : registry_(registry), hub_(hub), coordinator_(coordinator), store_(store) {}

  grpc::Status MonitorLink(grpc::ServerContext* context, LinkHub::Stream* stream) override;
  grpc::Status ListChargingPoints(grpc::ServerContext*, const v1::ListChargingPointsRequest*,
                                  v1::ListChargingPointsResponse* response) override;
  grpc::Status GetChargingPoint(grpc::ServerContext*, const v1::GetChargingPointRequest* request,
                                v1::ChargingPoint* response) override;
  grpc::Status WatchChargingPoints(grpc::ServerContext* context,
                                   const v1::WatchChargingPointsRequest*,
                                   grpc::ServerWriter<v1::ChargingPoint>* writer) override;
  grpc::Status StopChargingPoint(grpc::ServerContext*, const v1::StopChargingPointRequest* request,
                                 v1::StopChargingPointResponse* response) override;
  grpc::Status ResumeChargingPoint(grpc::ServerContext*,
                                   const v1::ResumeChargingPointRequest* request,
                                   v1::ResumeChargingPointResponse* response) override;
  grpc::Status ListSessions(grpc::ServerContext*, const v1::ListSessionsRequest* request,
                            v1::ListSessionsResponse* response) override;

  // Stop / Resume, for the gRPC API and the dashboard alike: one CP by id,
  // or all; recorded in Kafka first. Returns the CPs as they are now.
  [[nodiscard]] absl::Status SetStopped(const std::string& cp_id, bool all, bool stopped,
                                        google::protobuf::RepeatedPtrField<v1::ChargingPoint>* out);

 private:
  void Persist(const v1::CpRegistryRecord& record);

  Registry& registry_;
  LinkHub& hub_;
  SessionCoordinator& coordinator_;
  RegistryStore& store_;
};

}  // namespace evnet

#endif  // EVNET_CENTRAL_CENTRAL_SERVICE_H_
