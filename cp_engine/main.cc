// cp_engine: the charger of one CP. Serves EngineService to its monitor,
// supplies on its own once started, publishes telemetry and results to Kafka.
#include <unistd.h>

#include <iostream>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/clock.h"
#include "common/flags.h"
#include "common/grpc_server.h"
#include "common/kafka_conf.h"
#include "common/kafka_producer.h"
#include "common/transport_security.h"
#include "common/peer_identity.h"
#include "common/ticker.h"
#include "cp_engine/charging_engine.h"
#include "cp_engine/engine_service.h"
#include "cp_engine/kafka_publisher.h"
#include "glog/logging.h"

ABSL_FLAG(std::string, cp_id, "CP-001", "id of this charging point (env CP_ID)");
ABSL_FLAG(std::string, location, "", "where the CP is, shown to operators (env CP_LOCATION)");
ABSL_FLAG(double, power_kw, 22.0, "power the engine supplies, in kW (env POWER_KW)");
ABSL_FLAG(double, price_eur_per_kwh, 0.30, "price per kWh in EUR (env PRICE_EUR_PER_KWH)");
ABSL_FLAG(std::string, listen, "127.0.0.1:50061",
          "address of EngineService; only the CP's monitor calls it (env ENGINE_LISTEN)");
ABSL_FLAG(std::string, health_listen, "",
          "where to serve grpc.health.v1.Health (plaintext, nothing else) for probes, e.g. "
          "0.0.0.0:50072, while EngineService stays on --listen; empty: nowhere "
          "(env HEALTH_LISTEN)");
ABSL_FLAG(std::string, kafka_bootstrap, "127.0.0.1:9092", "Kafka brokers (env KAFKA_BOOTSTRAP)");
ABSL_FLAG(std::string, state_dir, "",
          "folder for the session journal, this user's alone (env STATE_DIR); default "
          "~/.local/state/evnet/<cp_id>");
ABSL_FLAG(bool, simulation, false,
          "accept Simulate (fault, unplug) over gRPC and from the keyboard; for tests and "
          "demonstrations, never in production (env ENGINE_SIMULATION)");
ABSL_FLAG(absl::Duration, session_duration, absl::Seconds(10),
          "when the simulated driver unplugs, unless a request says otherwise "
          "(env SESSION_DURATION)");

namespace evnet {
namespace {

// The keys of the system this replaces, one per line on an interactive stdin.
void ReadKeys(ChargingEngine& engine) {
  std::cout << "keys: u = unplug the car, k = simulate KO, o = back to OK\n" << std::flush;
  std::string line;
  while (std::getline(std::cin, line)) {
    v1::SimulateRequest request;
    if (line == "u") request.set_action(v1::SIMULATE_ACTION_UNPLUG);
    else if (line == "k") request.set_action(v1::SIMULATE_ACTION_FAULT);
    else if (line == "o") request.set_action(v1::SIMULATE_ACTION_RECOVER);
    else {
      std::cout << "unknown key '" << line << "': u, k or o\n" << std::flush;
      continue;
    }
    absl::StatusOr<v1::SimulateResponse> done = engine.Simulate(request);
    if (!done.ok()) std::cout << done.status() << "\n" << std::flush;
  }
}

int Main() {
  const std::string cp_id = absl::GetFlag(FLAGS_cp_id);
  if (cp_id.empty()) {
    LOG(ERROR) << "--cp_id is empty";
    return 2;
  }
  if (absl::GetFlag(FLAGS_power_kw) <= 0 || absl::GetFlag(FLAGS_price_eur_per_kwh) < 0) {
    LOG(ERROR) << "--power_kw must be positive and --price_eur_per_kwh not negative";
    return 2;
  }
  EngineOptions options;
  options.info.set_cp_id(cp_id);
  options.info.set_location(absl::GetFlag(FLAGS_location));
  options.info.set_power_kw(absl::GetFlag(FLAGS_power_kw));
  options.info.set_price_eur_per_kwh(absl::GetFlag(FLAGS_price_eur_per_kwh));
  options.session_duration = absl::GetFlag(FLAGS_session_duration);
  options.state_dir = absl::GetFlag(FLAGS_state_dir);
  if (options.state_dir.empty()) options.state_dir = DefaultStateDir(cp_id);

  absl::StatusOr<TransportSecurity> security =
      TransportSecurityFromFlags(absl::StrCat("CP_E:", cp_id));
  if (!security.ok()) {
    LOG(ERROR) << "CP_E:" << cp_id << " | " << security.status().message();
    return 2;
  }
  if (!security->insecure) {
    if (absl::Status own = CheckOwnCertificate(security->cert_file, kRoleCp, cp_id); !own.ok()) {
      LOG(ERROR) << "CP_E:" << cp_id << " | " << own.message();
      return 2;
    }
    // The same certificate proves to Kafka that an engine writes.
    ConfigureKafkaTls({security->ca_file, security->cert_file, security->key_file},
                      absl::StrCat("CP_E:", cp_id));
  }
  KafkaProducerOptions kafka;
  kafka.bootstrap_servers = absl::GetFlag(FLAGS_kafka_bootstrap);
  kafka.client_id = absl::StrCat("cp-engine-", cp_id);
  // Past the producer's own retries: a result still silent then lost its report.
  options.result_delivery_timeout = kafka.delivery_timeout + absl::Minutes(1);
  absl::StatusOr<std::unique_ptr<KafkaProducer>> producer = KafkaProducer::Create(kafka);
  if (!producer.ok()) {
    LOG(ERROR) << producer.status();
    return 2;
  }
  KafkaEventPublisher publisher(**producer, security->insecure ? "" : security->key_file);
  ChargingEngine engine(options, SystemClock::Get(), publisher);
  if (absl::Status recovered = engine.Recover(); !recovered.ok()) {
    LOG(ERROR) << "CP_E:" << cp_id << " | cannot use the state dir: " << recovered;
    return 2;
  }

  const bool simulation = absl::GetFlag(FLAGS_simulation);
  EngineServiceImpl service(engine, {simulation, security->insecure, cp_id});
  absl::StatusOr<std::unique_ptr<GrpcServer>> server =
      GrpcServer::Start({absl::GetFlag(FLAGS_listen), {&service}, *security});
  if (!server.ok()) {
    LOG(ERROR) << "CP_E:" << cp_id << " | " << server.status();
    return 2;
  }
  // A probe can neither present a client certificate nor reach a loopback
  // address: it gets the standard health service alone, in plaintext.
  std::unique_ptr<GrpcServer> health;
  if (!absl::GetFlag(FLAGS_health_listen).empty()) {
    absl::StatusOr<std::unique_ptr<GrpcServer>> started =
        GrpcServer::Start({absl::GetFlag(FLAGS_health_listen), {}, TransportSecurity::Insecure()});
    if (!started.ok()) {
      LOG(ERROR) << "CP_E:" << cp_id << " | " << started.status();
      return 2;
    }
    health = *std::move(started);
  }
  LOG(INFO) << "CP_E:" << cp_id << " | Engine ready on "
            << WithPort(absl::GetFlag(FLAGS_listen), (*server)->port()) << ": "
            << options.info.power_kw() << " kW, " << options.info.price_eur_per_kwh()
            << " EUR/kWh, journal in " << options.state_dir
            << (simulation ? "; fault simulation ON (--simulation)" : "");

  Ticker ticker(absl::Seconds(1), [&engine, &publisher] {
    publisher.ReloadKey();
    engine.Tick();
  });
  if (simulation && isatty(STDIN_FILENO)) {
    // Reads until EOF; left running at exit, as nothing waits on stdin.
    std::thread(ReadKeys, std::ref(engine)).detach();
  }
  const int signal = WaitForShutdownSignal();
  LOG(INFO) << "CP_E:" << cp_id << " | Shutting down (signal " << signal << ")";
  ticker.Stop();
  (*server)->Shutdown();
  if (health != nullptr) health->Shutdown();
  if (absl::Status flushed = (*producer)->Flush(absl::Seconds(5)); !flushed.ok()) {
    LOG(WARNING) << "CP_E:" << cp_id << " | " << flushed << "; the journal keeps them";
  }
  // Closed while the engine lives: its delivery callbacks report to it.
  producer->reset();
  return 0;
}

}  // namespace
}  // namespace evnet

int main(int argc, char** argv) {
  evnet::InitProgram(argc, argv, "cp_engine: the charger of one charging point",
                     evnet::WithTransportSecurityEnv({{"cp_id", "CP_ID"},
                      {"location", "CP_LOCATION"},
                      {"power_kw", "POWER_KW"},
                      {"price_eur_per_kwh", "PRICE_EUR_PER_KWH"},
                      {"listen", "ENGINE_LISTEN"},
                      {"health_listen", "HEALTH_LISTEN"},
                      {"kafka_bootstrap", "KAFKA_BOOTSTRAP"},
                      {"state_dir", "STATE_DIR"},
                      {"session_duration", "SESSION_DURATION"},
                      {"simulation", "ENGINE_SIMULATION"}}));
  return evnet::Main();
}
