// The cp_engine program, assembled: the CP's ChargingEngine with its Kafka
// producer and publisher, EngineService on its port, the standard health
// service for probes, and a ticker that meters the supply every second.
// main.cc turns flags into CpEngineOptions and waits for a signal; tests
// start as many as they like in one process, on port 0.
//
// Threads: the ticker's (Tick, key reload), gRPC's (the service), the
// producer's (delivery reports into the engine), and with --simulation under
// mutual TLS the follower of the revoked certificates. All are stopped and joined
// by the destructor, in that order, before the engine goes.
#ifndef EVNET_CP_ENGINE_CP_ENGINE_H_
#define EVNET_CP_ENGINE_CP_ENGINE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/grpc/grpc_server.h"
#include "common/kafka/kafka_producer.h"
#include "common/ticker.h"
#include "common/trust/own_certificate.h"
#include "common/trust/revocation_list.h"
#include "common/trust/transport_security.h"
#include "cp_engine/charging_engine.h"
#include "cp_engine/engine_service.h"
#include "cp_engine/kafka_publisher.h"

namespace evnet {

struct CpEngineOptions {
  // The CP (info.cp_id, its power and price), its journal's folder, its
  // sessions' default length.
  EngineOptions engine;
  // EngineService; "127.0.0.1:0" picks a free port (port()).
  std::string listen = "127.0.0.1:50061";
  // grpc.health.v1.Health alone, in plaintext, for probes; empty: nowhere.
  std::string health_listen;
  std::string kafka_bootstrap = "127.0.0.1:9092";
  // Mutual TLS (the CP's certificate, whose key also signs results), or
  // insecure.
  TransportSecurity security = TransportSecurity::Insecure();
  // Accept Simulate (fault, unplug): for tests and demonstrations.
  bool simulation = false;
  absl::Duration tick = absl::Seconds(1);
  // Read for metering and timestamps; never null.
  Clock* clock = &SystemClock::Get();
};

class CpEngine {
 public:
  // Recovers the journal, then serves. Fails (and starts nothing) on an
  // unusable state folder, a port taken, or bad options.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<CpEngine>> Start(CpEngineOptions options);
  // Stops serving and ticking, flushes what Kafka has not taken yet (at
  // most 5 s; the journal keeps the rest), then closes.
  ~CpEngine();

  int port() const { return server_->port(); }
  ChargingEngine& engine() { return *engine_; }
  const std::string& cp_id() const { return options_.engine.info.cp_id(); }

 private:
  explicit CpEngine(CpEngineOptions options) : options_(std::move(options)) {}

  const CpEngineOptions options_;
  // Declared in the order they start; destroyed (after the destructor's
  // explicit stops) in reverse.
  std::unique_ptr<KafkaProducer> producer_;
  std::unique_ptr<KafkaEventPublisher> publisher_;
  std::unique_ptr<ChargingEngine> engine_;
  std::unique_ptr<OwnCertificate> own_certificate_;
  std::unique_ptr<RevocationList> revocations_;
  std::unique_ptr<RevocationFollower> revocation_follower_;
  std::unique_ptr<EngineServiceImpl> service_;
  std::unique_ptr<GrpcServer> server_;
  std::unique_ptr<GrpcServer> health_;
  std::unique_ptr<Ticker> ticker_;
};

}  // namespace evnet

#endif  // EVNET_CP_ENGINE_CP_ENGINE_H_
