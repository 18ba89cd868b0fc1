#include "common/grpc/grpc_channel.h"

#include <stdlib.h>

#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace evnet {

namespace {

grpc::ChannelArguments Arguments(const TransportSecurity& security,
                                 const std::string& server_name,
                                 absl::Duration min_connect_timeout) {
  PollReconnectsOften();
  grpc::ChannelArguments args;
  if (!security.insecure) args.SetSslTargetNameOverride(server_name);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS,
              static_cast<int>(absl::ToInt64Milliseconds(min_connect_timeout)));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  // A central (or engine) that vanished without closing the connection is
  // noticed within 30 s by a ping, not minutes later by TCP.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 20000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  return args;
}

}  // namespace

void PollReconnectsOften() {
  static const bool done = [] {
    setenv("GRPC_CLIENT_CHANNEL_BACKUP_POLL_INTERVAL_MS", "100", /*overwrite=*/0);
    return true;
  }();
  (void)done;
}

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address,
                                           const TransportSecurity& security,
                                           const std::string& server_name,
                                           absl::Duration min_connect_timeout) {
  return grpc::CreateCustomChannel(address, ChannelCredentialsFor(security),
                                   Arguments(security, server_name, min_connect_timeout));
}

std::shared_ptr<grpc::Channel> MakeCentralChannel(const std::string& address,
                                                  const TransportSecurity& security) {
  return MakeChannel(address, security, ServerNameOf(kRoleCentral, kCentralName),
                     kCentralConnectTimeout);
}

std::shared_ptr<grpc::Channel> MakeDedicatedChannel(const std::string& address,
                                                    const TransportSecurity& security, int id,
                                                    const std::string& server_name,
                                                    absl::Duration min_connect_timeout) {
  grpc::ChannelArguments args = Arguments(security, server_name, min_connect_timeout);
  args.SetInt("evnet.dedicated_channel", id);
  return grpc::CreateCustomChannel(address, ChannelCredentialsFor(security), args);
}

std::chrono::system_clock::time_point DeadlineIn(absl::Duration timeout) {
  return std::chrono::system_clock::now() +
         std::chrono::microseconds(absl::ToInt64Microseconds(timeout));
}

}  // namespace evnet
