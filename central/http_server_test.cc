// The dashboard's HTTP side on a real socket (port 0): what anyone who
// reaches the port gets without logging in, and what their refusals cost the
// audit log.
#include "central/http_server.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "central/central_core.h"
#include "central/fakes.h"
#include "central/operator_auth.h"
#include "common/clock.h"
#include "common/trust/audit_log.h"
#include "gtest/gtest.h"
#include "httplib.h"

namespace evnet {
namespace {

// One operator, "fuzzop" (password "fuzz-password"), hashed with few iterations so
// that a login is cheap here.
constexpr char kOperators[] =
    "fuzzop:pbkdf2-sha256:1000:000102030405060708090a0b0c0d0e0f:"
    "93fedf7365a8351fb04499759ca8bca935d3aad55a15e1501b2ff0e652960a39\n";

class HttpServerTest : public ::testing::Test {
 protected:
  HttpServerTest()
      : audit_(clock_),
        core_({absl::Seconds(3), absl::Seconds(10), {}, /*insecure=*/true, &clock_},
              {updates_, store_, store_, store_,
               [](const v1::RevokedCertificate&, Done done) { done(absl::OkStatus()); }, audit_,
               &sender_}) {
    core_.registry.FinishRestore();
    core_.coordinator.FinishRestore();
    auth_ = *OperatorAuth::FromText(kOperators, std::string(32, 'k'));
    HttpServerOptions options;
    options.clock = &clock_;
    options.host = "127.0.0.1";
    options.port = 0;
    options.ready = [] { return true; };
    options.metrics = [] { return std::string(); };
    options.auth = auth_.get();
    // As behind an ingress on this host.
    options.trusted_proxies = *TrustedProxies::Parse("127.0.0.1");
    http_ = *HttpServer::Start(options, core_.registry, core_.service, events_);
    client_ = std::make_unique<httplib::Client>("127.0.0.1", http_->port());
    client_->set_read_timeout(5, 0);
  }

  std::vector<v1::AuditRecord> Refused() const {
    std::vector<v1::AuditRecord> refused;
    for (const v1::AuditRecord& r : audit_.records()) {
      if (r.result() == "refused") refused.push_back(r);
    }
    return refused;
  }

  FakeClock clock_;
  FakeCommandSender sender_;
  FakeUpdatePublisher updates_;
  FakeStore store_;
  MemoryAuditLog audit_;
  CentralCore core_;
  EventFeed events_;
  std::unique_ptr<OperatorAuth> auth_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(HttpServerTest, EveryApiRouteAnswers401WithoutALogin) {
  for (const char* path : {"/api/state", "/api/stream", "/api/tickets", "/api/charts"}) {
    httplib::Result got = client_->Get(path);
    ASSERT_TRUE(got) << path;
    EXPECT_EQ(got->status, 401) << path;
  }
  for (const char* path : {"/api/stop?cp=CP-001", "/api/resume?cp=CP-001", "/api/stop?all=1"}) {
    httplib::Result got = client_->Post(path);
    ASSERT_TRUE(got) << path;
    EXPECT_EQ(got->status, 401) << path;
  }
  httplib::Result wrong = client_->Post("/api/login", "name=fuzzop&password=guess",
                                        "application/x-www-form-urlencoded");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  // Forged or expired cookies are no better than none.
  httplib::Headers forged = {{"Cookie", "evnet_session=fuzzop.4102444800.00"}};
  httplib::Result with_forged = client_->Get("/api/state", forged);
  ASSERT_TRUE(with_forged);
  EXPECT_EQ(with_forged->status, 401);
}

// A charger's operation from the dashboard needs a login like a stop; its
// refusal is audited under the operation's name, or as invalid when no
// operation could have that name (no line of the log forged through it).
TEST_F(HttpServerTest, AnOperationWithoutALoginIsRefusedAndAuditedByItsName) {
  httplib::Result got = client_->Post("/api/operate?cp=OCPP-1&action=Reset&payload=%7B%7D");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 401);
  got = client_->Post("/api/operate?cp=OCPP-1&action=Reset%0AAUDIT%20fake&payload=%7B%7D");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 401);
  std::vector<v1::AuditRecord> refused = Refused();
  ASSERT_EQ(refused.size(), 2u);
  EXPECT_EQ(refused[0].action(), "charger.Reset");
  EXPECT_EQ(refused[0].target(), "OCPP-1");
  EXPECT_EQ(refused[1].action(), "charger.invalid");
}

TEST_F(HttpServerTest, RefusalsFromOutsideCannotFillTheAuditLog) {
  // A login under a new name each time and a stop of a new CP each time:
  // no two refusals alike, so none folds into another.
  for (int i = 0; i < 150; ++i) {
    ASSERT_TRUE(client_->Post("/api/login", absl::StrCat("name=guess-", i, "&password=x"),
                              "application/x-www-form-urlencoded"));
    ASSERT_TRUE(client_->Post(absl::StrCat("/api/stop?cp=CP-", 1000 + i)));
  }
  std::vector<v1::AuditRecord> refused = Refused();
  EXPECT_EQ(refused.size(), static_cast<size_t>(AuditLog::kBudgetPerWindow));
  // A minute later the first record says how many were left out.
  clock_.Advance(AuditLog::kRepeatWindow);
  ASSERT_TRUE(client_->Post("/api/stop?cp=CP-9"));
  refused = Refused();
  ASSERT_EQ(refused.size(), static_cast<size_t>(AuditLog::kBudgetPerWindow) + 1);
  EXPECT_EQ(refused.back().target(), "CP-9");
  EXPECT_TRUE(absl::StrContains(refused.back().reason(),
                                absl::StrCat("and ", 300 - AuditLog::kBudgetPerWindow,
                                             " more refusals of the dashboard")))
      << refused.back().reason();
}

TEST_F(HttpServerTest, BehindATrustedProxyEachClientIsThrottledOnItsOwn) {
  auto login_from = [&](const std::string& client, const std::string& name) {
    httplib::Result got = client_->Post("/api/login", {{"X-Forwarded-For", client}},
                                        absl::StrCat("name=", name, "&password=x"),
                                        "application/x-www-form-urlencoded");
    return got ? got->status : -1;
  };
  // One client guessing under many names is throttled...
  for (int i = 0; i < LoginThrottle::kMaxPerSource; ++i) {
    ASSERT_EQ(login_from("198.51.100.1", absl::StrCat("guess-", i)), 401) << i;
  }
  EXPECT_EQ(login_from("198.51.100.1", "fuzzop"), 429);
  // ...and another behind the same proxy is not.
  EXPECT_EQ(login_from("198.51.100.2", "fuzzop"), 401);
  // The audit log names the client and the proxy it came through.
  const std::vector<v1::AuditRecord> refused = Refused();
  ASSERT_FALSE(refused.empty());
  EXPECT_EQ(refused.back().source().rfind("198.51.100.2 via 127.0.0.1:", 0), 0u)
      << refused.back().source();
  // A client's own line, sent before the line its proxy added, is not
  // believed: mallory is still 198.51.100.1 however it names itself.
  httplib::Result spoofed = client_->Post(
      "/api/login", {{"X-Forwarded-For", "203.0.113.77"}, {"X-Forwarded-For", "198.51.100.1"}},
      "name=fuzzop&password=x", "application/x-www-form-urlencoded");
  ASSERT_TRUE(spoofed);
  EXPECT_EQ(spoofed->status, 429);
}

}  // namespace
}  // namespace evnet
