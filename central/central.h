// Central, assembled: the registry, the monitors' links, the session
// coordinator, the gRPC service and the Kafka bridge, with a sweep that
// re-derives statuses every 200 ms and reacts to their changes.
#ifndef EVNET_CENTRAL_CENTRAL_H_
#define EVNET_CENTRAL_CENTRAL_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "books/books.h"
#include "central/access.h"
#include "central/books_service.h"
#include "central/power_history.h"
#include "central/central_core.h"
#include "central/central_service.h"
#include "central/enrolments.h"
#include "central/coordinator.h"
#include "central/http_server.h"
#include "central/kafka_bridge.h"
#include "central/link_hub.h"
#include "central/metrics.h"
#include "central/operator_auth.h"
#include "central/registry.h"
#include "central/revocations.h"
#include "common/trust/audit_log.h"
#include "common/clock.h"
#include "common/kafka/dead_letters.h"
#include "common/grpc/grpc_server.h"
#include "common/kafka/kafka_producer.h"
#include "common/ticker.h"
#include "common/trust/transport_security.h"

namespace evnet {

struct CentralOptions {
  std::string listen = "0.0.0.0:50051";
  // Mutual TLS and who may do what (Access), or --insecure.
  TransportSecurity security;
  std::string kafka_bootstrap;
  // Further librdkafka properties of central's consumers of requests,
  // results and telemetry (tests on librdkafka's mock cluster, which holds
  // an empty fetch for all of fetch.wait.max.ms, shorten that wait).
  KafkaProperties consumer_properties;
  absl::Duration monitor_timeout = absl::Seconds(3);
  CoordinatorOptions coordinator;
  absl::Duration startup_grace = absl::Seconds(3);
  // Print the CP table to stdout when it changes, in colour or not.
  bool print_table = true;
  bool color = false;
  // The dashboard and /healthz, /readyz, /metrics; http_port -1 turns it off.
  int http_port = 8080;
  // /healthz, /readyz, /metrics on a port of their own that no dashboard can
  // starve (HttpServerOptions::probe_port); -1: not.
  int probe_port = -1;
  // Dashboards streaming the state at once (HttpServerOptions::max_streams).
  int dashboard_streams = 8;
  // Proxies whose X-Forwarded-For names the dashboard's client.
  TrustedProxies trusted_proxies;
  std::string dashboard_dir;
  // Who may log in to the dashboard (OperatorAuth's file); empty: nobody,
  // and the dashboard is read-only.
  std::string operator_credentials;
  // The dashboard's session key (OperatorAuth::LoadSessionKey; made when
  // missing); empty: a key for this run only.
  std::string session_key_file;
  // The dashboard over HTTPS with central's certificate (security's).
  bool dashboard_tls = false;
  // The operator's books (books/): the SQLite database the ledger is booked
  // into, made if absent; empty: central keeps no books.
  std::string books_database;
  // What every part of central reads the time from; never null.
  Clock* clock = &SystemClock::Get();
};

class Central {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Central>> Start(const CentralOptions& options);
  ~Central();

  int port() const { return server_->port(); }
  int http_port() const { return http_ == nullptr ? -1 : http_->port(); }
  int probe_port() const { return http_ == nullptr ? -1 : http_->probe_port(); }
  // Rebuilt, and able to write to Kafka.
  bool ready() const {
    return bridge_->ready() && producer_->Fatal().ok() && transactions_->Fatal().ok();
  }
  // Why central must stop and be started again (its Kafka producer failed
  // for good); OK while it can go on. Once not OK, central has asked itself
  // to shut down (SIGTERM), so that its supervisor restarts it.
  absl::Status failure() const;
  // What /readyz says of the books.
  std::string BooksNote() const;
  // The dashboard's charts (GET /api/charts): the network's power over the
  // last hour; from the books, sessions, energy and revenue per hour of the
  // last day and each CP's energy and utilisation over it.
  std::string ChartsJson() const;
  std::string MakeChartsJson(absl::Time now) const;
  // GET /metrics, as of now.
  std::string RenderMetrics() const;

 private:
  Central(const CentralOptions& options, std::unique_ptr<KafkaProducer> producer,
          std::unique_ptr<KafkaTransactions> transactions);
  void Sweep();

  const CentralOptions options_;
  // Kafka's clients prove who they are (TLS with certificates): then the
  // broker authorizes, requests are signed and updates sealed.
  const bool kafka_authenticates_;
  std::unique_ptr<KafkaProducer> producer_;
  // Central's decisions, each one transaction (DESIGN.md, "What billing
  // promises").
  std::unique_ptr<KafkaTransactions> transactions_;
  DeadLetters dead_letters_;
  KafkaAuditLog audit_;
  DriverKeys driver_keys_;
  KafkaUpdatePublisher publisher_;
  KafkaRegistryStore store_;
  KafkaEnrolmentStore enrolment_store_;
  KafkaIdTokenStore id_token_store_;
  CentralCore core_;
  // Its parts, by the names the rest of central uses.
  Enrolments& enrolments_ = core_.enrolments;
  Revocations& revocations_ = core_.revocations;
  Access& access_ = core_.access;
  Metrics& metrics_ = core_.metrics;
  Registry& registry_ = core_.registry;
  LinkHub& hub_ = core_.hub;
  SessionCoordinator& coordinator_ = core_.coordinator;
  CentralServiceImpl& service_ = core_.service;
  // Before the server, which calls into them until it shuts down.
  std::unique_ptr<books::Books> books_;
  PowerHistory power_;  // sampled on the sweep
  // The last ChartsJson, kept 10 s: however many dashboards ask, the books
  // are asked at most that often (but for two asking at once).
  mutable absl::Mutex charts_mu_;
  mutable absl::Time charts_at_ ABSL_GUARDED_BY(charts_mu_) = absl::InfinitePast();
  mutable std::string charts_ ABSL_GUARDED_BY(charts_mu_);
  std::unique_ptr<BooksServiceImpl> books_service_;
  std::unique_ptr<GrpcServer> server_;
  std::unique_ptr<KafkaBridge> bridge_;
  EventFeed events_;
  std::unique_ptr<OperatorAuth> operators_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<Ticker> sweeper_;
  // Owned by the sweeper's thread.
  uint64_t sweeps_ = 0;
  uint64_t printed_version_ = 0;
  bool shutting_down_ = false;
  std::string last_table_;
};

}  // namespace evnet

#endif  // EVNET_CENTRAL_CENTRAL_H_
