#include "common/grpc/grpc_server.h"

#include "absl/strings/str_cat.h"
#include "common/grpc/grpc_channel.h"
#include "common/trust/tls_settings.h"
#include "glog/logging.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

namespace evnet {

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(
    const GrpcServerOptions& options) {
  PollReconnectsOften();
  // Before gRPC makes its SSL_CTX: no session tickets (tls_settings.h); a
  // failure is logged there, once.
  UseEvnetTlsSettings().IgnoreError();
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  // grpc.health.v1.Health, for Kubernetes' gRPC probes: SERVING while up.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  // A dead peer is noticed within about a minute even when nothing is sent,
  // and monitors may ping as often as every 10 s to notice a dead central.
  // A client pinging more often, or without a call, is sent away (GOAWAY
  // too_many_pings) on its third such ping: gRPC's own limit, so that no
  // holder of a certificate makes the server answer pings without end.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 2);
  // Messages here are small: no bandwidth probing pings on 10,000 links.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
                             static_cast<int>(absl::ToInt64Milliseconds(options.handshake_timeout)));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, options.max_streams_per_connection);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS,
                             static_cast<int>(absl::ToInt64Milliseconds(options.max_idle)));
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  // TLS frames of at most 4 KiB, not 16: the buffer each connection keeps
  // for them is 12 KiB smaller (about 6 KiB per CP measured at 1,000 CPs),
  // and every message here but the operator's lists fits in one.
  builder.AddChannelArgument(GRPC_ARG_TSI_MAX_FRAME_SIZE, 4096);
  int port = 0;
  builder.AddListeningPort(options.address, ServerCredentialsFor(options.security, options.admitted_roles, options.name,
                                                options.on_refused_handshake), &port);
  for (grpc::Service* service : options.services) builder.RegisterService(service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", options.address,
        ": is the address valid and the port free? (another program may be using it)"));
  }
  return std::unique_ptr<GrpcServer>(new GrpcServer(std::move(server), port));
}

GrpcServer::~GrpcServer() { Shutdown(); }

void GrpcServer::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  server_->Shutdown(std::chrono::system_clock::now() +
                    std::chrono::milliseconds(absl::ToInt64Milliseconds(grace)));
  server_->Wait();
}

std::string WithPort(const std::string& address, int port) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) return absl::StrCat(address, ":", port);
  return absl::StrCat(address.substr(0, colon), ":", port);
}

}  // namespace evnet
