// The one gRPC server helper of evnet: listens on an address (port 0 picks a
// free one) with mutual TLS or, when asked, in plaintext, serves the given services with server reflection on, so grpcurl
// works with no proto files at hand, and the standard grpc.health.v1 service
// for probes; says clearly when it cannot listen.
#ifndef EVNET_COMMON_GRPC_SERVER_H_
#define EVNET_COMMON_GRPC_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/server.h"
#include "common/trust/transport_security.h"
#include "grpcpp/impl/codegen/service_type.h"

namespace evnet {

struct GrpcServerOptions {
  std::string address;                   // "0.0.0.0:50051", "127.0.0.1:0"
  std::vector<grpc::Service*> services;  // not owned; must outlive the server
  // Programs pass what their flags say; unit tests on loopback may stay plaintext.
  TransportSecurity security = TransportSecurity::Insecure();
  // Under mutual TLS, the roles whose certificates may connect at all (the
  // handshake of any other is refused); empty: any certificate of the CA.
  // `name` is who serves, for the log line of a refusal ("Central").
  std::vector<std::string> admitted_roles;
  std::string name;
  // Hears of each handshake refused for its role (ServerCredentialsFor).
  RefusedHandshake on_refused_handshake;
  // Limits that keep one client (any holder of a certificate of the CA, or
  // anyone who reaches the port) from holding the server's resources: a
  // connection that has not finished its TLS handshake within this long is
  // closed; at most this many calls at once on one connection (a monitor
  // needs two); no message larger than this; a connection with no call for
  // max_idle is closed.
  absl::Duration handshake_timeout = absl::Seconds(10);
  int max_streams_per_connection = 16;
  int max_message_bytes = 1 << 20;
  absl::Duration max_idle = absl::Minutes(5);
};

class GrpcServer {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(
      const GrpcServerOptions& options);
  // Shuts down with a short grace period if Shutdown() was not called.
  ~GrpcServer();

  int port() const { return port_; }
  // Stops accepting calls and cancels those still running after `grace`.
  void Shutdown(absl::Duration grace = absl::Seconds(1));

 private:
  GrpcServer(std::unique_ptr<grpc::Server> server, int port)
      : server_(std::move(server)), port_(port) {}

  std::unique_ptr<grpc::Server> server_;
  int port_;
  bool shut_down_ = false;
};

// "host:port" with the port replaced when the address ends in ":0".
std::string WithPort(const std::string& address, int port);

}  // namespace evnet

#endif  // EVNET_COMMON_GRPC_SERVER_H_
