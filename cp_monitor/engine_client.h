// EngineClient over gRPC: the monitor's calls to its engine, each with a
// deadline.
#ifndef EVNET_CP_MONITOR_ENGINE_CLIENT_H_
#define EVNET_CP_MONITOR_ENGINE_CLIENT_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/trust/transport_security.h"
#include "cp_monitor/health_monitor.h"
#include "evnet/v1/engine.grpc.pb.h"

namespace evnet {

// Thread-safe: the monitor's check thread and central's commands call it.
class GrpcEngineClient final : public EngineClient {
 public:
  // The engine at `address` must hold the certificate of CP `cp_id`.
  GrpcEngineClient(const std::string& address, const TransportSecurity& security,
                   const std::string& cp_id);

  absl::StatusOr<v1::CheckResponse> Check(absl::Duration timeout) override;
  absl::Status StartSupply(const v1::StartSupplyRequest& request,
                           absl::Duration timeout) override;
  absl::Status StopSupply(const v1::StopSupplyRequest& request, absl::Duration timeout) override;

 private:
  std::shared_ptr<v1::EngineService::Stub> Stub();
  // A connection keeps the certificate it was opened with: refused by an
  // engine that now holds a renewed one, the client opens a new
  // connection, with the certificate its files hold now. True when it did.
  bool Reconnected(const grpc::Status& status);
  // `call` with a deadline `timeout` away, asked again once on a new
  // connection when the engine refused it.
  template <typename Call>
  grpc::Status Ask(absl::Duration timeout, const Call& call);

  const std::string address_;
  const TransportSecurity security_;
  const std::string cp_id_;
  const std::string server_name_;
  absl::Mutex mu_;
  std::shared_ptr<v1::EngineService::Stub> stub_ ABSL_GUARDED_BY(mu_);
  int connection_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace evnet

#endif  // EVNET_CP_MONITOR_ENGINE_CLIENT_H_
