// Mutual TLS between a real gRPC server and real channels on loopback, with
// certificates made by tools/pki/evpki (openssl): who gets in, who is
// refused, what identity the server sees, and a renewed certificate used
// without a restart.
#include "common/trust/transport_security.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <openssl/ssl.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdlib>
#include <set>
#include <tuple>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/files.h"
#include "common/grpc/grpc_channel.h"
#include "common/grpc/grpc_server.h"
#include "common/trust/peer_identity.h"
#include "evnet/v1/engine.grpc.pb.h"
#include "gtest/gtest.h"
#include "testing/test_pki.h"

ABSL_DECLARE_FLAG(bool, insecure);
ABSL_DECLARE_FLAG(std::string, tls_cert);

namespace evnet {
namespace {

std::string TmpDir() { return std::getenv("TEST_TMPDIR"); }

// Runs tools/pki/evpki COMMAND DIR ARGS; its output.
std::string Pki(const std::string& command, const std::string& dir,
                const std::string& args = "") {
  absl::StatusOr<std::string> out = test::Evpki(command, dir, args);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.value_or("");
}

std::string Read(const std::string& file) { return ReadFile(file).value_or(""); }

// Remembers who called.
class WhoCalled final : public v1::EngineService::Service {
 public:
  grpc::Status Check(grpc::ServerContext* context, const v1::CheckRequest*,
                     v1::CheckResponse*) override {
    absl::MutexLock lock(&mu_);
    caller_ = IdentityOfPeer(*context);
    return grpc::Status::OK;
  }
  absl::StatusOr<PeerIdentity> caller() {
    absl::MutexLock lock(&mu_);
    return caller_;
  }

 private:
  absl::Mutex mu_;
  absl::StatusOr<PeerIdentity> caller_ = absl::NotFoundError("nobody called");
};

class TransportSecurityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(test::MakeTestPki("pki", {"cp CP-001", "cp CP-002", "operator bob",
                                          "driver driver-eve", "gateway gw-1",
                                          "operator alice 0"})  // alice's: already expired
                    .ok());
    ASSERT_TRUE(test::MakeTestPki("other-pki", {"cp CP-001"}).ok());
  }
  static std::string Dir() { return TmpDir() + "/pki"; }
  static std::string OtherDir() { return TmpDir() + "/other-pki"; }

  void Serve(const TransportSecurity& security) {
    absl::StatusOr<std::unique_ptr<GrpcServer>> server =
        GrpcServer::Start({"127.0.0.1:0", {&service_}, security});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }
  std::string Address() const { return absl::StrCat("127.0.0.1:", server_->port()); }

  grpc::Status Call(std::shared_ptr<grpc::Channel> channel) {
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(absl::Seconds(5)));
    v1::CheckResponse response;
    return v1::EngineService::NewStub(channel)->Check(&context, {}, &response);
  }
  grpc::Status CallAs(const TransportSecurity& security, const std::string& server_name) {
    return Call(MakeChannel(Address(), security, server_name));
  }

  WhoCalled service_;
  std::unique_ptr<GrpcServer> server_;
};

TEST_F(TransportSecurityTest, TheServerSeesWhoTheClientCertificateNames) {
  Serve(TransportSecurity::FromDir(Dir(), "cp", "CP-001"));
  const TransportSecurity client = TransportSecurity::FromDir(Dir(), "cp", "CP-002");
  ASSERT_TRUE(CallAs(client, "CP-001.cp.evnet").ok());
  absl::StatusOr<PeerIdentity> caller = service_.caller();
  ASSERT_TRUE(caller.ok()) << caller.status();
  EXPECT_EQ(caller->role, "cp");
  EXPECT_EQ(caller->name, "CP-002");
  EXPECT_EQ(caller->certificate_sha256, Pki("fingerprint", client.cert_file));
}

TEST_F(TransportSecurityTest, ClientsWithoutAValidCertificateOfTheNetworkAreRefused) {
  Serve(TransportSecurity::FromDir(Dir(), "cp", "CP-001"));
  // TLS with the right CA but no certificate of its own.
  grpc::SslCredentialsOptions no_certificate;
  no_certificate.pem_root_certs = Read(Dir() + "/ca.crt");
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("CP-001.cp.evnet");
  EXPECT_EQ(Call(grpc::CreateCustomChannel(Address(), grpc::SslCredentials(no_certificate), args))
                .error_code(),
            grpc::StatusCode::UNAVAILABLE);
  // A certificate of another CA (which also trusts another CA).
  TransportSecurity other = TransportSecurity::FromDir(OtherDir(), "cp", "CP-001");
  other.ca_file = Dir() + "/ca.crt";
  EXPECT_EQ(CallAs(other, "CP-001.cp.evnet").error_code(), grpc::StatusCode::UNAVAILABLE);
  // An expired certificate.
  EXPECT_EQ(CallAs(TransportSecurity::FromDir(Dir(), "operator", "alice"), "CP-001.cp.evnet")
                .error_code(),
            grpc::StatusCode::UNAVAILABLE);
  // Plaintext.
  EXPECT_EQ(CallAs(TransportSecurity::Insecure(), "").error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_FALSE(service_.caller().ok()) << "no refused client reached the service";
}

TEST_F(TransportSecurityTest, AClientRefusesAServerThatIsNotThePeerItMeant) {
  Serve(TransportSecurity::FromDir(Dir(), "cp", "CP-002"));
  const TransportSecurity client = TransportSecurity::FromDir(Dir(), "cp", "CP-001");
  EXPECT_EQ(CallAs(client, "CP-001.cp.evnet").error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(CallAs(client, "CP-002.cp.evnet").ok());
}

TEST_F(TransportSecurityTest, ARenewedCertificateIsPresentedWithoutARestart) {
  TransportSecurity server = TransportSecurity::FromDir(Dir(), "central", "central");
  server.reload = absl::Seconds(1);
  Serve(server);
  Pki("issue", Dir(), "cp CP-003");
  TransportSecurity client = TransportSecurity::FromDir(Dir(), "cp", "CP-003");
  client.reload = absl::Seconds(1);
  ASSERT_TRUE(CallAs(client, "central.central.evnet").ok());
  const std::string before = service_.caller()->certificate_sha256;

  Pki("issue", Dir(), "cp CP-003");
  const std::string renewed = Pki("fingerprint", client.cert_file);
  ASSERT_NE(renewed, before);
  // A new connection (a new channel of its own) presents the renewed one
  // once the files were read again (within `reload`): each attempt is a
  // handshake, and nothing tells the test when the files were read. An
  // attempt may fail meanwhile: read between the new key and its new
  // certificate, the files do not match, and gRPC presents neither until
  // its next read; a monitor simply connects again.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  int attempt = 0;
  int failed = 0;
  while (service_.caller()->certificate_sha256 != renewed && absl::Now() < deadline) {
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("central.central.evnet");
    args.SetInt("test.connection", ++attempt);
    if (!Call(grpc::CreateCustomChannel(Address(), ChannelCredentialsFor(client), args)).ok()) {
      ++failed;
    }
  }
  EXPECT_EQ(service_.caller()->certificate_sha256, renewed)
      << attempt << " attempts, " << failed << " failed";
}

// A server that admits CPs and operators (central, an engine) refuses a
// driver's or a gateway's certificate of the same CA at the handshake: no
// call of any service, the standard health service's Watch included, is
// held with it.
TEST_F(TransportSecurityTest, AServerAdmitsOnlyTheRolesItNamesAtTheHandshake) {
  GrpcServerOptions options{"127.0.0.1:0", {&service_},
                            TransportSecurity::FromDir(Dir(), "central", "central")};
  options.admitted_roles = {"cp", "operator"};
  options.name = "Central";
  absl::Mutex mu;
  std::set<std::string> refused;  // as heard for the audit log
  options.on_refused_handshake = [&](const std::string& holder, const std::string& why) {
    absl::MutexLock lock(&mu);
    refused.insert(holder + ": " + why);
  };
  absl::StatusOr<std::unique_ptr<GrpcServer>> server = GrpcServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = *std::move(server);
  for (const auto& [role, name] : std::vector<std::pair<std::string, std::string>>{
           {"driver", "driver-eve"}, {"gateway", "gw-1"}}) {
    const TransportSecurity as = TransportSecurity::FromDir(Dir(), role, name);
    EXPECT_EQ(CallAs(as, "central.central.evnet").error_code(), grpc::StatusCode::UNAVAILABLE)
        << role;
    // Not a refused call but no connection at all: nothing else on the port
    // (the health and reflection services) can be asked either.
    EXPECT_FALSE(MakeChannel(Address(), as, "central.central.evnet")
                     ->WaitForConnected(DeadlineIn(absl::Seconds(1))))
        << role;
  }
  EXPECT_FALSE(service_.caller().ok()) << "a refused role reached the service";
  {
    absl::MutexLock lock(&mu);
    EXPECT_EQ(refused, (std::set<std::string>{
                           "driver driver-eve: a driver's certificate does not connect to Central",
                           "gateway gw-1: a gateway's certificate does not connect to Central"}));
  }
  // The roles it names get in, as before.
  EXPECT_TRUE(CallAs(TransportSecurity::FromDir(Dir(), "operator", "bob"), "central.central.evnet")
                  .ok());
  EXPECT_EQ(service_.caller()->name, "bob");
  EXPECT_TRUE(CallAs(TransportSecurity::FromDir(Dir(), "cp", "CP-002"), "central.central.evnet")
                  .ok());
  EXPECT_EQ(service_.caller()->name, "CP-002");
}

// --pki_dir names role/name's files of an evpki folder; a folder without
// them, or given with --tls_* or --insecure, is refused with what is wrong.
TEST_F(TransportSecurityTest, APkiDirNamesTheFilesOfTheProgramsOwnRoleAndName) {
  absl::StatusOr<TransportSecurity> security =
      TransportSecurityFromFlags("test", Dir(), kRoleCp, "CP-001");
  ASSERT_TRUE(security.ok()) << security.status();
  EXPECT_FALSE(security->insecure);
  EXPECT_EQ(security->ca_file, Dir() + "/ca.crt");
  EXPECT_EQ(security->cert_file, Dir() + "/cp/CP-001.crt");
  EXPECT_EQ(security->key_file, Dir() + "/cp/CP-001.key");

  absl::StatusOr<TransportSecurity> missing =
      TransportSecurityFromFlags("test", Dir(), kRoleCp, "CP-404");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("CP-404.crt"), std::string::npos)
      << missing.status();

  absl::SetFlag(&FLAGS_insecure, true);
  absl::StatusOr<TransportSecurity> both =
      TransportSecurityFromFlags("test", Dir(), kRoleCp, "CP-001");
  absl::SetFlag(&FLAGS_insecure, false);
  ASSERT_FALSE(both.ok());
  EXPECT_EQ(both.status().message(), "--pki_dir excludes --tls_* and --insecure");
  absl::SetFlag(&FLAGS_tls_cert, Dir() + "/cp/CP-002.crt");
  absl::StatusOr<TransportSecurity> with_a_file =
      TransportSecurityFromFlags("test", Dir(), kRoleCp, "CP-001");
  absl::SetFlag(&FLAGS_tls_cert, "");
  EXPECT_FALSE(with_a_file.ok());
}

TEST(PeerIdentityTest, ACertificateWithoutAnEvnetIdentityIsNotOne) {
  EXPECT_FALSE(IdentityOfCertificate("not a certificate").ok());
  EXPECT_FALSE(IdentityOfCertificate("not a certificate").ok());  // nor the second time
}

// Identities are kept once read (parsing costs about a millisecond): each
// certificate, read again, is still its own holder's, with its own text.
TEST_F(TransportSecurityTest, EachCertificateReadAgainStillNamesItsOwnHolder) {
  const std::string cp = Read(Dir() + "/cp/CP-001.crt");
  const std::string other = Read(Dir() + "/cp/CP-002.crt");
  const std::string op = Read(Dir() + "/operator/bob.crt");
  for (int round = 0; round < 3; ++round) {
    for (const auto& [pem, role, name] :
         {std::tuple(cp, kRoleCp, "CP-001"), std::tuple(other, kRoleCp, "CP-002"),
          std::tuple(op, kRoleOperator, "bob")}) {
      absl::StatusOr<PeerIdentity> identity = IdentityOfCertificate(pem);
      ASSERT_TRUE(identity.ok()) << identity.status();
      EXPECT_TRUE(identity->Is(role, name)) << identity->ToString() << " in round " << round;
      EXPECT_EQ(identity->certificate_pem, pem);
      EXPECT_EQ(identity->certificate_sha256.size(), 64u);
    }
  }
  EXPECT_NE(IdentityOfCertificate(cp)->certificate_sha256,
            IdentityOfCertificate(other)->certificate_sha256);
}

// How many TLS 1.3 session tickets a server sends a client after the
// handshake, as an OpenSSL client of its own sees them (-1: no handshake).
int TicketsSentBy(int port, const TransportSecurity& client) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_use_certificate_chain_file(ctx, client.cert_file.c_str());
  SSL_CTX_use_PrivateKey_file(ctx, client.key_file.c_str(), SSL_FILETYPE_PEM);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT);
  static int tickets;  // the callback's count; one client at a time
  tickets = 0;
  SSL_CTX_sess_set_new_cb(ctx, [](SSL*, SSL_SESSION*) {
    ++tickets;
    return 0;  // not kept
  });
  static const unsigned char kH2[] = {2, 'h', '2'};
  SSL_CTX_set_alpn_protos(ctx, kH2, sizeof(kH2));
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval wait{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof(wait));
  int result = -1;
  if (connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) == 0) {
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) == 1) {
      // The server's HTTP/2 SETTINGS follow its tickets, if it sends any:
      // once they are read, every ticket has been.
      char frame[64];
      if (SSL_read(ssl, frame, sizeof(frame)) > 0) result = tickets;
    }
    SSL_free(ssl);
  }
  close(fd);
  SSL_CTX_free(ctx);
  return result;
}

// No client of evnet resumes a TLS session, so its servers send none of the
// tickets OpenSSL would send after every handshake (tls_settings.h): a
// third of central's CPU per handshake when a herd of monitors comes back.
TEST_F(TransportSecurityTest, AServerSendsNoSessionTickets) {
  Serve(TransportSecurity::FromDir(Dir(), "cp", "CP-001"));
  const TransportSecurity client = TransportSecurity::FromDir(Dir(), "cp", "CP-002");
  EXPECT_EQ(TicketsSentBy(server_->port(), client), 0);
  // Through OpenSSL's configuration, which every server context takes.
  SSL_CTX* plain_server = SSL_CTX_new(TLS_server_method());
  EXPECT_EQ(SSL_CTX_get_num_tickets(plain_server), 0u) << "every context in the process";
  SSL_CTX_free(plain_server);
  // And the calls of the network still work as before.
  EXPECT_TRUE(CallAs(client, "CP-001.cp.evnet").ok());
}

}  // namespace
}  // namespace evnet

namespace evnet {
namespace {

TEST_F(TransportSecurityTest, AChannelMadeBeforeItsServerListensConnectsOnceItDoes) {
  // Reserve a port by starting and stopping a plaintext server on it.
  int port;
  {
    WhoCalled unused;
    auto probe = *GrpcServer::Start({"127.0.0.1:0", {&unused}});
    port = probe->port();
    probe->Shutdown();
  }
  const std::string address = absl::StrCat("127.0.0.1:", port);
  auto channel = MakeChannel(address, TransportSecurity::FromDir(Dir(), "operator", "bob"),
                             "central.central.evnet", absl::Seconds(5));
  EXPECT_EQ(Call(channel).error_code(), grpc::StatusCode::UNAVAILABLE);
  absl::StatusOr<std::unique_ptr<GrpcServer>> server = GrpcServer::Start(
      {address, {&service_}, TransportSecurity::FromDir(Dir(), "central", "central")});
  ASSERT_TRUE(server.ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  grpc::Status status;
  do {
    status = Call(channel);
  } while (!status.ok() && absl::Now() < deadline);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

// Anyone who reaches the port may open a connection and say nothing: the
// server closes it once the handshake takes longer than its limit, instead
// of holding it (gRPC's default is two minutes).
TEST_F(TransportSecurityTest, AConnectionThatNeverShakesHandsIsClosed) {
  GrpcServerOptions options{"127.0.0.1:0", {&service_},
                            TransportSecurity::FromDir(Dir(), "cp", "CP-001")};
  options.handshake_timeout = absl::Seconds(1);
  absl::StatusOr<std::unique_ptr<GrpcServer>> server = GrpcServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons((*server)->port());
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)), 0);
  timeval wait{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof(wait));
  const absl::Time opened = absl::Now();
  char byte;
  const ssize_t got = recv(fd, &byte, 1, 0);
  const absl::Duration held = absl::Now() - opened;
  close(fd);
  EXPECT_EQ(got, 0) << "the silent connection was not closed";
  EXPECT_LT(held, absl::Seconds(8));
}

}  // namespace
}  // namespace evnet
