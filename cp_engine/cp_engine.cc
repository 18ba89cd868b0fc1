#include "cp_engine/cp_engine.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/trust/peer_identity.h"
#include "glog/logging.h"

namespace evnet {

absl::StatusOr<std::unique_ptr<CpEngine>> CpEngine::Start(CpEngineOptions options) {
  const v1::ChargingPointInfo& info = options.engine.info;
  if (info.cp_id().empty()) return absl::InvalidArgumentError("the CP's id is empty");
  if (info.power_kw() <= 0 || info.price_eur_per_kwh() < 0) {
    return absl::InvalidArgumentError(
        "the power must be positive and the price per kWh not negative");
  }
  if (options.clock == nullptr) return absl::InvalidArgumentError("no clock");
  const std::string tag = absl::StrCat("CP_E:", info.cp_id());
  if (!options.security.insecure) {
    absl::Status own = CheckOwnCertificate(options.security.cert_file, kRoleCp, info.cp_id());
    if (!own.ok()) return own;
  }
  KafkaProducerOptions kafka;
  kafka.bootstrap_servers = options.kafka_bootstrap;
  kafka.client_id = absl::StrCat("cp-engine-", info.cp_id());
  // Past the producer's own retries: a result still silent then lost its report.
  options.engine.result_delivery_timeout = kafka.delivery_timeout + absl::Minutes(1);

  std::unique_ptr<CpEngine> cp(new CpEngine(std::move(options)));
  const CpEngineOptions& o = cp->options_;
  absl::StatusOr<std::unique_ptr<KafkaProducer>> producer = KafkaProducer::Create(kafka);
  if (!producer.ok()) return producer.status();
  cp->producer_ = *std::move(producer);
  cp->publisher_ = std::make_unique<KafkaEventPublisher>(
      *cp->producer_, o.security.insecure ? "" : o.security.key_file);
  cp->engine_ = std::make_unique<ChargingEngine>(o.engine, *o.clock, *cp->publisher_);
  if (absl::Status recovered = cp->engine_->Recover(); !recovered.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot use the state dir: ", recovered.message()));
  }
  if (!o.security.insecure) {
    cp->own_certificate_ = std::make_unique<OwnCertificate>(o.security.cert_file, *o.clock);
  }
  // Operators may simulate: the ones whose certificates were revoked may not.
  if (!o.security.insecure && o.simulation) {
    cp->revocations_ = std::make_unique<RevocationList>(tag);
    cp->revocation_follower_ = RevocationFollower::Start(
        o.kafka_bootstrap, absl::StrCat("evnet-engine-", cp->cp_id()), *cp->revocations_);
  }
  cp->service_ = std::make_unique<EngineServiceImpl>(
      *cp->engine_,
      EngineServiceImpl::Options{o.simulation, o.security.insecure, o.engine.info.cp_id(),
                                 cp->own_certificate_.get(), cp->revocations_.get()});
  GrpcServerOptions grpc;
  grpc.address = o.listen;
  grpc.services = {cp->service_.get()};
  grpc.security = o.security;
  // Its monitor, and operators simulating a fault (EngineServiceImpl says
  // which CP and which operators).
  grpc.admitted_roles = {kRoleCp, kRoleOperator};
  grpc.name = tag;
  absl::StatusOr<std::unique_ptr<GrpcServer>> server = GrpcServer::Start(grpc);
  if (!server.ok()) return server.status();
  cp->server_ = *std::move(server);
  // A probe can neither present a client certificate nor reach a loopback
  // address: it gets the standard health service alone, in plaintext.
  if (!o.health_listen.empty()) {
    absl::StatusOr<std::unique_ptr<GrpcServer>> health =
        GrpcServer::Start({o.health_listen, {}, TransportSecurity::Insecure()});
    if (!health.ok()) return health.status();
    cp->health_ = *std::move(health);
  }
  LOG(INFO) << tag << " | Engine ready on " << WithPort(o.listen, cp->port()) << ": "
            << o.engine.info.power_kw() << " kW, " << o.engine.info.price_eur_per_kwh()
            << " EUR/kWh, journal in " << o.engine.state_dir
            << (o.simulation ? "; fault simulation ON (--simulation)" : "");
  CpEngine* self = cp.get();
  cp->ticker_ = std::make_unique<Ticker>(o.tick, [self] {
    self->publisher_->ReloadKey();
    self->engine_->Tick();
  });
  return cp;
}

CpEngine::~CpEngine() {
  if (ticker_ != nullptr) ticker_->Stop();
  if (server_ != nullptr) server_->Shutdown();
  if (health_ != nullptr) health_->Shutdown();
  if (producer_ != nullptr) {
    if (absl::Status flushed = producer_->Flush(absl::Seconds(5)); !flushed.ok()) {
      LOG(WARNING) << "CP_E:" << cp_id() << " | " << flushed << "; the journal keeps them";
    }
    // Closed while the engine lives: its delivery callbacks report to it.
    producer_.reset();
  }
}

}  // namespace evnet
