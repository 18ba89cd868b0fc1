#include "central/central_service.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "glog/logging.h"

namespace evnet {

void CentralServiceImpl::Persist(const v1::CpRegistryRecord& record) {
  absl::Status saved = store_.Save(record);
  if (!saved.ok()) {
    LOG(WARNING) << "Central | CP " << record.info().cp_id()
                 << " is not yet recorded in Kafka (it will be at its next registration): "
                 << saved;
  }
}

grpc::Status CentralServiceImpl::MonitorLink(grpc::ServerContext* context,
                                             LinkHub::Stream* stream) {
  v1::MonitorMessage first;
  if (!stream->Read(&first)) return grpc::Status::CANCELLED;
  if (!first.has_register_() || first.register_().cp_id().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "the first message on MonitorLink must register a CP id");
  }
  const std::string cp_id = first.register_().cp_id();
  absl::StatusOr<uint64_t> link = hub_.Attach(cp_id, stream, context);
  if (!link.ok()) {
    LOG(WARNING) << "Central | Refused a monitor for " << cp_id << ": " << link.status().message();
    return ToGrpcStatus(link.status());
  }
  const bool known = registry_.Known(cp_id);
  if (auto record = registry_.Register(first.register_()); record.has_value()) Persist(*record);
  LOG(INFO) << "Central | CP " << cp_id << (known ? " reconnected" : " registered")
            << " (monitor at " << context->peer() << ")";
  v1::CentralCommand registered;
  registered.mutable_registered()->set_cp_id(cp_id);
  hub_.Write(cp_id, *link, registered);

  v1::MonitorMessage message;
  while (stream->Read(&message)) {
    hub_.Touch(cp_id, *link);
    switch (message.kind_case()) {
      case v1::MonitorMessage::kHealth:
        registry_.Report(cp_id, message.health());
        break;
      case v1::MonitorMessage::kCommandResult:
        hub_.Complete(message.command_result());
        break;
      case v1::MonitorMessage::kRegister:
        if (message.register_().cp_id() != cp_id) {
          LOG(WARNING) << "Central | The monitor of " << cp_id << " tried to register as "
                       << message.register_().cp_id() << "; ignored";
          break;
        }
        if (auto record = registry_.Register(message.register_()); record.has_value()) {
          Persist(*record);
        }
        break;
      default:
        LOG(WARNING) << "Central | Unknown message from the monitor of " << cp_id;
    }
  }
  hub_.Detach(cp_id, *link);
  registry_.LinkClosed(cp_id);
  LOG(WARNING) << "Central | The monitor of CP " << cp_id << " disconnected";
  return grpc::Status::OK;
}

grpc::Status CentralServiceImpl::ListChargingPoints(grpc::ServerContext*,
                                                    const v1::ListChargingPointsRequest*,
                                                    v1::ListChargingPointsResponse* response) {
  for (v1::ChargingPoint& cp : registry_.List()) *response->add_charging_points() = std::move(cp);
  return grpc::Status::OK;
}

grpc::Status CentralServiceImpl::GetChargingPoint(grpc::ServerContext*,
                                                  const v1::GetChargingPointRequest* request,
                                                  v1::ChargingPoint* response) {
  absl::StatusOr<v1::ChargingPoint> cp = registry_.Get(request->cp_id());
  if (!cp.ok()) return ToGrpcStatus(cp.status());
  *response = *std::move(cp);
  return grpc::Status::OK;
}

grpc::Status CentralServiceImpl::WatchChargingPoints(grpc::ServerContext* context,
                                                     const v1::WatchChargingPointsRequest*,
                                                     grpc::ServerWriter<v1::ChargingPoint>* writer) {
  std::map<std::string, std::string> sent;  // what the watcher has, serialized
  uint64_t seen = 0;
  while (!context->IsCancelled()) {
    // Statuses also change with time (a silent monitor), hence the timeout.
    seen = registry_.WaitForChange(seen, absl::Seconds(1));
    for (const v1::ChargingPoint& cp : registry_.List()) {
      std::string bytes = cp.SerializeAsString();
      std::string& last = sent[cp.info().cp_id()];
      if (last == bytes) continue;
      if (!writer->Write(cp)) return grpc::Status::OK;
      last = std::move(bytes);
    }
  }
  return grpc::Status::OK;
}

absl::Status CentralServiceImpl::SetStopped(
    const std::string& cp_id, bool all, bool stopped,
    google::protobuf::RepeatedPtrField<v1::ChargingPoint>* out) {
  if (cp_id.empty() == !all) {
    return absl::InvalidArgumentError("name one CP with cp_id, or set all (not both)");
  }
  std::vector<std::string> ids = all ? registry_.Ids() : std::vector<std::string>{cp_id};
  for (const std::string& id : ids) {
    absl::StatusOr<v1::CpRegistryRecord> record = registry_.SetStopped(id, stopped);
    if (!record.ok()) return record.status();
    absl::Status saved = store_.Save(*record);
    if (!saved.ok()) {
      (void)registry_.SetStopped(id, !stopped);
      return absl::UnavailableError(absl::StrCat("cannot record the change of ", id,
                                                 " in Kafka, so it was not made: ",
                                                 saved.message()));
    }
    LOG(INFO) << "Central | CP " << id << (stopped ? " stopped" : " resumed") << " by the operator";
    if (stopped) {
      absl::Status ended = coordinator_.StopSessionAt(id);
      if (!ended.ok()) {
        LOG(WARNING) << "Central | CP " << id << ": its engine was not told to stop: "
                     << ended.message();
      }
    }
    absl::StatusOr<v1::ChargingPoint> cp = registry_.Get(id);
    if (cp.ok()) *out->Add() = *std::move(cp);
  }
  return absl::OkStatus();
}

grpc::Status CentralServiceImpl::StopChargingPoint(grpc::ServerContext*,
                                                   const v1::StopChargingPointRequest* request,
                                                   v1::StopChargingPointResponse* response) {
  return ToGrpcStatus(SetStopped(request->cp_id(), request->all(), true,
                                 response->mutable_charging_points()));
}

grpc::Status CentralServiceImpl::ResumeChargingPoint(grpc::ServerContext*,
                                                     const v1::ResumeChargingPointRequest* request,
                                                     v1::ResumeChargingPointResponse* response) {
  return ToGrpcStatus(SetStopped(request->cp_id(), request->all(), false,
                                 response->mutable_charging_points()));
}

grpc::Status CentralServiceImpl::ListSessions(grpc::ServerContext*,
                                              const v1::ListSessionsRequest* request,
                                              v1::ListSessionsResponse* response) {
  for (v1::Session& session : coordinator_.Sessions(*request)) {
    *response->add_sessions() = std::move(session);
  }
  return grpc::Status::OK;
}

}  // namespace evnet
