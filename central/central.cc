#include "central/central.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "central/cp_status.h"
#include "central/cp_table.h"
#include "common/grpc/grpc_channel.h"
#include "common/clock.h"
#include "common/files.h"
#include "common/trust/handshake_audit.h"
#include "common/trust/tls_settings.h"
#include "common/kafka/kafka_conf.h"
#include "glog/logging.h"

namespace evnet {
namespace {

// Central's consumers are caught up when fewer messages than this wait: a
// second of a busy network's telemetry, behind which no result waits long.
constexpr int64_t kCaughtUpLag = 1000;

}  // namespace

absl::StatusOr<std::unique_ptr<Central>> Central::Start(const CentralOptions& options) {
  // Before any of its threads makes a TLS context (tls_settings.h); a
  // failure is logged there, once.
  UseEvnetTlsSettings().IgnoreError();
  KafkaProducerOptions kafka;
  kafka.bootstrap_servers = options.kafka_bootstrap;
  kafka.client_id = "central";
  // Central starts again with a new producer instead (Sweep), its state
  // rebuilt from Kafka.
  kafka.replace_when_fatal = false;
  // Called from gRPC callbacks (registrations, audit records): a full queue
  // is an error at once, never a wait there.
  kafka.queue_full_wait = absl::ZeroDuration();
  absl::StatusOr<std::unique_ptr<KafkaProducer>> producer = KafkaProducer::Create(kafka);
  if (!producer.ok()) return producer.status();
  KafkaTransactionsOptions decisions;
  decisions.bootstrap_servers = options.kafka_bootstrap;
  decisions.client_id = "central-decisions";
  // One central per network: a new one fences the one it replaces.
  decisions.transactional_id = "evnet-central";
  absl::StatusOr<std::unique_ptr<KafkaTransactions>> transactions =
      KafkaTransactions::Create(decisions);
  if (!transactions.ok()) return transactions.status();
  std::unique_ptr<Central> central(
      new Central(options, *std::move(producer), *std::move(transactions)));
  // Handshakes gRPC refuses (no certificate of the CA, an expired one,
  // plaintext) are on the audit log too.
  if (!options.security.insecure) AuditRefusedHandshakes(&central->audit_, "central");
  std::string no_books = "central keeps no books (no --books database)";
  if (!options.books_database.empty()) {
    books::LedgerSinkOptions sink;
    sink.bootstrap_servers = options.kafka_bootstrap;
    sink.kafka = options.consumer_properties;
    sink.database = options.books_database;
    absl::StatusOr<std::unique_ptr<books::Books>> opened =
        books::Books::Start(std::move(sink), &central->dead_letters_);
    if (opened.ok()) {
      central->books_ = *std::move(opened);
    } else {
      // Central runs the network without them; the books are asked of it
      // again at its next start.
      no_books = absl::StrCat("the books at ", books::SqlConnection::Describe(options.books_database),
                              " cannot be opened: ", opened.status().message());
      LOG(ERROR) << "Central | " << no_books;
    }
  }
  central->books_service_ = std::make_unique<BooksServiceImpl>(
      central->books_.get(), no_books, central->access_, central->audit_);
  GrpcServerOptions grpc;
  grpc.address = options.listen;
  grpc.services = {&central->service_, central->books_service_.get()};
  grpc.security = options.security;
  grpc.max_streams_per_connection = kMonitorLinksPerConnection;
  // Monitors (and OCPP gateways, with their chargers' certificates) and
  // operators call central; drivers and gateways speak to it over Kafka.
  grpc.admitted_roles = {kRoleCp, kRoleOperator};
  // As long as a monitor waits for it (kCentralConnectTimeout): after a
  // restart, a herd's handshakes queue behind each other.
  grpc.handshake_timeout = kCentralConnectTimeout;
  grpc.name = "Central";
  grpc.on_refused_handshake = [audit = &central->audit_](const std::string& holder,
                                                         const std::string& why) {
    audit->RecordRetriedRefusal({holder, "unknown"}, "tls.handshake", "central", why);
  };
  absl::StatusOr<std::unique_ptr<GrpcServer>> server = GrpcServer::Start(grpc);
  if (!server.ok()) return server.status();
  central->server_ = *std::move(server);
  KafkaBridgeOptions bridge;
  bridge.bootstrap_servers = options.kafka_bootstrap;
  bridge.consumer_properties = options.consumer_properties;
  bridge.clock = options.clock;
  bridge.startup_grace = options.startup_grace;
  // The longest dedupe window, and a little more for what was in flight.
  const CoordinatorOptions& c = options.coordinator;
  bridge.ledger_window =
      std::max(c.request_ttl + 2 * c.clock_skew, c.result_dedupe_window) + absl::Seconds(10);
  bridge.verify_results = !options.security.insecure;
  bridge.decisions_ready = [c = central.get()] { return c->transactions_->Started(); };
  bridge.revocations = &central->revocations_;
  bridge.id_tokens = &central->core_.id_tokens;
  bridge.commit = [c = central.get()](std::vector<KafkaRecord> records, Done done) {
    c->transactions_->Commit(std::move(records), std::move(done));
  };
  if (central->kafka_authenticates_) {
    absl::StatusOr<std::string> ca = ReadFile(options.security.ca_file);
    if (!ca.ok()) return ca.status();
    bridge.kafka_ca_pem = *std::move(ca);
  }
  central->bridge_ = std::make_unique<KafkaBridge>(
      bridge,
      central->registry_, central->store_, central->enrolments_, central->driver_keys_,
      central->coordinator_,
      central->dead_letters_,
      central->audit_);
  if (options.http_port >= 0) {
    HttpServerOptions http;
    http.clock = options.clock;
    if (!options.operator_credentials.empty()) {
      absl::StatusOr<std::string> key =
          options.session_key_file.empty()
              ? absl::StatusOr<std::string>(OperatorAuth::RandomSessionKey())
              : OperatorAuth::LoadSessionKey(options.session_key_file);
      if (!key.ok()) return key.status();
      if (options.session_key_file.empty()) {
        LOG(WARNING) << "Central | No --session_key_file: operators' dashboard sessions end "
                        "when central restarts";
      }
      absl::StatusOr<std::unique_ptr<OperatorAuth>> operators =
          OperatorAuth::FromFile(options.operator_credentials, *key);
      if (!operators.ok()) return operators.status();
      central->operators_ = *std::move(operators);
      http.auth = central->operators_.get();
    } else {
      LOG(WARNING) << "Central | No --operator_credentials: nobody can log in, so the dashboard "
                      "shows nothing (the probes and /metrics are served)";
    }
    http.port = options.http_port;
    http.probe_port = options.probe_port;
    http.max_streams = options.dashboard_streams;
    http.trusted_proxies = options.trusted_proxies;
    if (options.dashboard_tls) {
      http.tls_cert_file = options.security.cert_file;
      http.tls_key_file = options.security.key_file;
    }
    http.static_dir = options.dashboard_dir;
    http.ready = [c = central.get()] { return c->ready(); };
    http.metrics = [c = central.get()] { return c->RenderMetrics(); };
    http.ready_notes = [c = central.get()] { return c->BooksNote(); };
    http.charts = [c = central.get()] { return c->ChartsJson(); };
    http.tickets = [c = central.get()](const v1::ListTicketsRequest& request, const Actor& by) {
      return c->books_service_->List(request, by);
    };
    absl::StatusOr<std::unique_ptr<HttpServer>> started = HttpServer::Start(
        std::move(http), central->registry_, central->service_, central->events_);
    if (!started.ok()) return started.status();
    central->http_ = *std::move(started);
  }
  central->sweeper_ =
      std::make_unique<Ticker>(absl::Milliseconds(200), [c = central.get()] { c->Sweep(); });
  LOG(INFO) << "Central | Serving CentralService on " << WithPort(options.listen, central->port())
            << "; Kafka at " << options.kafka_bootstrap << "; dashboard on http port "
            << central->http_port() << ", probes also on port " << central->probe_port();
  return central;
}

Central::Central(const CentralOptions& options, std::unique_ptr<KafkaProducer> producer,
                 std::unique_ptr<KafkaTransactions> transactions)
    : options_(options),
      kafka_authenticates_(!CurrentKafkaTls().cert_file.empty()),
      producer_(std::move(producer)),
      transactions_(std::move(transactions)),
      dead_letters_(*producer_, "Central", *options.clock),
      audit_(*producer_, "Central", *options.clock),
      driver_keys_([producer = producer_.get()](const v1::DriverKey& key) {
        SaveDriverKey(*producer, key);
      }, *options.clock),
      // Where Kafka authenticates, drivers' updates are sealed to their keys.
      publisher_(*producer_, *transactions_, kafka_authenticates_ ? &driver_keys_ : nullptr),
      store_(*producer_),
      enrolment_store_(*producer_),
      id_token_store_(*producer_),
      core_({options.monitor_timeout, absl::Seconds(10), options.coordinator,
             options.security.insecure, options.clock},
            {publisher_, store_, enrolment_store_, id_token_store_,
             [producer = producer_.get()](const v1::RevokedCertificate& record, Done done) {
               SaveRevocation(*producer, record, std::move(done));
             },
             audit_}) {}

Central::~Central() {
  AuditRefusedHandshakes(nullptr, "central");
  if (sweeper_ != nullptr) sweeper_->Stop();
  http_.reset();
  bridge_.reset();
  service_.CloseWatches();
  if (server_ != nullptr) server_->Shutdown();
  // Its sink sets malformed records aside with the producer.
  books_service_.reset();
  books_.reset();
  // Decisions still queued are committed (or failed), and records still on
  // their way delivered (their reports finish stops and resumes), while the
  // coordinator and service their callbacks run in are alive; members go in
  // reverse order after this.
  transactions_.reset();
  producer_.reset();
}

std::string Central::RenderMetrics() const {
  Metrics::Gauges gauges;
  for (const auto& [status, count] : registry_.CountByStatus()) gauges.cps_by_status[status] = count;
  gauges.monitors_connected = hub_.Connected();
  gauges.sessions_running = coordinator_.RunningSessions();
  gauges.kafka_consumer_lag = bridge_->consumer_lag();
  gauges.ready = ready();
  gauges.kafka_delivery_failures = producer_->FailedDeliveries();
  gauges.set_aside_by_topic = dead_letters_.Counts();
  if (books_ != nullptr) {
    const books::LedgerSinkStatus status = books_->Status();
    gauges.books = true;
    gauges.books_records = status.booked;
    gauges.books_database_up = status.database.ok();
    gauges.books_ledger_read = status.reading.ok();
  }
  return metrics_.Render(gauges);
}

std::string Central::BooksNote() const {
  // A word only: /readyz is for anyone who reaches the probe port; why is
  // in the log and on /metrics.
  if (books_ == nullptr) return "books: none\n";
  const books::LedgerSinkStatus status = books_->Status();
  if (!status.database.ok()) return "books: behind (the database, retried)\n";
  if (!status.reading.ok()) return "books: behind (the ledger, retried)\n";
  return "books: following the ledger\n";
}

std::string Central::ChartsJson() const {
  const absl::Time now = options_.clock->Now();
  {
    absl::MutexLock lock(&charts_mu_);
    if (now - charts_at_ < absl::Seconds(10)) return charts_;
  }
  std::string json = MakeChartsJson(now);
  absl::MutexLock lock(&charts_mu_);
  charts_at_ = now;
  charts_ = json;
  return json;
}

std::string Central::MakeChartsJson(absl::Time now) const {
  // Central's time, so that the page draws on its clock, not the browser's.
  std::string json =
      absl::StrCat("{\"now\":", absl::ToUnixSeconds(now), ",\"power\":", power_.Json());
  if (books_ == nullptr) return json + ",\"books\":false}";
  // The last day: the hour now begun and the 23 before it.
  const absl::Time hour = absl::FromUnixSeconds(absl::ToUnixSeconds(now) / 3600 * 3600);
  const absl::Time from = hour - absl::Hours(23), to = hour + absl::Hours(1);
  absl::StatusOr<std::vector<books::Total>> hours =
      books_->Totals(books::By::kNetwork, books::Per::kHour, from, to, 24);
  absl::StatusOr<std::vector<books::Total>> cps =
      books_->Totals(books::By::kCp, books::Per::kAll, now - absl::Hours(24), now, 50000);
  if (!hours.ok() || !cps.ok()) {
    return absl::StrCat(json, ",\"books\":", JsonString(!hours.ok() ? hours.status().message()
                                                                    : cps.status().message()),
                        "}");
  }
  absl::StrAppend(&json, ",\"books\":true,\"hours\":[");
  for (size_t i = 0; i < hours->size(); ++i) {
    const books::Total& t = (*hours)[i];
    absl::StrAppendFormat(&json,
                          "%s{\"hour\":%s,\"sessions\":%d,\"energyWh\":%d,\"amountCents\":%d}",
                          i > 0 ? "," : "", JsonString(t.period), t.sessions, t.energy_wh,
                          t.amount_cents);
  }
  // Utilisation: the energy a CP gave over the day, of what it could have
  // given at its power all day long.
  std::map<std::string, double> power_kw;
  for (const v1::ChargingPoint& cp : registry_.List()) {
    power_kw[cp.info().cp_id()] = cp.info().power_kw();
  }
  absl::StrAppend(&json, "],\"cps\":[");
  bool first = true;
  for (const books::Total& t : *cps) {
    auto kw = power_kw.find(t.key);
    const double capacity_wh = kw == power_kw.end() ? 0 : kw->second * 24 * 1000;
    absl::StrAppendFormat(&json, "%s{\"cpId\":%s,\"sessions\":%d,\"energyWh\":%d,\"utilisation\":%.4f}",
                          first ? "" : ",", JsonString(t.key), t.sessions, t.energy_wh,
                          capacity_wh > 0 ? t.energy_wh / capacity_wh : 0.0);
    first = false;
  }
  return json + "]}";
}

absl::Status Central::failure() const {
  if (absl::Status fatal = transactions_->Fatal(); !fatal.ok()) return fatal;
  return producer_->Fatal();
}

void Central::Sweep() {
  if (absl::Status failed = failure(); !failed.ok() && !shutting_down_) {
    shutting_down_ = true;
    LOG(ERROR) << "Central | " << failed.message()
               << "; shutting down so that central starts again with a new producer";
    kill(getpid(), SIGTERM);  // to WaitForShutdownSignal in main
  }
  for (const StatusChange& change : registry_.Sweep()) {
    coordinator_.OnStatusChange(change);
    events_.Add(options_.clock->Now(), absl::StrCat(change.cp_id, " is ", StatusName(change.to)));
  }
  hub_.ExpireCommands();
  ++sweeps_;
  if (sweeps_ % 5 == 0 && bridge_->ready()) {  // every second, once state is rebuilt
    // A backlog of results may still close what looks orphaned.
    const int64_t lag = bridge_->consumer_lag();
    coordinator_.Reconcile(registry_.Reports(), lag >= 0 && lag < kCaughtUpLag);
  }
  if (sweeps_ % 25 == 0) coordinator_.Prune();  // every 5 s
  if (sweeps_ % 50 == 1) {  // every 10 s, from the first sweep on
    double kw = 0;
    for (const v1::ChargingPoint& cp : registry_.List()) {
      if (cp.status() == v1::CP_STATUS_SUPPLYING) kw += cp.supply().power_kw();
    }
    power_.Sample(options_.clock->Now(), kw);
  }
  if (!options_.print_table) return;
  const uint64_t version = registry_.version();
  if (version == printed_version_) return;
  printed_version_ = version;
  std::string table = RenderCpTable(registry_.List(), options_.color);
  if (table == last_table_) return;
  last_table_ = table;
  std::cout << table << std::endl;
}

}  // namespace evnet
