// Conversion between absl::Status and grpc::Status. The canonical codes are
// the same numbers in both, so the conversion keeps code and message.
#ifndef EVNET_COMMON_GRPC_STATUS_H_
#define EVNET_COMMON_GRPC_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace evnet {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace evnet

#endif  // EVNET_COMMON_GRPC_STATUS_H_
