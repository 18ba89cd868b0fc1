// Client channels of evnet: mutual TLS (or plaintext under --insecure), the
// server checked to be the peer meant whatever address was dialled, with
// reconnect backoff capped at one second so that a restarted peer is found
// again within the fault table's targets (gRPC's default cap is two minutes),
// and keepalive pings so that a peer gone silent is noticed.
#ifndef EVNET_COMMON_GRPC_CHANNEL_H_
#define EVNET_COMMON_GRPC_CHANNEL_H_

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "common/trust/transport_security.h"
#include "grpcpp/channel.h"

namespace evnet {

// A channel whose connection failed fails its calls at once while it
// reconnects, and then nothing in the process polls the new connection but
// gRPC's backup poller, every 5 s by default. A plaintext connection is up at
// the first poll; a TLS handshake needs a poll per round trip and was cut
// off by its 5 s deadline every time, so that a monitor never found its
// restarted engine again. This polls every 100 ms (the environment's
// GRPC_CLIENT_CHANNEL_BACKUP_POLL_INTERVAL_MS wins). It must run before gRPC
// starts; the channels here and GrpcServer::Start call it.
void PollReconnectsOften();

// `min_connect_timeout` is also how long a connection attempt may take
// before it is given up and made again: short for a peer on this host, long
// for central, which a herd of 10,000 monitors reaches at once after its
// restart. Each attempt given up is work central did for nothing, and a
// herd whose every handshake waits longer than that never gets in: at
// 200 ms in plaintext, and at 5 s under mutual TLS (OpenSSL 3.0 spends
// about 4 ms of central's CPU on each handshake), where only 59 of 5,000
// monitors were in after 5 minutes.
// `server_name` is ServerNameOf(role, name) of the server meant.
std::shared_ptr<grpc::Channel> MakeChannel(
    const std::string& address, const TransportSecurity& security,
    const std::string& server_name,
    absl::Duration min_connect_timeout = absl::Milliseconds(200));
// A channel to central at `address`.
std::shared_ptr<grpc::Channel> MakeCentralChannel(const std::string& address,
                                                  const TransportSecurity& security);
inline constexpr absl::Duration kCentralConnectTimeout = absl::Seconds(30);
// A channel on a connection of its own, to central or to the server named
// `server_name`: channels with different `id`s are never shared by gRPC (as
// separate chargers' would not be), so a new one shakes hands anew, with
// the certificate its files hold now.
std::shared_ptr<grpc::Channel> MakeDedicatedChannel(
    const std::string& address, const TransportSecurity& security, int id,
    const std::string& server_name = ServerNameOf(kRoleCentral, kCentralName),
    absl::Duration min_connect_timeout = kCentralConnectTimeout);

// A deadline `timeout` from now, for a grpc::ClientContext.
std::chrono::system_clock::time_point DeadlineIn(absl::Duration timeout);

}  // namespace evnet

#endif  // EVNET_COMMON_GRPC_CHANNEL_H_
