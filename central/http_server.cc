#include "central/http_server.h"

#include <unistd.h>

#include <algorithm>
#include <climits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/notification.h"
#include "books/ticket_format.h"
#include "central/charger_operations.h"
#include "common/json_codec.h"
#include "common/proto_time.h"
#include "common/validation.h"
#include "glog/logging.h"
#include "httplib.h"

namespace evnet {

std::string JsonString(absl::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      default:
        if (static_cast<unsigned char>(c) >= 0x20) out += c;
    }
  }
  return out + "\"";
}

namespace {

int HttpStatus(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    default:
      return 503;
  }
}

std::string ErrorJson(absl::string_view message) {
  return absl::StrCat("{\"error\":", JsonString(message), "}");
}

// Answers with `status`'s HTTP code and its message as JSON.
void Refuse(httplib::Response& res, const absl::Status& status) {
  res.status = HttpStatus(status);
  res.set_content(ErrorJson(status.message()), "application/json");
}

constexpr char kSessionCookie[] = "evnet_session";
// How long a person at the dashboard waits for a charger's answer.
constexpr absl::Duration kDashboardOperationTimeout = absl::Seconds(15);
constexpr int kDashboardOperations = 2;  // waiting for their chargers at once
// CSV downloads of the books at once: each holds an HTTP thread until its
// last page, and the dashboard's stop and login need theirs.
constexpr int kDashboardDownloads = 2;

// Whoever reaches the dashboard's port can be refused as often as they like
// (a login under a new name each time, a stop of any CP): all such refusals
// share one budget of the audit log, so that none of them can fill it.
constexpr char kDashboardBudget[] = "the dashboard";
constexpr char kOperatorsBudget[] = "the dashboard's logged-in operators";

// The value of cookie `name` in a Cookie header, or "".
std::string CookieValue(const std::string& header, absl::string_view name) {
  for (absl::string_view part : absl::StrSplit(header, ';')) {
    part = absl::StripAsciiWhitespace(part);
    if (absl::ConsumePrefix(&part, name) && absl::ConsumePrefix(&part, "=")) {
      return std::string(part);
    }
  }
  return "";
}

}  // namespace

void EventFeed::Add(absl::Time at, std::string text) {
  absl::MutexLock lock(&mu_);
  events_.emplace_back(at, std::move(text));
  while (events_.size() > kKept) events_.pop_front();
}

std::string EventFeed::Json() const {
  absl::MutexLock lock(&mu_);
  std::string out = "[";
  for (const auto& [at, text] : events_) {
    if (out.size() > 1) out += ",";
    absl::StrAppend(&out, "{\"at\":\"",
                    absl::FormatTime(absl::RFC3339_sec, at, absl::UTCTimeZone()),
                    "\",\"text\":", JsonString(text), "}");
  }
  return out + "]";
}

std::string HttpServer::StateJson(const std::string& csrf) const {
  v1::ListChargingPointsResponse cps;
  for (v1::ChargingPoint& cp : registry_->List()) *cps.add_charging_points() = std::move(cp);
  v1::ListSessionsResponse sessions;
  v1::ListSessionsRequest all;
  all.set_page_size(1000);
  service_->ListSessionsPage(all, &sessions);
  return absl::StrCat("{\"cps\":", ToJson(cps), ",\"sessions\":", ToJson(sessions),
                      ",\"events\":", events_->Json(), ",\"csrf\":", JsonString(csrf), "}");
}

absl::StatusOr<std::string> HttpServer::Session(const httplib::Request& req) const {
  if (options_.auth == nullptr) {
    return absl::UnauthenticatedError(
        "no operator can log in: central runs without --operator_credentials, so its dashboard "
        "shows nothing");
  }
  const std::string session = CookieValue(req.get_header_value("Cookie"), kSessionCookie);
  absl::StatusOr<std::string> who = options_.auth->Check(session, options_.clock->Now());
  if (!who.ok()) return who.status();
  return session;
}

absl::StatusOr<std::string> HttpServer::ReaderCsrf(const httplib::Request& req) const {
  absl::StatusOr<std::string> session = Session(req);
  if (!session.ok()) return session.status();
  return options_.auth->CsrfToken(*session);
}

absl::Status HttpServer::CheckOrigin(const httplib::Request& req) const {
  // Browsers send Origin with every POST; another site's page cannot hide
  // it, nor set our header without a CORS preflight, which is never granted.
  const std::string origin = req.get_header_value("Origin");
  const std::string host = req.get_header_value("Host");
  const char* scheme = options_.tls_cert_file.empty() ? "http://" : "https://";
  if (!origin.empty() && origin != scheme + host) {
    return absl::PermissionDeniedError(absl::StrCat(
        "cross-site request refused: Origin ", origin.substr(0, 100), " is not this dashboard"));
  }
  return absl::OkStatus();
}

absl::Status HttpServer::CheckSameSite(const httplib::Request& req,
                                       const std::string& session) const {
  if (absl::Status origin = CheckOrigin(req); !origin.ok()) return origin;
  if (!SameSecret(req.get_header_value("X-CSRF-Token"), options_.auth->CsrfToken(session))) {
    return absl::PermissionDeniedError(
        "missing or wrong CSRF token (X-CSRF-Token): reload the dashboard");
  }
  return absl::OkStatus();
}

std::unique_ptr<HttpServer> HttpServer::Unbound(HttpServerOptions options, Registry& registry,
                                                CentralServiceImpl& service,
                                                const EventFeed& events,
                                                std::unique_ptr<httplib::Server> server) {
  std::unique_ptr<HttpServer> http(new HttpServer());
  http->options_ = std::move(options);
  http->registry_ = &registry;
  http->service_ = &service;
  http->events_ = &events;
  http->server_ = std::move(server);
  http->AddRoutes();
  return http;
}

void HttpServer::AddProbeRoutes(httplib::Server& s) {
  HttpServer* self = this;
  s.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  s.Get("/readyz", [self](const httplib::Request&, httplib::Response& res) {
    const bool ready = self->options_.ready && self->options_.ready();
    res.status = ready ? 200 : 503;
    res.set_content(
        absl::StrCat(ready ? "ready\n" : "not ready: rebuilding from Kafka or Kafka unreachable\n",
                     self->options_.ready_notes ? self->options_.ready_notes() : ""),
        "text/plain");
  });
  s.Get("/metrics", [self](const httplib::Request&, httplib::Response& res) {
    res.set_content(self->options_.metrics ? self->options_.metrics() : "",
                    "text/plain; version=0.0.4");
  });
}

void HttpServer::AddRoutes() {
  httplib::Server& s = *server_;
  s.set_payload_max_length(options_.max_body_bytes);
  AddProbeRoutes(s);
  AddLoginRoutes(s);
  AddStateRoutes(s);
  AddOperatorRoutes(s);
  AddBooksRoutes(s);
  if (!options_.static_dir.empty() && !s.set_mount_point("/", options_.static_dir)) {
    LOG(WARNING) << "Central | no dashboard files in " << options_.static_dir;
  }
}

std::string HttpServer::Client(const httplib::Request& req) const {
  // Every X-Forwarded-For line, in order: a proxy may add a line of its
  // own rather than append to the client's.
  std::string forwarded;
  for (size_t i = 0; i < req.get_header_value_count("X-Forwarded-For"); ++i) {
    absl::StrAppend(&forwarded, forwarded.empty() ? "" : ",",
                    req.get_header_value("X-Forwarded-For", i));
  }
  return options_.trusted_proxies.ClientOf(req.remote_addr, forwarded);
}

std::string HttpServer::Source(const httplib::Request& req) const {
  const std::string peer = absl::StrCat(req.remote_addr, ":", req.remote_port);
  const std::string client = Client(req);
  return client == req.remote_addr ? peer : absl::StrCat(client, " via ", peer);
}

// Log in (a session cookie for an operator of the credentials file) and out.
void HttpServer::AddLoginRoutes(httplib::Server& s) {
  HttpServer* self = this;
  s.Post("/api/login", [self](const httplib::Request& req, httplib::Response& res) {
    const Actor by{"operator (dashboard)", self->Source(req)};
    const std::string client = self->Client(req);
    std::string name = req.get_param_value("name");
    absl::Status status = self->CheckOrigin(req);
    if (status.ok() && !ValidateId("operator name", name).ok()) {
      // Never hashed, never written as it came (a newline would forge a
      // line of the audit log where it is printed).
      name = "(not an operator name)";
      status = absl::InvalidArgumentError("not an operator name");
    }
    if (status.ok() && self->options_.auth == nullptr) {
      status = absl::UnauthenticatedError(
          "no operator can log in: central runs without --operator_credentials");
    }
    if (status.ok()) {
      status = self->login_throttle_.Attempt(client, name, self->options_.clock->Now());
    }
    // At most kMaxHashing PBKDF2 computations at once: each is half a
    // second of a core, and the server's threads are few.
    const bool counted = status.ok();
    if (counted && self->hashing_.fetch_add(1) >= kMaxHashing) {
      status = absl::ResourceExhaustedError("too many logins at once; try again");
    }
    absl::StatusOr<std::string> session =
        !status.ok() ? absl::StatusOr<std::string>(status)
                     : self->options_.auth->Login(name, req.get_param_value("password"),
                                                 self->options_.clock->Now());
    if (counted) self->hashing_.fetch_sub(1);
    if (session.ok()) {
      self->login_throttle_.Succeeded(client, name);
      self->service_->audit().Record(by, "operator.login", name, "done");
    } else {
      // Anyone who reaches the port may try: a bounded number of records.
      self->service_->audit().RecordBoundedRefusal(kDashboardBudget, by,
                                                   "operator.login", name,
                                                   std::string(session.status().message()));
    }
    if (absl::IsResourceExhausted(session.status())) res.set_header("Retry-After", "60");
    if (!session.ok()) return Refuse(res, session.status());
    // HttpOnly: no script reads it; SameSite=Strict: no other site's page
    // sends it; Secure: never sent in the clear (on HTTPS).
    res.set_header("Set-Cookie",
                   absl::StrCat(kSessionCookie, "=", *session,
                                "; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200",
                                self->options_.tls_cert_file.empty() ? "" : "; Secure"));
    res.set_content(absl::StrCat("{\"operator\":", JsonString(name), "}"), "application/json");
  });
  s.Post("/api/logout", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Set-Cookie", absl::StrCat(kSessionCookie,
                                              "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"));
    res.set_content("{}", "application/json");
  });
}

// The network's state, once or as a stream, for a logged-in operator only.
void HttpServer::AddStateRoutes(httplib::Server& s) {
  HttpServer* self = this;
  s.Get("/api/state", [self](const httplib::Request& req, httplib::Response& res) {
    absl::StatusOr<std::string> csrf = self->ReaderCsrf(req);
    if (!csrf.ok()) return Refuse(res, csrf.status());
    res.set_content(self->StateJson(*csrf), "application/json");
  });
  // Server-sent events: the whole state when it changed, at least each
  // heartbeat and at most once a min_interval (changes in between coalesce).
  s.Get("/api/stream", [self](const httplib::Request& req, httplib::Response& res) {
    absl::StatusOr<std::string> csrf = self->ReaderCsrf(req);
    if (!csrf.ok()) return Refuse(res, csrf.status());
    // Each stream holds one of the server's threads while it is open.
    if (self->streams_.fetch_add(1) >= self->options_.max_streams) {
      self->streams_.fetch_sub(1);
      res.set_header("Retry-After", "10");
      return Refuse(res, absl::UnavailableError(absl::StrCat(
                             "too many dashboards are open (", self->options_.max_streams,
                             "); close one, or try again")));
    }
    res.set_header("Cache-Control", "no-cache");
    auto seen = std::make_shared<uint64_t>(0);
    auto last = std::make_shared<absl::Time>(absl::InfinitePast());
    res.set_chunked_content_provider(
        "text/event-stream",
        [self, seen, last, csrf = *csrf](size_t, httplib::DataSink& sink) {
          const absl::Duration since = self->options_.clock->Steady() - *last;
          const absl::Duration min_interval = self->options_.stream_min_interval;
          if (since < min_interval) absl::SleepFor(min_interval - since);
          *seen = self->registry_->WaitForChange(*seen, self->options_.stream_heartbeat);
          *last = self->options_.clock->Steady();
          const std::string event = absl::StrCat("data: ", self->StateJson(csrf), "\n\n");
          return sink.write(event.data(), event.size());
        },
        [self](bool) { self->streams_.fetch_sub(1); });
  });
}

// Stop and resume, for a logged-in operator from the dashboard's own page.
void HttpServer::AddOperatorRoutes(httplib::Server& s) {
  HttpServer* self = this;
  auto operator_action = [self](bool stop) {
    return [self, stop](const httplib::Request& req, httplib::Response& res) {
      const Actor by{"operator (dashboard)", self->Source(req)};
      v1::StopChargingPointResponse cps;
      absl::StatusOr<std::string> session = self->Session(req);
      absl::Status status =
          session.ok() ? self->CheckSameSite(req, *session) : session.status();
      if (!status.ok()) {
        const std::string all = req.get_param_value("all") == "1" ? "all CPs" : "";
        // A logged-in operator's refusals (a foreign page, a missing CSRF
        // token) have a budget of their own: no outsider's flood hides them.
        self->service_->audit().RecordBoundedRefusal(
            session.ok() ? kOperatorsBudget : kDashboardBudget, by,
            stop ? "cp.stop" : "cp.resume",
            all.empty() ? req.get_param_value("cp").substr(0, 64) : all,
            std::string(status.message()));
      } else {
        status = self->service_->SetStoppedAndWait(req.get_param_value("cp"),
                                                   req.get_param_value("all") == "1", stop,
                                                   cps.mutable_charging_points(), by,
                                                   absl::Seconds(10));
      }
      if (!status.ok()) return Refuse(res, status);
      res.set_content(ToJson(cps), "application/json");
    };
  };
  s.Post("/api/stop", operator_action(true));
  s.Post("/api/resume", operator_action(false));
  // An OCPP charger's operation (cp, action, payload as OCPP's JSON): the
  // charger's answer, as central's OperateCharger gives it.
  s.Post("/api/operate", [self](const httplib::Request& req, httplib::Response& res) {
    const Actor by{"operator (dashboard)", self->Source(req)};
    v1::OperateChargerRequest request;
    request.set_cp_id(req.get_param_value("cp").substr(0, 64));
    request.set_action(req.get_param_value("action").substr(0, 40));
    request.set_payload_json(req.get_param_value("payload"));
    *request.mutable_timeout() = ToProto(kDashboardOperationTimeout);
    absl::StatusOr<std::string> session = self->Session(req);
    absl::Status status = session.ok() ? self->CheckSameSite(req, *session) : session.status();
    if (!status.ok()) {
      self->service_->audit().RecordBoundedRefusal(
          session.ok() ? kOperatorsBudget : kDashboardBudget, by, OperationAuditAction(request),
          request.cp_id(), std::string(status.message()));
      return Refuse(res, status);
    }
    // This HTTP thread waits for the charger, as long as the operation may
    // take and no longer; the answer may come later and find nobody. At
    // most kDashboardOperations wait at once, so that slow chargers never
    // take the threads the dashboard's stop needs.
    if (self->operating_.fetch_add(1) >= kDashboardOperations) {
      self->operating_.fetch_sub(1);
      return Refuse(res, absl::UnavailableError(
                             "other operations are still waiting for their chargers; try again"));
    }
    struct Counted {  // leaves the count on every way out
      std::atomic<int>& count;
      ~Counted() { count.fetch_sub(1); }
    } operating{self->operating_};
    struct Outcome {
      absl::Notification done;
      absl::StatusOr<std::string> answer;
    };
    auto outcome = std::make_shared<Outcome>();
    self->service_->Operate(request, by, [outcome](absl::StatusOr<std::string> answer) {
      outcome->answer = std::move(answer);
      outcome->done.Notify();
    });
    if (!outcome->done.WaitForNotificationWithTimeout(kDashboardOperationTimeout +
                                                      absl::Seconds(6))) {
      return Refuse(res, absl::DeadlineExceededError("no answer from the charger's gateway"));
    }
    if (!outcome->answer.ok()) return Refuse(res, outcome->answer.status());
    // As text: the page shows it as the charger gave it, and nothing in it
    // can change this response's shape.
    res.set_content(absl::StrCat(R"({"answer":)", JsonString(*outcome->answer), "}"),
                    "application/json");
  });
}

namespace {

// A History filter's day ("2026-11-30", from a date field) or time (RFC
// 3339). A day as the end of a range counts whole: up to the next midnight.
absl::Status ParseWhen(const std::string& text, bool end, v1::ListTicketsRequest& request) {
  if (text.empty()) return absl::OkStatus();  // not filtered on: the field stays unset
  absl::Time time;
  absl::CivilDay day;
  if (absl::ParseCivilTime(text, &day)) {
    time = absl::FromCivil(end ? day + 1 : day, absl::UTCTimeZone());
  } else if (!absl::ParseTime(absl::RFC3339_full, text, &time, nullptr)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text.substr(0, 40), "' is neither a day (2026-11-30) nor a time (",
                     "2026-11-30T12:00:00Z)"));
  }
  *(end ? request.mutable_end_time() : request.mutable_start_time()) = ToProto(time);
  return absl::OkStatus();
}

}  // namespace

// The books' tickets for the History page, a page of JSON at a time, or
// every page of them as one CSV download; for a logged-in operator.
void HttpServer::AddBooksRoutes(httplib::Server& s) {
  HttpServer* self = this;
  // The charts' figures, for a logged-in operator.
  s.Get("/api/charts", [self](const httplib::Request& req, httplib::Response& res) {
    absl::StatusOr<std::string> session = self->Session(req);
    if (!session.ok()) return Refuse(res, session.status());
    if (!self->options_.charts) return Refuse(res, absl::UnavailableError("no charts here"));
    // Two at once at most: the books may be slow, and the other routes
    // keep their threads.
    if (self->charting_.fetch_add(1) >= kDashboardDownloads) {
      self->charting_.fetch_sub(1);
      res.set_header("Retry-After", "5");
      return Refuse(res, absl::UnavailableError("the charts are being drawn for others; try again"));
    }
    res.set_content(self->options_.charts(), "application/json");
    self->charting_.fetch_sub(1);
  });
  s.Get("/api/tickets", [self](const httplib::Request& req, httplib::Response& res) {
    absl::StatusOr<std::string> session = self->Session(req);
    if (!session.ok()) return Refuse(res, session.status());
    if (!self->options_.tickets) {
      return Refuse(res, absl::UnavailableError("central keeps no books"));
    }
    const Actor by{"operator (dashboard)", self->Source(req)};
    v1::ListTicketsRequest request;
    request.set_driver_id(req.get_param_value("driver").substr(0, 64));
    request.set_cp_id(req.get_param_value("cp").substr(0, 64));
    absl::Status when = ParseWhen(req.get_param_value("from"), false, request);
    if (when.ok()) when = ParseWhen(req.get_param_value("to"), true, request);
    if (!when.ok()) return Refuse(res, when);
    request.set_page_token(req.get_param_value("page_token").substr(0, 1000));
    const bool csv = req.get_param_value("format") == "csv";
    if (csv) request.set_page_size(1000);
    absl::StatusOr<v1::ListTicketsResponse> first = self->options_.tickets(request, by);
    if (!first.ok()) return Refuse(res, first.status());
    if (!csv) return res.set_content(ToJson(*first), "application/json");
    // Every page, one after another, as the download goes; the count of
    // downloads is left when the response is done with, however it ends.
    if (self->downloading_->fetch_add(1) >= kDashboardDownloads) {
      self->downloading_->fetch_sub(1);
      res.set_header("Retry-After", "10");
      return Refuse(res, absl::UnavailableError(absl::StrCat(
                             "other downloads of the books are still going (",
                             kDashboardDownloads, "); try again")));
    }
    res.set_header("Content-Disposition", "attachment; filename=\"evnet-tickets.csv\"");
    auto page = std::make_shared<v1::ListTicketsResponse>(*std::move(first));
    res.set_chunked_content_provider(
        "text/csv",
        [self, request, by, page, header = true](size_t, httplib::DataSink& sink) mutable {
          std::string text;
          if (header) absl::StrAppend(&text, books::TicketHeader(true), "\r\n");
          header = false;
          for (const v1::Ticket& ticket : page->tickets()) {
            absl::StrAppend(&text, books::FormatTicket(ticket, true), "\r\n");
          }
          if (!sink.write(text.data(), text.size())) return false;
          if (page->next_page_token().empty()) {
            sink.done();
            return true;
          }
          request.set_page_token(page->next_page_token());
          absl::StatusOr<v1::ListTicketsResponse> next = self->options_.tickets(request, by);
          if (!next.ok()) return false;  // the download ends short, as a broken one
          *page = *std::move(next);
          return true;
        },
        [downloading = self->downloading_](bool) { downloading->fetch_sub(1); });
  });
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(HttpServerOptions options,
                                                              Registry& registry,
                                                              CentralServiceImpl& service,
                                                              const EventFeed& events) {
  std::unique_ptr<httplib::Server> server;
  if (options.tls_cert_file.empty()) {
    server = std::make_unique<httplib::Server>();
  } else {
    auto https = std::make_unique<httplib::SSLServer>(options.tls_cert_file.c_str(),
                                                      options.tls_key_file.c_str());
    if (!https->is_valid()) {
      return absl::InvalidArgumentError(absl::StrCat("cannot serve HTTPS with ",
                                                     options.tls_cert_file, " and ",
                                                     options.tls_key_file));
    }
    server = std::move(https);
  }
  const int threads = std::max(1, options.max_streams) + std::max(1, options.spare_threads);
  server->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  std::unique_ptr<HttpServer> http =
      Unbound(std::move(options), registry, service, events, std::move(server));
  absl::StatusOr<int> port = http->Bind(*http->server_, http->options_.port);
  if (!port.ok()) return port.status();
  http->port_ = *port;
  if (http->options_.probe_port >= 0) {
    http->probe_server_ = std::make_unique<httplib::Server>();
    http->probe_server_->new_task_queue = [] { return new httplib::ThreadPool(2); };
    http->AddProbeRoutes(*http->probe_server_);
    port = http->Bind(*http->probe_server_, http->options_.probe_port);
    if (!port.ok()) return port.status();
    http->probe_port_ = *port;
    http->probe_thread_ = Listen(*http->probe_server_);
  }
  http->thread_ = Listen(*http->server_);
  return http;
}

absl::StatusOr<int> HttpServer::Bind(httplib::Server& server, int port) {
  const int bound = port == 0 ? server.bind_to_any_port(options_.host)
                              : (server.bind_to_port(options_.host, port) ? port : -1);
  if (bound <= 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen for HTTP on ", options_.host, ":",
                                               port, ": is another program using the port?"));
  }
  return bound;
}

std::thread HttpServer::Listen(httplib::Server& server) {
  auto ended = std::make_shared<std::atomic<bool>>(false);
  std::thread thread([&server, ended] {
    if (!server.listen_after_bind()) LOG(ERROR) << "Central | an HTTP server stopped serving";
    ended->store(true);
  });
  // stop() does nothing to a server not yet listening: wait until it is, so
  // that the destructor always ends it (a few microseconds).
  while (!server.is_running() && !ended->load()) absl::SleepFor(absl::Microseconds(50));
  return thread;
}

HttpServer::~HttpServer() {
  for (httplib::Server* server : {server_.get(), probe_server_.get()}) {
    if (server != nullptr) server->stop();
  }
  if (thread_.joinable()) thread_.join();
  if (probe_thread_.joinable()) probe_thread_.join();
}

std::string DefaultDashboardDir(const char* argv0) {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  std::string binary = n > 0 ? std::string(exe, n) : std::string(argv0);
  for (const std::string& candidate :
       {binary + ".runfiles/evnet/central/dashboard", std::string(argv0) + ".runfiles/evnet/central/dashboard",
        std::string("central/dashboard")}) {
    if (access((candidate + "/index.html").c_str(), R_OK) == 0) return candidate;
  }
  return "";
}

}  // namespace evnet
