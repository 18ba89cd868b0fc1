// CentralLink against a real gRPC server on a loopback port that plays a
// central which stops reading (frozen, or its window full): the monitor's
// link still shuts down at once.
#include "cp_monitor/central_link.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "common/clock.h"
#include "common/grpc/grpc_server.h"
#include "gtest/gtest.h"
#include "proto/evnet/v1/central.grpc.pb.h"
#include "testing/test_pki.h"

namespace evnet {
namespace {

class NoEngine : public EngineClient {
 public:
  absl::StatusOr<v1::CheckResponse> Check(absl::Duration) override {
    return absl::UnavailableError("no engine in this test");
  }
  absl::Status StartSupply(const v1::StartSupplyRequest&, absl::Duration) override {
    return absl::UnavailableError("no engine");
  }
  absl::Status StopSupply(const v1::StopSupplyRequest&, absl::Duration) override {
    return absl::UnavailableError("no engine");
  }
};

// Registers the monitor, reads the report a link sends once it is up, then
// reads nothing more until released.
class FrozenCentral final : public v1::CentralService::Service {
 public:
  grpc::Status MonitorLink(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::CentralCommand, v1::MonitorMessage>* stream) override {
    v1::MonitorMessage first;
    if (!stream->Read(&first)) return grpc::Status::OK;
    v1::CentralCommand registered;
    registered.mutable_registered()->set_cp_id(first.register_().cp_id());
    stream->Write(registered);
    v1::MonitorMessage report;  // sent once the link took the stream for its own
    if (!stream->Read(&report)) return grpc::Status::OK;
    linked.Notify();
    while (!released.WaitForNotificationWithTimeout(absl::Milliseconds(50))) {
      if (context->IsCancelled()) break;
    }
    return grpc::Status::OK;
  }
  absl::Notification linked;
  absl::Notification released;
};

TEST(CentralLinkTest, ShutsDownAtOnceWhileAWriteIsStuckOnACentralThatStoppedReading) {
  FrozenCentral central;
  auto server = GrpcServer::Start({"127.0.0.1:0", {&central}});
  ASSERT_TRUE(server.ok()) << server.status();
  FakeClock clock;
  NoEngine engine;
  MonitorOptions options;
  options.cp_id = "CP-001";
  Monitor monitor(options, clock, engine);
  auto link = std::make_unique<CentralLink>(absl::StrCat("127.0.0.1:", (*server)->port()),
                                            TransportSecurity::Insecure(), monitor, clock);
  ASSERT_TRUE(central.linked.WaitForNotificationWithTimeout(absl::Seconds(10)));

  // Big messages until a Write blocks on flow control.
  v1::MonitorMessage big;
  big.mutable_register_()->set_cp_id("CP-001");
  big.mutable_register_()->set_location(std::string(1 << 20, 'x'));
  absl::Notification writer_done;
  std::thread writer([&, raw = link.get()] {
    // Central never reads again, so the window never opens: this ends only
    // with a Send that fails, after the link is cancelled.
    while (raw->Send(big)) {
    }
    writer_done.Notify();
  });
  EXPECT_FALSE(writer_done.WaitForNotificationWithTimeout(absl::Seconds(2)))
      << "a Write should be stuck by now";

  absl::Notification destroyed;
  std::thread stopper([&] {
    link.reset();
    destroyed.Notify();
  });
  EXPECT_TRUE(destroyed.WaitForNotificationWithTimeout(absl::Seconds(5)))
      << "the link's shutdown hung behind a blocked Write";
  central.released.Notify();
  stopper.join();
  writer.join();
  (*server)->Shutdown();
}

// A monitor whose central takes a connection and never shakes hands waits
// in the call's start for the whole connect timeout (30 s, for a herd after
// central's restart); a stop meanwhile ends it at once.
TEST(CentralLinkTest, ShutsDownAtOnceWhileCentralHasNotShakenHands) {
  absl::StatusOr<std::string> pki = test::MakeTestPki("pki", {"cp CP-001"});
  ASSERT_TRUE(pki.ok()) << pki.status();
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(listener, 4), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);

  FakeClock clock;
  NoEngine engine;
  MonitorOptions options;
  options.cp_id = "CP-001";
  Monitor monitor(options, clock, engine);
  auto link = std::make_unique<CentralLink>(
      absl::StrCat("127.0.0.1:", ntohs(address.sin_port)),
      TransportSecurity::FromDir(*pki, "cp", "CP-001"), monitor, clock);
  // The link's connection arrived: its call is waiting for the handshake.
  timeval wait{10, 0};
  setsockopt(listener, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof(wait));
  const int silent = accept(listener, nullptr, nullptr);
  ASSERT_GE(silent, 0) << "the link never connected";

  absl::Notification destroyed;
  std::thread stopper([&] {
    link.reset();
    destroyed.Notify();
  });
  EXPECT_TRUE(destroyed.WaitForNotificationWithTimeout(absl::Seconds(5)))
      << "the link's shutdown waited for its connection attempt";
  stopper.join();
  close(silent);
  close(listener);
}

}  // namespace
}  // namespace evnet
