// Central's HTTP side: the operator's live dashboard (static files plus a
// server-sent event stream of the network's state), stop / resume through
// the same operator API as gRPC, and the endpoints Kubernetes and Prometheus
// scrape: /healthz, /readyz, /metrics.
//
// Threads: each server has a fixed pool; an open /api/stream holds one of
// the dashboard's for as long as it is open, so streams are capped below the
// pool's size, and the probes can have a port and a pool of their own
// (`probe_port`) that no dashboard, and no slow client of the dashboard's
// port, can take.
#ifndef EVNET_CENTRAL_HTTP_SERVER_H_
#define EVNET_CENTRAL_HTTP_SERVER_H_

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "central/central_service.h"
#include "central/client_address.h"
#include "central/operator_auth.h"
#include "central/registry.h"
#include "common/clock.h"
#include "evnet/v1/books.pb.h"

namespace httplib {
class Server;
struct Request;
}

namespace evnet {

// The latest events worth showing an operator (faults, recoveries,
// registrations), newest last.
class EventFeed {
 public:
  void Add(absl::Time at, std::string text);
  // JSON array of {"at": RFC 3339, "text": ...}.
  std::string Json() const;

 private:
  static constexpr size_t kKept = 30;
  mutable absl::Mutex mu_;
  std::deque<std::pair<absl::Time, std::string>> events_ ABSL_GUARDED_BY(mu_);
};

// A JSON string literal of `text` (control characters but newline dropped),
// for the JSON the dashboard's routes write by hand.
std::string JsonString(absl::string_view text);

struct HttpServerOptions {
  // Now() for sessions and logins, Steady() for a stream's pace; never null.
  const Clock* clock = &SystemClock::Get();
  std::string host = "0.0.0.0";
  int port = 8080;            // 0 picks a free one
  std::string static_dir;     // index.html, app.js, style.css
  std::function<bool()> ready;              // /readyz
  // Lines /readyz adds about what central's readiness does not wait for
  // (the books); may be empty.
  std::function<std::string()> ready_notes;
  // The books' tickets, one page (BooksServiceImpl::List), for the History
  // page and its CSV download; unset: the page says there are no books.
  std::function<absl::StatusOr<v1::ListTicketsResponse>(const v1::ListTicketsRequest&,
                                                        const Actor&)>
      tickets;
  // The dashboard's charts as JSON (Central::ChartsJson); unset: none.
  std::function<std::string()> charts;
  std::function<std::string()> metrics;     // /metrics
  // /api/stream sends the state at most this often, and at least each
  // `stream_heartbeat` when nothing changed.
  absl::Duration stream_min_interval = absl::Milliseconds(250);
  absl::Duration stream_heartbeat = absl::Seconds(1);
  // The operators who may log in (not owned). Without it the dashboard is
  // read-only: its state is shown, stop and resume are refused (401).
  const OperatorAuth* auth = nullptr;
  // Larger request bodies are refused (413).
  size_t max_body_bytes = 64 * 1024;
  // Dashboards streaming at once; more are refused (503, Retry-After).
  int max_streams = 8;
  // The dashboard's threads besides the streams': API calls, files, probes.
  int spare_threads = 8;
  // /healthz, /readyz and /metrics also on this port, in plain HTTP on
  // `host`, with two threads of their own; 0 picks a free one, -1: not.
  int probe_port = -1;
  // HTTPS with this certificate and key (read once, at start), and the
  // session cookie marked Secure; empty: plain HTTP.
  std::string tls_cert_file;
  std::string tls_key_file;
  // Reverse proxies whose X-Forwarded-For names the client (for the login
  // throttle and the audit log); none by default.
  TrustedProxies trusted_proxies;
};

class HttpServer {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      HttpServerOptions options, Registry& registry, CentralServiceImpl& service,
      const EventFeed& events);
  // The same routes on `server`, which is not bound to any port: for
  // feeding them requests that do not come from a socket (the fuzzer).
  static std::unique_ptr<HttpServer> Unbound(HttpServerOptions options, Registry& registry,
                                             CentralServiceImpl& service, const EventFeed& events,
                                             std::unique_ptr<httplib::Server> server);
  ~HttpServer();

  int port() const { return port_; }
  int probe_port() const { return probe_port_; }

 private:
  HttpServer() = default;
  // Every route, by group: probes, login, state, operator actions, and
  // the dashboard's files.
  void AddRoutes();
  void AddLoginRoutes(httplib::Server& server);
  void AddStateRoutes(httplib::Server& server);
  void AddOperatorRoutes(httplib::Server& server);
  void AddBooksRoutes(httplib::Server& server);
  // /healthz, /readyz and /metrics on `server`.
  void AddProbeRoutes(httplib::Server& server);
  // Binds `server` to `port` on options_.host (0: any free one): the port,
  // or UNAVAILABLE.
  absl::StatusOr<int> Bind(httplib::Server& server, int port);
  // Serves the bound `server` on the thread returned, once it listens.
  static std::thread Listen(httplib::Server& server);
  // The network's state; `csrf` is the token of the session that reads it.
  std::string StateJson(const std::string& csrf) const;
  // The operator's session of a request (its cookie), or UNAUTHENTICATED
  // (always, without operators configured).
  absl::StatusOr<std::string> Session(const httplib::Request& req) const;
  // For a request that reads the state: the CSRF token its page will send
  // back ("" without operators), or UNAUTHENTICATED.
  absl::StatusOr<std::string> ReaderCsrf(const httplib::Request& req) const;
  // OK unless the request carries another site's Origin.
  absl::Status CheckOrigin(const httplib::Request& req) const;
  // The request's client (its peer, or whom a trusted proxy names), and
  // where it came from as the audit log says it ("client via proxy:port").
  std::string Client(const httplib::Request& req) const;
  std::string Source(const httplib::Request& req) const;
  // OK when a state-changing request comes from the dashboard itself: no
  // foreign Origin, and the CSRF token of `session`.
  absl::Status CheckSameSite(const httplib::Request& req, const std::string& session) const;

  HttpServerOptions options_;
  Registry* registry_ = nullptr;
  CentralServiceImpl* service_ = nullptr;
  LoginThrottle login_throttle_;  // logins that did not succeed
  static constexpr int kMaxHashing = 2;
  std::atomic<int> hashing_{0};  // logins hashing a password now
  std::atomic<int> streams_{0};   // open /api/stream answers
  std::atomic<int> operating_{0};  // /api/operate answers waiting for a charger
  // CSV downloads going out, each a thread's until its last page.
  std::shared_ptr<std::atomic<int>> downloading_ = std::make_shared<std::atomic<int>>(0);
  std::atomic<int> charting_{0};  // /api/charts answers being made
  const EventFeed* events_ = nullptr;
  std::unique_ptr<httplib::Server> server_;
  int port_ = 0;
  std::thread thread_;
  std::unique_ptr<httplib::Server> probe_server_;
  int probe_port_ = -1;
  std::thread probe_thread_;
};

// Where the dashboard's files are: next to the binary in its runfiles.
std::string DefaultDashboardDir(const char* argv0);

}  // namespace evnet

#endif  // EVNET_CENTRAL_HTTP_SERVER_H_
