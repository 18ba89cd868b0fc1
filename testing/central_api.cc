#include "testing/central_api.h"

#include "common/grpc/grpc_channel.h"

namespace evnet::test {
namespace {

constexpr absl::Duration kRpcTimeout = absl::Seconds(3);

// One of the operator's unary calls on one CP.
template <typename Request, typename Response, typename Call>
absl::Status OperatorCall(const std::string& cp_id, Call call) {
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(kRpcTimeout));
  Request request;
  request.set_cp_id(cp_id);
  Response response;
  grpc::Status status = call(&context, request, &response);
  return status.ok() ? absl::OkStatus() : absl::UnavailableError(status.error_message());
}

}  // namespace

v1::CpStatus CpStatusOf(v1::CentralService::Stub& central, const std::string& cp_id) {
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(kRpcTimeout));
  v1::GetChargingPointRequest request;
  request.set_cp_id(cp_id);
  v1::ChargingPoint cp;
  if (!central.GetChargingPoint(&context, request, &cp).ok()) return v1::CP_STATUS_UNSPECIFIED;
  return cp.status();
}

std::vector<v1::Session> SessionsOf(v1::CentralService::Stub& central) {
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(kRpcTimeout));
  v1::ListSessionsResponse response;
  if (!central.ListSessions(&context, {}, &response).ok()) return {};
  return {response.sessions().begin(), response.sessions().end()};
}

absl::Status StopCpAt(v1::CentralService::Stub& central, const std::string& cp_id) {
  return OperatorCall<v1::StopChargingPointRequest, v1::StopChargingPointResponse>(
      cp_id, [&](auto* context, const auto& request, auto* response) {
        return central.StopChargingPoint(context, request, response);
      });
}

absl::Status ResumeCpAt(v1::CentralService::Stub& central, const std::string& cp_id) {
  return OperatorCall<v1::ResumeChargingPointRequest, v1::ResumeChargingPointResponse>(
      cp_id, [&](auto* context, const auto& request, auto* response) {
        return central.ResumeChargingPoint(context, request, response);
      });
}

}  // namespace evnet::test
