// Central's HTTP side on a running network: /healthz and /readyz for probes,
// /metrics in valid Prometheus text whose numbers agree with the operator
// API, and the dashboard's state, stream and stop / resume endpoints.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

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
  EXPECT_EQ(metrics["evnet_ready"], 1);
  EXPECT_EQ(metrics["evnet_kafka_delivery_failures_total"], 0);
  EXPECT_EQ(metrics["evnet_books_database_up"], 1);

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

// Open dashboards, and clients that connect and say nothing, hold the
// dashboard's threads; the probes, on a port and threads of their own, still
// answer at once, and a dashboard past --dashboard_streams is told to come
// back later.
TEST(ObservabilityTest, NoDashboardStarvesTheProbes) {
  constexpr int kStreams = 3;
  auto net = Network::Start({CpSpec{}}, {absl::StrCat("--dashboard_streams=", kStreams)});
  ASSERT_TRUE(net.ok()) << net.status();
  Network& n = **net;
  signal(SIGPIPE, SIG_IGN);
  std::unique_ptr<httplib::Client> http = n.Dashboard();
  auto login = http->Post("/api/login", httplib::Params{{"name", Network::kOperator},
                                                        {"password", Network::kOperatorPassword}});
  ASSERT_TRUE(login);
  ASSERT_EQ(login->status, 200) << login->body;
  const std::string cookie = login->get_header_value("Set-Cookie");
  const httplib::Headers session = {{"Cookie", cookie.substr(0, cookie.find(';'))}};

  // Opens a stream and reads it until `done`; true once it sent a state.
  std::atomic<bool> done{false};
  auto stream = [&](std::atomic<int>& streaming) {
    std::unique_ptr<httplib::Client> dashboard = n.Dashboard();
    bool counted = false;
    dashboard->Get("/api/stream", session, [&](const char* data, size_t length) {
      if (!counted && absl::string_view(data, length).find("data: {") != absl::string_view::npos) {
        counted = true;
        ++streaming;
      }
      return !done.load();
    });
  };
  std::atomic<int> streaming{0};
  std::vector<std::thread> dashboards;
  for (int i = 0; i < kStreams; ++i) dashboards.emplace_back([&] { stream(streaming); });
  ASSERT_TRUE(WaitFor([&] { return streaming.load() == kStreams; }, absl::Seconds(10)));

  // The status of one more stream, closed as soon as it answers, with its
  // Retry-After and body when refused.
  struct Answer {
    int status = 0;
    std::string retry_after;
    std::string body;
  };
  auto one_more = [&] {
    Answer answer;
    std::unique_ptr<httplib::Client> dashboard = n.Dashboard();
    dashboard->set_read_timeout(5, 0);
    dashboard->Get(
        "/api/stream", session,
        [&](const httplib::Response& response) {
          answer.status = response.status;
          answer.retry_after = response.get_header_value("Retry-After");
          return response.status != 200;
        },
        [&](const char* data, size_t length) {
          answer.body.append(data, length);
          return true;
        });
    return answer;
  };
  // One more is refused, not queued behind the others.
  Answer refused = one_more();
  EXPECT_EQ(refused.status, 503);
  EXPECT_EQ(refused.retry_after, "10");
  EXPECT_THAT(refused.body,
              HasSubstr(absl::StrCat("too many dashboards are open (", kStreams, ")")));

  // Forty clients connect to the dashboard's port and say nothing, holding
  // every thread it has left until they time out.
  std::vector<int> silent;
  for (int i = 0; i < 40; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(n.http_port());
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    silent.push_back(fd);
  }
  std::unique_ptr<httplib::Client> probes = n.Probes();
  probes->set_connection_timeout(1, 0);
  probes->set_read_timeout(1, 0);
  for (const char* path : {"/healthz", "/readyz", "/metrics"}) {
    const absl::Time asked = absl::Now();
    auto answer = probes->Get(path);
    ASSERT_TRUE(answer) << path << " did not answer within a second";
    EXPECT_EQ(answer->status, 200) << path;
    EXPECT_LT(absl::Now() - asked, absl::Seconds(1)) << path;
    if (std::string(path) == "/metrics") {
      EXPECT_THAT(answer->body, HasSubstr("evnet_charging_points{status=\"active\"} 1"));
    }
  }
  // The probe port serves nothing but the probes.
  auto state = probes->Get("/api/state", session);
  ASSERT_TRUE(state);
  EXPECT_EQ(state->status, 404);

  for (int fd : silent) close(fd);
  done = true;
  for (std::thread& dashboard : dashboards) dashboard.join();
  // Closed dashboards give their places back (central sees each one gone
  // at its next write, within a heartbeat).
  EXPECT_TRUE(WaitFor([&] { return one_more().status == 200; }, absl::Seconds(15)));
}

}  // namespace
}  // namespace evnet::test
