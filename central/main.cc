// central: the registry of charging points, the coordinator of charging
// sessions and the operator API of one evnet network.
#include <unistd.h>

#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "central/central.h"
#include "common/flags.h"
#include "common/kafka/kafka_conf.h"
#include "common/trust/transport_security.h"
#include "glog/logging.h"

ABSL_FLAG(int, grpc_port, 50051, "port of CentralService (env CENTRAL_GRPC_PORT)");
ABSL_FLAG(std::string, kafka_bootstrap, "127.0.0.1:9092", "Kafka brokers (env KAFKA_BOOTSTRAP)");
ABSL_FLAG(absl::Duration, monitor_timeout, absl::Seconds(3),
          "a CP whose monitor is silent this long shows DISCONNECTED (env MONITOR_TIMEOUT)");
ABSL_FLAG(absl::Duration, request_ttl, absl::Seconds(60),
          "requests that waited longer in Kafka are rejected as expired (env REQUEST_TTL)");
ABSL_FLAG(absl::Duration, clock_skew, absl::Minutes(2),
          "how far a driver's clock may be from central's; request ids are remembered for "
          "request_ttl + 2 x clock_skew (env CLOCK_SKEW)");
ABSL_FLAG(absl::Duration, result_dedupe_window, absl::Minutes(10),
          "how long a ticketed session id is remembered, so that a result delivered again "
          "is recognised as a copy (env RESULT_DEDUPE_WINDOW)");
ABSL_FLAG(absl::Duration, orphan_timeout, absl::Minutes(2),
          "a session whose healthy CP no longer runs it nor holds its result is closed with "
          "an audited zero ticket after this long (env ORPHAN_TIMEOUT)");
ABSL_FLAG(absl::Duration, unasked_grace, absl::Seconds(10),
          "a session a CP runs that no driver asked for is stopped once reported this long "
          "(env UNASKED_GRACE)");
ABSL_FLAG(absl::Duration, progress_interval, absl::Seconds(2),
          "how often drivers get progress of a running session (env PROGRESS_INTERVAL)");
ABSL_FLAG(absl::Duration, startup_grace, absl::Seconds(3),
          "after a start, how long monitors get to report before queued requests are "
          "served (env STARTUP_GRACE)");
ABSL_FLAG(bool, print_table, true, "print the CP table when it changes (env PRINT_TABLE)");
ABSL_FLAG(int, http_port, 8080,
          "port of the dashboard and /healthz, /readyz, /metrics; -1 turns them off "
          "(env CENTRAL_HTTP_PORT)");
ABSL_FLAG(int, probe_port, -1,
          "/healthz, /readyz and /metrics also on this port, in plain HTTP with threads of "
          "their own that no dashboard can take: for Kubernetes' probes and Prometheus; -1: "
          "not (env CENTRAL_PROBE_PORT)");
ABSL_FLAG(int, dashboard_streams, 8,
          "dashboards that may be open at once, each holding one of central's HTTP threads; "
          "more are told to try again (env DASHBOARD_STREAMS)");
ABSL_FLAG(std::string, trusted_proxies, "",
          "reverse proxies in front of the dashboard (an ingress), as addresses and networks "
          "separated by commas (10.42.0.0/16); the client their X-Forwarded-For names is the one "
          "the login throttle counts and the audit log records; from any other peer the header "
          "is ignored (env TRUSTED_PROXIES)");
ABSL_FLAG(std::string, operator_credentials, "",
          "file of the operators who may log in to the dashboard, one line each from "
          "`evctl operator NAME`; without it nobody can log in and the dashboard shows "
          "nothing (env OPERATOR_CREDENTIALS)");
ABSL_FLAG(std::string, session_key_file, "",
          "the dashboard's session key, this user's alone (0600), made when missing; replace it "
          "to end every session; empty: sessions end when central restarts (env "
          "SESSION_KEY_FILE)");
ABSL_FLAG(bool, dashboard_tls, false,
          "serve the dashboard, /healthz, /readyz and /metrics over HTTPS with central's "
          "certificate (--tls_cert); its session cookie is then Secure (env DASHBOARD_TLS)");
ABSL_FLAG(std::string, state_dir, "",
          "central's own folder: the dashboard's operators (`operators`, one line each from "
          "`evctl operator NAME`), its session key (`session-key`, made when missing) and the "
          "operator's books (`books.sqlite`); --operator_credentials, --session_key_file and "
          "--books name other files (env CENTRAL_STATE_DIR)");
ABSL_FLAG(std::string, books, "",
          "the operator's books, the database every session and ticket of the ledger is booked "
          "into, exactly once: a SQLite file (made when missing) or a PostgreSQL connection URI "
          "(postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=...]); default: "
          "books.sqlite in --state_dir; without either central keeps no books "
          "(env BOOKS_DATABASE)");
ABSL_FLAG(std::string, pki_dir, "",
          "the network's certificates as tools/pki/evpki lays them out: the same as --tls_ca="
          "DIR/ca.crt --tls_cert=DIR/central/central.crt --tls_key=DIR/central/central.key "
          "(env PKI_DIR)");
ABSL_FLAG(std::string, dashboard_dir, "",
          "the dashboard's files; default: beside the binary (env DASHBOARD_DIR)");

int main(int argc, char** argv) {
  evnet::InitProgram(argc, argv, "central: the control plane of an evnet charging network",
                     evnet::WithTransportSecurityEnv({{"grpc_port", "CENTRAL_GRPC_PORT"},
                      {"kafka_bootstrap", "KAFKA_BOOTSTRAP"},
                      {"monitor_timeout", "MONITOR_TIMEOUT"},
                      {"request_ttl", "REQUEST_TTL"},
                      {"clock_skew", "CLOCK_SKEW"},
                      {"result_dedupe_window", "RESULT_DEDUPE_WINDOW"},
                      {"orphan_timeout", "ORPHAN_TIMEOUT"},
                      {"unasked_grace", "UNASKED_GRACE"},
                      {"progress_interval", "PROGRESS_INTERVAL"},
                      {"startup_grace", "STARTUP_GRACE"},
                      {"print_table", "PRINT_TABLE"},
                      {"http_port", "CENTRAL_HTTP_PORT"},
                      {"probe_port", "CENTRAL_PROBE_PORT"},
                      {"dashboard_streams", "DASHBOARD_STREAMS"},
                      {"trusted_proxies", "TRUSTED_PROXIES"},
                      {"dashboard_dir", "DASHBOARD_DIR"},
                      {"dashboard_tls", "DASHBOARD_TLS"},
                      {"operator_credentials", "OPERATOR_CREDENTIALS"},
                      {"session_key_file", "SESSION_KEY_FILE"},
                      {"state_dir", "CENTRAL_STATE_DIR"},
                      {"books", "BOOKS_DATABASE"},
                      {"pki_dir", "PKI_DIR"}}));
  const int port = absl::GetFlag(FLAGS_grpc_port);
  if (port < 0 || port > 65535 || absl::GetFlag(FLAGS_monitor_timeout) <= absl::ZeroDuration() ||
      absl::GetFlag(FLAGS_request_ttl) <= absl::ZeroDuration() ||
      absl::GetFlag(FLAGS_clock_skew) < absl::ZeroDuration() ||
      absl::GetFlag(FLAGS_orphan_timeout) <= absl::ZeroDuration() ||
      absl::GetFlag(FLAGS_result_dedupe_window) <= absl::ZeroDuration() ||
      absl::GetFlag(FLAGS_unasked_grace) < absl::ZeroDuration()) {
    LOG(ERROR) << "--grpc_port must be 0-65535, --monitor_timeout, --request_ttl, "
                  "--result_dedupe_window and --orphan_timeout positive, --clock_skew and "
                  "--unasked_grace not negative";
    return 2;
  }
  absl::StatusOr<evnet::TransportSecurity> security = evnet::TransportSecurityFromFlags(
      "Central", absl::GetFlag(FLAGS_pki_dir), evnet::kRoleCentral, evnet::kCentralName);
  if (!security.ok()) {
    LOG(ERROR) << "Central | " << security.status().message();
    return 2;
  }
  // The same certificate proves who central is to Kafka.
  evnet::ConfigureKafkaTls(security->insecure ? evnet::KafkaTls{}
                                              : evnet::KafkaTls{security->ca_file,
                                                                security->cert_file,
                                                                security->key_file},
                           "Central");
  evnet::CentralOptions options;
  options.security = *security;
  options.dashboard_tls = absl::GetFlag(FLAGS_dashboard_tls);
  if (options.dashboard_tls && security->insecure) {
    LOG(ERROR) << "Central | --dashboard_tls needs central's certificate (--tls_cert), not "
                  "--insecure";
    return 2;
  }
  options.listen = absl::StrCat("0.0.0.0:", port);
  options.kafka_bootstrap = absl::GetFlag(FLAGS_kafka_bootstrap);
  options.monitor_timeout = absl::GetFlag(FLAGS_monitor_timeout);
  options.coordinator.request_ttl = absl::GetFlag(FLAGS_request_ttl);
  options.coordinator.progress_interval = absl::GetFlag(FLAGS_progress_interval);
  options.coordinator.clock_skew = absl::GetFlag(FLAGS_clock_skew);
  options.coordinator.orphan_timeout = absl::GetFlag(FLAGS_orphan_timeout);
  options.coordinator.result_dedupe_window = absl::GetFlag(FLAGS_result_dedupe_window);
  options.coordinator.unasked_grace = absl::GetFlag(FLAGS_unasked_grace);
  options.startup_grace = absl::GetFlag(FLAGS_startup_grace);
  options.print_table = absl::GetFlag(FLAGS_print_table);
  options.color = isatty(STDOUT_FILENO);
  options.http_port = absl::GetFlag(FLAGS_http_port);
  options.probe_port = absl::GetFlag(FLAGS_probe_port);
  options.dashboard_streams = absl::GetFlag(FLAGS_dashboard_streams);
  if (options.dashboard_streams < 1 || options.dashboard_streams > 1000) {
    LOG(ERROR) << "Central | --dashboard_streams " << options.dashboard_streams
               << " is not between 1 and 1000";
    return 2;
  }
  absl::StatusOr<evnet::TrustedProxies> proxies =
      evnet::TrustedProxies::Parse(absl::GetFlag(FLAGS_trusted_proxies));
  if (!proxies.ok()) {
    LOG(ERROR) << "Central | --trusted_proxies: " << proxies.status().message();
    return 2;
  }
  options.trusted_proxies = *std::move(proxies);
  if (options.probe_port >= 0 && options.http_port < 0) {
    LOG(ERROR) << "Central | --probe_port " << options.probe_port
               << " serves central's HTTP side, which --http_port=-1 turns off";
    return 2;
  }
  options.dashboard_dir = absl::GetFlag(FLAGS_dashboard_dir);
  options.operator_credentials = absl::GetFlag(FLAGS_operator_credentials);
  options.session_key_file = absl::GetFlag(FLAGS_session_key_file);
  if (const std::string dir = absl::GetFlag(FLAGS_state_dir); !dir.empty()) {
    // Without an operators file there, nobody logs in (as without the flag).
    if (options.operator_credentials.empty() && access((dir + "/operators").c_str(), F_OK) == 0) {
      options.operator_credentials = dir + "/operators";
    }
    if (options.session_key_file.empty()) options.session_key_file = dir + "/session-key";
  }
  options.books_database = absl::GetFlag(FLAGS_books);
  if (const std::string dir = absl::GetFlag(FLAGS_state_dir);
      options.books_database.empty() && !dir.empty()) {
    options.books_database = dir + "/books.sqlite";
  }
  if (options.dashboard_dir.empty()) options.dashboard_dir = evnet::DefaultDashboardDir(argv[0]);

  absl::StatusOr<std::unique_ptr<evnet::Central>> central = evnet::Central::Start(options);
  if (!central.ok()) {
    LOG(ERROR) << "Central | cannot start: " << central.status();
    return 1;
  }
  const int signal = evnet::WaitForShutdownSignal();
  const absl::Status failure = (*central)->failure();
  LOG(INFO) << "Central | Shutting down (signal " << signal << ")";
  central->reset();
  return failure.ok() ? 0 : 1;
}
