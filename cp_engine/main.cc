// cp_engine: the charger of one CP. Serves EngineService to its monitor,
// supplies on its own once started, publishes telemetry and results to Kafka.
#include <unistd.h>

#include <iostream>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/flags.h"
#include "common/kafka/kafka_conf.h"
#include "common/trust/transport_security.h"
#include "cp_engine/cp_engine.h"
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
  CpEngineOptions options;
  options.engine.info.set_cp_id(cp_id);
  options.engine.info.set_location(absl::GetFlag(FLAGS_location));
  options.engine.info.set_power_kw(absl::GetFlag(FLAGS_power_kw));
  options.engine.info.set_price_eur_per_kwh(absl::GetFlag(FLAGS_price_eur_per_kwh));
  options.engine.session_duration = absl::GetFlag(FLAGS_session_duration);
  options.engine.state_dir = absl::GetFlag(FLAGS_state_dir);
  if (options.engine.state_dir.empty() && !cp_id.empty()) {
    options.engine.state_dir = DefaultStateDir(cp_id);
  }
  options.listen = absl::GetFlag(FLAGS_listen);
  options.health_listen = absl::GetFlag(FLAGS_health_listen);
  options.kafka_bootstrap = absl::GetFlag(FLAGS_kafka_bootstrap);
  options.simulation = absl::GetFlag(FLAGS_simulation);
  const std::string tag = absl::StrCat("CP_E:", cp_id);
  absl::StatusOr<TransportSecurity> security = TransportSecurityFromFlags(tag);
  if (!security.ok()) {
    LOG(ERROR) << tag << " | " << security.status().message();
    return 2;
  }
  options.security = *security;
  if (!security->insecure) {
    // The same certificate proves to Kafka that an engine writes.
    ConfigureKafkaTls({security->ca_file, security->cert_file, security->key_file}, tag);
  }
  absl::StatusOr<std::unique_ptr<CpEngine>> engine = CpEngine::Start(std::move(options));
  if (!engine.ok()) {
    LOG(ERROR) << tag << " | " << engine.status().message();
    return 2;
  }
  if (absl::GetFlag(FLAGS_simulation) && isatty(STDIN_FILENO)) {
    // Reads until EOF; left running at exit, as nothing waits on stdin.
    std::thread(ReadKeys, std::ref((*engine)->engine())).detach();
  }
  const int signal = WaitForShutdownSignal();
  LOG(INFO) << tag << " | Shutting down (signal " << signal << ")";
  engine->reset();
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
