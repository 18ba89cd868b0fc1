// Client channels of evnet: insecure on loopback or a cluster network, with
// reconnect backoff capped at one second so that a restarted peer is found
// again within the fault table's targets (gRPC's default cap is two minutes),
// and keepalive pings so that a peer gone silent is noticed.
#ifndef EVNET_COMMON_GRPC_CHANNEL_H_
#define EVNET_COMMON_GRPC_CHANNEL_H_

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "grpcpp/channel.h"

namespace evnet {

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address);
// The same, on a connection of its own: channels with different `id`s are
// never shared by gRPC (as separate chargers' connections would not be).
std::shared_ptr<grpc::Channel> MakeDedicatedChannel(const std::string& address, int id);

// A deadline `timeout` from now, for a grpc::ClientContext.
std::chrono::system_clock::time_point DeadlineIn(absl::Duration timeout);

}  // namespace evnet

#endif  // EVNET_COMMON_GRPC_CHANNEL_H_
