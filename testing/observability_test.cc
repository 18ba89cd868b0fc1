// Central's HTTP side on a running network: /healthz and /readyz for probes,
// /metrics in valid Prometheus text whose numbers agree with the operator
// API, and the dashboard's state, stream and stop / resume endpoints.
#include <signal.h>

#include <map>
#include <regex>
#include <sstream>

#include "absl/strings/numbers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "central/operator_auth.h"
#include "testing/network.h"

namespace evnet::test {
namespace {

using ::testing::HasSubstr;

// name{labels} -> value, checking that every line is valid exposition format.
std::map<std::string, double> ParseMetrics(const std::string& text) {
  static const std::regex comment(R"(^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$)");
  static const std::regex sample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*")*\})?) (-?[0-9.e+-]+)$)");
  std::map<std::string, double> values;
  std::istringstream lines(text);
  std::string line;
  std::smatch match;
  while (std::getline(lines, line)) {
    if (std::regex_match(line, comment)) continue;
    if (!std::regex_match(line, match, sample)) {
      ADD_FAILURE() << "not Prometheus text: '" << line << "'";
      continue;
    }
    double value = 0;
    EXPECT_TRUE(absl::SimpleAtod(match[4].str(), &value)) << line;
    values[match[1].str()] = value;
  }
  return values;
}

std::map<std::string, double> Scrape(httplib::Client& http) {
  auto response = http.Get("/metrics");
  if (!response || response->status != 200) {
    ADD_FAILURE() << "GET /metrics failed";
    return {};
  }
  return ParseMetrics(response->body);
}

TEST(ObservabilityTest, ProbesMetricsAndDashboardAgreeWithTheOperatorApi) {
  auto net = Network::Start({CpSpec{22, 0.30, absl::Seconds(3)}, CpSpec{}});
  ASSERT_TRUE(net.ok()) << net.status();
  Network& n = **net;
  // This test's own client writes to connections central may close (a body
  // too large); cpp-httplib does not ask the kernel to spare it SIGPIPE.
  signal(SIGPIPE, SIG_IGN);
  std::unique_ptr<httplib::Client> dashboard = n.Dashboard();
  httplib::Client& http = *dashboard;
  http.set_read_timeout(5, 0);

  auto healthz = http.Get("/healthz");
  ASSERT_TRUE(healthz);
  EXPECT_EQ(healthz->status, 200);
  EXPECT_TRUE(WaitFor([&] {
    auto readyz = http.Get("/readyz");
    return readyz && readyz->status == 200;
  }, absl::Seconds(15)));

  std::map<std::string, double> metrics = Scrape(http);
  EXPECT_EQ(metrics["evnet_charging_points{status=\"active\"}"], 2);
  EXPECT_EQ(metrics["evnet_charging_points{status=\"broken\"}"], 0);
  EXPECT_EQ(metrics["evnet_monitors_connected"], 2);

  // A session and a rejection show up in the counters and in the API alike.
  ASSERT_TRUE(n.StartDriver("driver-alice", {"CP-001", "CP-404"}).ok());
  ASSERT_EQ(n.updates().WaitFor("driver-alice", v1::UPDATE_KIND_REJECTED, 1, absl::Seconds(40)).size(), 1u);
  ASSERT_TRUE(WaitFor([&] {
    auto m = Scrape(http);
    return m["evnet_sessions_completed_total{reason=\"unplugged\"}"] == 1 &&
           m["evnet_requests_total{outcome=\"rejected\",reason=\"unknown_cp\"}"] == 1;
  }, absl::Seconds(10)));
  metrics = Scrape(http);
  EXPECT_EQ(metrics["evnet_requests_total{outcome=\"accepted\",reason=\"\"}"], 1);
  EXPECT_EQ(metrics["evnet_request_accept_seconds_count"], 1);
  EXPECT_EQ(metrics["evnet_sessions_running"], 0);
  EXPECT_EQ(n.Sessions().size(), 1u);

  // Nothing but the probes without an operator's login.
  auto anonymous = http.Get("/api/state");
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401);
  auto anonymous_stop = http.Post("/api/stop?cp=CP-002", "", "text/plain");
  ASSERT_TRUE(anonymous_stop);
  EXPECT_EQ(anonymous_stop->status, 401);
  auto wrong = http.Post("/api/login", httplib::Params{{"name", Network::kOperator},
                                                       {"password", "guess"}});
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  auto login = http.Post("/api/login", httplib::Params{{"name", Network::kOperator},
                                                       {"password", Network::kOperatorPassword}});
  ASSERT_TRUE(login);
  ASSERT_EQ(login->status, 200) << login->body;
  const std::string cookie = login->get_header_value("Set-Cookie");
  EXPECT_THAT(cookie, HasSubstr("HttpOnly"));
  EXPECT_THAT(cookie, HasSubstr("SameSite=Strict"));
  EXPECT_THAT(cookie, HasSubstr("Secure"));  // served over HTTPS only
  const std::string session = cookie.substr(0, cookie.find(';'));
  http.set_default_headers({{"Cookie", session}});

  // The dashboard's stop goes through the operator API: the API sees it.
  // It carries the CSRF token the dashboard read from /api/state.
  auto initial = http.Get("/api/state");
  ASSERT_TRUE(initial);
  ASSERT_EQ(initial->status, 200) << initial->body;
  const std::string key = "\"csrf\":\"";
  const size_t at = initial->body.find(key);
  ASSERT_NE(at, std::string::npos) << initial->body;
  const std::string csrf =
      initial->body.substr(at + key.size(), initial->body.find('"', at + key.size()) - at - key.size());
  EXPECT_EQ(csrf.size(), 64u);  // HMAC-SHA256 of the session, hex
  http.set_default_headers({{"Cookie", session}, {"X-CSRF-Token", csrf}});

  // Refused without the token, or from another site's page; nothing changes.
  {
    std::unique_ptr<httplib::Client> bare = n.Dashboard();
    bare->set_default_headers({{"Cookie", session}});
    auto no_token = bare->Post("/api/stop?cp=CP-002", "", "text/plain");
    ASSERT_TRUE(no_token);
    EXPECT_EQ(no_token->status, 403);
    EXPECT_THAT(no_token->body, HasSubstr("CSRF token"));
    auto cross_site = http.Post("/api/stop?all=1", {{"Origin", "https://evil.example"}}, "",
                                "text/plain");
    ASSERT_TRUE(cross_site);
    EXPECT_EQ(cross_site->status, 403);
    EXPECT_THAT(cross_site->body, HasSubstr("cross-site request refused"));
    auto huge = http.Post("/api/stop?cp=CP-002", std::string(100 * 1024, 'x'), "text/plain");
    ASSERT_TRUE(huge);
    EXPECT_EQ(huge->status, 413);
    EXPECT_EQ(n.Status("CP-002"), v1::CP_STATUS_ACTIVE);
  }

  auto stopped = http.Post("/api/stop?cp=CP-002", "", "text/plain");
  ASSERT_TRUE(stopped);
  EXPECT_EQ(stopped->status, 200) << stopped->body;
  EXPECT_EQ(n.Status("CP-002"), v1::CP_STATUS_STOPPED);
  EXPECT_TRUE(WaitFor([&] { return Scrape(http)["evnet_charging_points{status=\"stopped\"}"] == 1; },
                      absl::Seconds(5)));
  auto unknown = http.Post("/api/stop?cp=CP-404", "", "text/plain");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_THAT(unknown->body, HasSubstr("CP-404 is not a known charging point"));
  auto resumed = http.Post("/api/resume?all=1", "", "text/plain");
  ASSERT_TRUE(resumed);
  EXPECT_EQ(resumed->status, 200);
  EXPECT_TRUE(n.WaitForStatus("CP-002", v1::CP_STATUS_ACTIVE, absl::Seconds(5)));

  auto state = http.Get("/api/state");
  ASSERT_TRUE(state);
  EXPECT_THAT(state->body, HasSubstr("\"cpId\":\"CP-001\""));
  EXPECT_THAT(state->body, HasSubstr("\"events\":["));
  auto page = http.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_THAT(page->body, HasSubstr("<script src=\"app.js\"></script>"));

  // The live stream sends the state at once.
  std::string first_event;
  http.Get("/api/stream", [&](const char* data, size_t length) {
    first_event.append(data, length);
    return first_event.find("\n\n") == std::string::npos;
  });
  EXPECT_THAT(first_event, HasSubstr("data: {\"cps\":"));
  // That reader went away mid-stream, like a closed browser tab: central's
  // next write to it fails, and central goes on.
  EXPECT_FALSE(WaitFor([&] { return !n.process("central")->Running(); }, absl::Seconds(4)))
      << n.LogOf("central");
  EXPECT_TRUE(http.Get("/healthz"));

  // Guessing passwords: after 5 failures from this address, not even the
  // right one is tried for a while.
  for (int i = 0; i < LoginThrottle::kMaxFailures; ++i) {
    auto guess = http.Post("/api/login", httplib::Params{{"name", Network::kOperator},
                                                         {"password", "guess"}});
    ASSERT_TRUE(guess);
    EXPECT_EQ(guess->status, 401);
  }
  auto throttled = http.Post("/api/login", httplib::Params{{"name", Network::kOperator},
                                                           {"password", Network::kOperatorPassword}});
  ASSERT_TRUE(throttled);
  EXPECT_EQ(throttled->status, 429);
  EXPECT_THAT(throttled->body, HasSubstr("failed logins from 127.0.0.1"));
  EXPECT_EQ(throttled->get_header_value("Retry-After"), "60");
  // A name no operator can have is refused before any hashing, and the
  // audit log never carries it as it came.
  auto forged_line = http.Post("/api/login", httplib::Params{{"name", "eve\nAUDIT admin done"},
                                                             {"password", "x"}});
  ASSERT_TRUE(forged_line);
  EXPECT_EQ(forged_line->status, 400);
  EXPECT_TRUE(WaitFor(
      [&] {
        for (const v1::AuditRecord& r : n.Audit()) {
          if (r.target() == "(not an operator name)") return true;
        }
        return false;
      },
      absl::Seconds(10)));
  for (const v1::AuditRecord& r : n.Audit()) {
    EXPECT_EQ(r.target().find('\n'), std::string::npos) << r.ShortDebugString();
  }
}

}  // namespace
}  // namespace evnet::test
