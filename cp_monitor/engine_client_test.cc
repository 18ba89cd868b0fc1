// The monitor's client of its engine, against a real gRPC server on a
// loopback port with mutual TLS: after the CP's certificate is renewed, an
// engine that refuses the one before gets the new one from this client's
// next connection, without a restart.
#include "cp_monitor/engine_client.h"

#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/grpc/grpc_server.h"
#include "common/grpc/grpc_status.h"
#include "common/trust/own_certificate.h"
#include "common/trust/peer_identity.h"
#include "gtest/gtest.h"
#include "testing/process.h"
#include "testing/test_pki.h"

namespace evnet {
namespace {

// Answers only a caller holding the certificate in `cert_file` now.
class PinnedEngine final : public v1::EngineService::Service {
 public:
  explicit PinnedEngine(const std::string& cert_file)
      : own_(cert_file, SystemClock::Get(), absl::ZeroDuration()) {}
  grpc::Status Check(grpc::ServerContext* context, const v1::CheckRequest*,
                     v1::CheckResponse* response) override {
    absl::StatusOr<PeerIdentity> peer = IdentityOfPeer(*context);
    absl::Status admitted = peer.ok() ? own_.Admit(*peer) : peer.status();
    if (!admitted.ok()) {
      ++refused_;
      return ToGrpcStatus(admitted);
    }
    response->mutable_info()->set_cp_id("CP-001");
    return grpc::Status::OK;
  }
  int refused() const { return refused_; }

 private:
  OwnCertificate own_;
  std::atomic<int> refused_{0};
};

TEST(GrpcEngineClientTest, RefusedForACertificateReplacedItConnectsAgainWithTheNewOne) {
  absl::StatusOr<std::string> pki = test::MakeTestPki("pki", {"cp CP-001"});
  ASSERT_TRUE(pki.ok()) << pki.status();
  TransportSecurity security = TransportSecurity::FromDir(*pki, kRoleCp, "CP-001");
  security.reload = absl::Seconds(1);
  PinnedEngine engine(security.cert_file);
  absl::StatusOr<std::unique_ptr<GrpcServer>> server =
      GrpcServer::Start({"127.0.0.1:0", {&engine}, security});
  ASSERT_TRUE(server.ok()) << server.status();
  GrpcEngineClient client(absl::StrCat("127.0.0.1:", (*server)->port()), security, "CP-001");
  ASSERT_TRUE(client.Check(absl::Seconds(5)).ok());

  ASSERT_TRUE(test::Evpki("issue", *pki, "cp CP-001").ok());
  // The connection open holds the old certificate: the engine refuses it
  // (once it reads its own new one), and the client, reading its files
  // within a second, is answered again on a connection of its own (asked
  // again at once, so a refusal may never reach the caller).
  EXPECT_TRUE(test::WaitFor(
      [&] { return client.Check(absl::Seconds(5)).ok() && engine.refused() > 0; },
      absl::Seconds(15), absl::Milliseconds(200)));
  EXPECT_GT(engine.refused(), 0) << "the engine never refused the certificate replaced";
  const int refusals = engine.refused();
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(client.Check(absl::Seconds(5)).ok());
  EXPECT_EQ(engine.refused(), refusals) << "the new connection keeps being refused";
}

}  // namespace
}  // namespace evnet
