// The limits GrpcServer puts on what one client may hold, on a real server
// on a loopback port.
#include "common/grpc/grpc_server.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "gtest/gtest.h"

namespace evnet {
namespace {

std::chrono::system_clock::time_point In(absl::Duration d) {
  return absl::ToChronoTime(absl::Now() + d);
}

TEST(GrpcServerTest, AClientFloodingPingsIsSentAway) {
  GrpcServerOptions options;
  options.address = "127.0.0.1:0";
  absl::StatusOr<std::unique_ptr<GrpcServer>> server = GrpcServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  // A client pinging every 50 ms, with or without calls: what gRPC's own
  // clients never do, and what would cost the server a ping answer each.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 50);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 1000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args.SetInt(GRPC_ARG_HTTP2_MIN_SENT_PING_INTERVAL_WITHOUT_DATA_MS, 50);
  std::shared_ptr<grpc::Channel> flooding = grpc::CreateCustomChannel(
      absl::StrCat("127.0.0.1:", (*server)->port()), grpc::InsecureChannelCredentials(), args);
  ASSERT_TRUE(flooding->WaitForConnected(In(absl::Seconds(5))));
  // The server answers the third strike with GOAWAY: the connection is gone
  // well before a ping interval's worth of patience would end.
  EXPECT_TRUE(flooding->WaitForStateChange(GRPC_CHANNEL_READY, In(absl::Seconds(10))));
  EXPECT_NE(flooding->GetState(false), GRPC_CHANNEL_READY);
}

}  // namespace
}  // namespace evnet
