// ocpp_gateway: OCPP 1.6J chargers join evnet. Each charger connected at
// wss://HOST:PORT/ocpp/<chargeBoxId> (ws:// under --insecure) is a CP to
// central (see gateway.h).
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/flags.h"
#include "common/kafka/kafka_conf.h"
#include "common/grpc/grpc_server.h"
#include "common/trust/transport_security.h"
#include "glog/logging.h"
#include "ocpp_gateway/charger_auth.h"
#include "ocpp_gateway/gateway.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:9000",
          "where chargers connect: wss://<listen>/ocpp/<chargeBoxId> (env OCPP_LISTEN)");
ABSL_FLAG(std::string, central_address, "127.0.0.1:50051", "central (env CENTRAL_ADDRESS)");
ABSL_FLAG(std::string, kafka_bootstrap, "127.0.0.1:9092", "Kafka brokers (env KAFKA_BOOTSTRAP)");
ABSL_FLAG(std::string, pki_dir, "",
          "a PKI folder of the gateway's: the network's ca.crt and cp/<chargeBoxId>.crt/.key "
          "of every charger this gateway may let in, never the CA's key (env PKI_DIR); "
          "required unless --insecure");
ABSL_FLAG(std::string, state_dir, "",
          "folder for each charger's transaction journal, this user's alone (env STATE_DIR); "
          "default ~/.local/state/evnet/ocpp_gateway");
ABSL_FLAG(std::string, charger_credentials, "",
          "chargers' passwords for OCPP security profile 2, lines <chargeBoxId>:sha256:<hex> "
          "(tools/ev add-ocpp writes them; env CHARGER_CREDENTIALS); chargers with a "
          "certificate (profile 3) need none");
ABSL_FLAG(std::string, location, "", "location of the chargers, shown to operators (env CP_LOCATION)");
ABSL_FLAG(double, power_kw, 22.0, "the chargers' power, in kW (env POWER_KW)");
ABSL_FLAG(double, price_eur_per_kwh, 0.30, "price per kWh in EUR (env PRICE_EUR_PER_KWH)");
ABSL_FLAG(int, heartbeat_interval, 60,
          "seconds between a charger's Heartbeats, told at BootNotification "
          "(env HEARTBEAT_INTERVAL)");

ABSL_FLAG(std::string, chargers, "",
          "the operator's chargers file: each charger's location, power and price, by "
          "chargeBoxId, over the flags above; followed as it is edited (env CHARGERS_FILE)");
ABSL_FLAG(bool, local_lists, true,
          "keep each charger's local authorization list up to date with drivers' cards "
          "(SendLocalList), so that it admits them offline (env LOCAL_LISTS)");
ABSL_FLAG(absl::Duration, meter_silence, absl::Minutes(5),
          "a transaction without a meter value this long is asked for one (TriggerMessage)");
ABSL_FLAG(absl::Duration, stop_grace, absl::Minutes(2),
          "a transaction whose charger shows its connector Available this long without "
          "sending its StopTransaction is closed, billed from its last meter reading");

namespace evnet {
namespace {

int Main() {
  ocpp::GatewayOptions options;
  options.listen = absl::GetFlag(FLAGS_listen);
  options.central_address = absl::GetFlag(FLAGS_central_address);
  options.state_dir = absl::GetFlag(FLAGS_state_dir);
  if (options.state_dir.empty()) options.state_dir = DefaultStateDir("ocpp_gateway");
  options.defaults.set_location(absl::GetFlag(FLAGS_location));
  options.defaults.set_power_kw(absl::GetFlag(FLAGS_power_kw));
  options.defaults.set_price_eur_per_kwh(absl::GetFlag(FLAGS_price_eur_per_kwh));
  options.heartbeat_interval_s = absl::GetFlag(FLAGS_heartbeat_interval);
  options.chargers_file = absl::GetFlag(FLAGS_chargers);
  options.local_lists = absl::GetFlag(FLAGS_local_lists);
  options.meter_silence = absl::GetFlag(FLAGS_meter_silence);
  options.stop_grace = absl::GetFlag(FLAGS_stop_grace);
  if (options.defaults.power_kw() <= 0 || options.defaults.price_eur_per_kwh() < 0 ||
      options.heartbeat_interval_s <= 0 || options.meter_silence < absl::Seconds(1) ||
      options.stop_grace < absl::Seconds(1)) {
    LOG(ERROR) << "OCPP | --power_kw, --heartbeat_interval, --meter_silence and --stop_grace "
                  "must be positive (the durations at least 1s) and --price_eur_per_kwh not "
                  "negative";
    return 2;
  }
  // Its own certificate (role gateway) serves wss:// to the chargers and
  // proves to Kafka that it may write telemetry and results; each charger's
  // own speaks for it to central.
  absl::StatusOr<TransportSecurity> security = TransportSecurityFromFlags("OCPP");
  if (!security.ok()) {
    LOG(ERROR) << "OCPP | " << security.status().message();
    return 2;
  }
  if (!security->insecure) {
    options.pki_dir = absl::GetFlag(FLAGS_pki_dir);
    if (options.pki_dir.empty()) {
      LOG(ERROR) << "OCPP | --pki_dir is required (or --insecure)";
      return 2;
    }
    if (absl::Status pki = evnet::ocpp::CheckGatewayPkiDir(options.pki_dir); !pki.ok()) {
      LOG(ERROR) << "OCPP | " << pki.message();
      return 2;
    }
    ConfigureKafkaTls({security->ca_file, security->cert_file, security->key_file}, "OCPP");
    options.tls_cert_file = security->cert_file;
    options.tls_key_file = security->key_file;
    options.tls_ca_file = security->ca_file;
    options.credentials_file = absl::GetFlag(FLAGS_charger_credentials);
  }
  options.kafka.bootstrap_servers = absl::GetFlag(FLAGS_kafka_bootstrap);
  options.kafka.client_id = "ocpp-gateway";

  absl::StatusOr<std::unique_ptr<ocpp::Gateway>> gateway = ocpp::Gateway::Start(options);
  if (!gateway.ok()) {
    LOG(ERROR) << "OCPP | " << gateway.status();
    return 2;
  }
  LOG(INFO) << "OCPP | Gateway ready on " << (security->insecure ? "ws://" : "wss://") << WithPort(options.listen, (*gateway)->port())
            << "/ocpp/<chargeBoxId> (subprotocol ocpp1.6), central at "
            << options.central_address << ", journals in " << options.state_dir;
  const int signal = WaitForShutdownSignal();
  LOG(INFO) << "OCPP | Shutting down (signal " << signal << ")";
  gateway->reset();
  return 0;
}

}  // namespace
}  // namespace evnet

int main(int argc, char** argv) {
  evnet::InitProgram(argc, argv, "ocpp_gateway: OCPP 1.6J chargers as CPs of evnet",
                     evnet::WithTransportSecurityEnv({{"listen", "OCPP_LISTEN"},
                                                      {"central_address", "CENTRAL_ADDRESS"},
                                                      {"kafka_bootstrap", "KAFKA_BOOTSTRAP"},
                                                      {"pki_dir", "PKI_DIR"},
                                                      {"charger_credentials", "CHARGER_CREDENTIALS"},
                                                      {"state_dir", "STATE_DIR"},
                                                      {"location", "CP_LOCATION"},
                                                      {"power_kw", "POWER_KW"},
                                                      {"price_eur_per_kwh", "PRICE_EUR_PER_KWH"},
                                                      {"heartbeat_interval", "HEARTBEAT_INTERVAL"},
                                                      {"chargers", "CHARGERS_FILE"},
                                                      {"local_lists", "LOCAL_LISTS"},
                                                      {"meter_silence", "METER_SILENCE"},
                                                      {"stop_grace", "STOP_GRACE"}}));
  return evnet::Main();
}
