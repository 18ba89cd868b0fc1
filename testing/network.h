// A whole evnet network of real processes for system tests: the real Kafka
// broker, central, CPs (engine + monitor each) and drivers, on free ports
// with their state in the test's temp dir. Secured as a user deploys it:
// the network's CA made by tools/pki/evpki, every CP enrolled with its own
// certificate, the test speaking to central as an operator; plaintext only
// when central's flags say --insecure. Any program can be killed with
// SIGKILL and started again with the same command line. The test watches
// through central's gRPC API and by reading evnet.driver.updates.
#ifndef EVNET_TESTING_NETWORK_H_
#define EVNET_TESTING_NETWORK_H_

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "evnet/v1/central.grpc.pb.h"
#include "evnet/v1/engine.grpc.pb.h"
#include "evnet/v1/events.pb.h"
#include "common/json_codec.h"
#include "common/kafka/kafka_producer.h"
#include "httplib.h"
#include "common/kafka/kafka_reader.h"
#include "common/kafka/topics.h"
#include "common/trust/sealing.h"
#include "testing/kafka_broker.h"
#include "testing/process.h"
#include "testing/update_log.h"

namespace evnet::test {

struct CpSpec {
  double power_kw = 22;
  double price_eur_per_kwh = 0.30;
  absl::Duration session_duration = absl::Seconds(4);
};

class Network {
 public:
  enum class Order {
    kCentralFirst,
    // As where everything starts at once (a deployment): the engines are
    // up, and refused by the broker, before central grants the network's
    // ACLs. Central starts once each engine's log shows the refusal.
    kEnginesRefusedBeforeCentral,
  };
  // Starts the broker (or uses KAFKA_BOOTSTRAP), central, one CP per spec
  // (CP-001, CP-002, ...), and waits until every CP is ACTIVE.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Network>> Start(
      const std::vector<CpSpec>& cps, std::vector<std::string> central_flags = {},
      Order order = Order::kCentralFirst);
  ~Network();

  KafkaBroker& broker() { return *broker_; }
  UpdateLog& updates() { return *updates_; }
  v1::CentralService::Stub& central() { return *central_; }
  const std::string& dir() const { return dir_; }
  // Central's dashboard and /healthz, /readyz, /metrics.
  int http_port() const { return http_port_; }
  // "https://127.0.0.1:PORT" (http:// under --insecure), and a client of it
  // that trusts the network's CA.
  std::string DashboardUrl() const;
  std::unique_ptr<httplib::Client> Dashboard() const;
  // Central's probe port: /healthz, /readyz, /metrics in plain HTTP, on
  // threads no dashboard takes.
  int probe_port() const { return probe_port_; }
  std::unique_ptr<httplib::Client> Probes() const;
  // The OCPP gateways' PKI folder: the CA's certificate and the certificates
  // and keys of the chargers started so far, never the CA's key.
  std::string GatewayPkiDir() const;

  static std::string CpId(int n);  // 1 -> "CP-001"
  // The network's CA folder (tools/pki/evpki); empty under --insecure.
  const std::string& pki_dir() const { return pki_dir_; }
  // Issues CP n a certificate and enrols it with central (done for every
  // CP the network starts).
  [[nodiscard]] absl::Status Enrol(int n);
  [[nodiscard]] absl::Status EnrolCp(const std::string& cp_id);
  // Enrols the certificate CP `cp_id` holds now.
  [[nodiscard]] absl::Status SendEnrolment(const std::string& cp_id);
  [[nodiscard]] absl::Status Revoke(int n);
  // Runs tools/pki/evpki with `args` (after its command, the CA folder).
  [[nodiscard]] absl::Status Pki(const std::string& command, const std::string& args);
  // The flags that give a program role/name's certificate, or --insecure.
  std::vector<std::string> SecurityFlags(const std::string& role, const std::string& name) const;
  // The dashboard's operator, in central's --operator_credentials.
  static constexpr char kOperator[] = "operator";
  static constexpr char kOperatorPassword[] = "evnet test operator";
  // Program names: "central", "cp-e-1", "cp-m-1", "driver-alice".
  [[nodiscard]] absl::Status StartCentral();
  [[nodiscard]] absl::Status StartEngine(int n);
  // Starts one more CP (engine and monitor); returns its number.
  [[nodiscard]] absl::StatusOr<int> AddCp(const CpSpec& spec);
  int cp_count() const { return static_cast<int>(cps_.size()); }
  // A monitor of CP n, named "cp-m-<n>" unless `name` says otherwise, with
  // CP n's certificate unless `security_flags` give others.
  [[nodiscard]] absl::Status StartMonitor(int n, const std::string& name = "",
                                          std::vector<std::string> security_flags = {});
  // Starts a driver working through `cp_ids`, one request after another.
  [[nodiscard]] absl::Status StartDriver(const std::string& driver_id,
                                         const std::vector<std::string>& cp_ids,
                                         absl::Duration pause = absl::Seconds(1));
  // SIGKILL, as in a crash.
  [[nodiscard]] absl::Status Kill(const std::string& name);
  // Starts a program again with the command line it had.
  [[nodiscard]] absl::Status Restart(const std::string& name);
  // The same, with `env` added to this incarnation's environment only (as
  // EVNET_CRASH_AT, to arm one crash point once).
  [[nodiscard]] absl::Status Restart(const std::string& name,
                                     const std::map<std::string, std::string>& env);
  Process* process(const std::string& name);
  std::string LogOf(const std::string& name);
  // The whole log of every incarnation of `name` (each one appends to the
  // same file), where LogOf gives only the end.
  std::string FullLogOf(const std::string& name);

  // Central's view of one CP; UNSPECIFIED if central does not answer.
  v1::CpStatus Status(const std::string& cp_id);
  bool WaitForStatus(const std::string& cp_id, v1::CpStatus status, absl::Duration timeout);
  [[nodiscard]] absl::Status StopCp(const std::string& cp_id);
  // Runs `evctl ARGS` as the test's operator: its output, or (when it
  // fails) an error with its output.
  absl::StatusOr<std::string> Evctl(const std::vector<std::string>& args);
  [[nodiscard]] absl::Status ResumeCp(const std::string& cp_id);
  std::vector<v1::Session> Sessions();
  // How many CPs central shows with `status` (every page); -1 if it does not answer.
  int CountWithStatus(v1::CpStatus status);
  // Starts ocpp_gateway, named "ocpp-gateway", with a certificate of role
  // gateway for Kafka and the network's PKI folder for its chargers'.
  // Another, side by side, is "ocpp-gateway-2" (its own port and state dir).
  [[nodiscard]] absl::Status StartOcppGateway(const std::string& name = "ocpp-gateway",
                                              const std::vector<std::string>& flags = {});
  int ocpp_port(const std::string& name = "ocpp-gateway") const {
    auto it = ocpp_ports_.find(name);
    return it == ocpp_ports_.end() ? 0 : it->second;
  }
  // Starts tools/ocpp/charger.py (PyPI's `ocpp`) as charger `id`, enrolled
  // first, named `id`; its events are JSON lines in LogOf(id). Unless the
  // network is --insecure it connects with wss:// and presents its own
  // certificate (OCPP security profile 3); later `flags` override.
  // With kOcppRpc, the charger is tools/ocpp/charger_rpc.js instead (npm's
  // `ocpp-rpc`, in strict mode): the same flags, commands and events.
  enum class OcppLibrary { kPythonOcpp, kOcppRpc };
  [[nodiscard]] absl::Status StartOcppCharger(const std::string& id,
                                              std::vector<std::string> flags = {},
                                              OcppLibrary library = OcppLibrary::kPythonOcpp);
  // Connector `connector` (>= 2) of charger `id` is CP <id>-<connector>,
  // enrolled, whose certificate the gateway holds (tools/ev add-ocpp
  // --connectors does the same); call before the charger names it.
  [[nodiscard]] absl::Status AddOcppConnector(const std::string& id, int connector);
  // A password for charger `id` (security profile 2), added to the
  // gateway's --charger_credentials.
  std::string IssueOcppPassword(const std::string& id);
  // A command to that charger (see charger.py's --control).
  void OcppCommand(const std::string& id, const std::string& line);
  // Waits until charger `id` printed an event line holding `text`, `count` times.
  bool WaitForOcppEvent(const std::string& id, const std::string& text,
                        absl::Duration timeout, int count = 1);
  // Starts tools/evload against this network, named "evload".
  [[nodiscard]] absl::Status StartLoad(std::vector<std::string> flags);
  // Asks CP `cp`'s engine to simulate `action`, as the test's operator or as
  // operator `as` (whose certificate the test issued).
  [[nodiscard]] absl::Status Simulate(int cp, v1::SimulateAction action,
                                      const std::string& as = "");
  // Every record of `topic` so far (all its `partitions`), decoded as T.
  template <typename T>
  std::vector<T> ReadAll(const char* topic, int partitions);
  // Every record of `topic` so far as stored, undecoded: a compacted
  // topic's tombstones are there, with an empty value. An error if the
  // broker did not let it be read to its end.
  absl::StatusOr<std::vector<KafkaMessage>> ReadRecords(const char* topic, int partitions);
  // Every record of the audit log (evnet.audit) so far.
  std::vector<v1::AuditRecord> Audit() { return ReadAll<v1::AuditRecord>(kAuditTopic, 1); }
  // Writes a message to the broker as an outsider would (kcat, a driver or
  // engine of another version, an attacker), and waits for it to be stored.
  [[nodiscard]] absl::Status Produce(const std::string& topic, const std::string& key,
                                     const std::string& value);
  // Writes a driver's request (JSON, perhaps with fields of a newer
  // version) as that driver's program does: signed with its certificate
  // (issued if it has none), unless the network is --insecure. A request
  // that is not JSON goes as it is.
  [[nodiscard]] absl::Status ProduceRequest(const std::string& driver_id,
                                            const std::string& request_json);
  // `request_json` with the signature and certificate of driver `signer`
  // added (issued if it has none), and, when `stamp`, a request id and the
  // time it is signed at where it has none, as a driver's program signs
  // them; as it is under --insecure, when it is not JSON, or when no
  // certificate can name `signer` ("", "driver victim").
  absl::StatusOr<std::string> SignRequest(const std::string& request_json,
                                          const std::string& signer, bool stamp = true);

 private:
  Network() = default;
  // Enrols CP `cp_id` and gives the gateway its certificate and key.
  [[nodiscard]] absl::Status GiveGatewayCp(const std::string& cp_id);
  [[nodiscard]] absl::Status Launch(const std::string& name, std::vector<std::string> argv,
                                    const std::map<std::string, std::string>& env = {});

  std::string dir_;
  std::string pki_dir_;
  std::unique_ptr<KafkaBroker> broker_;
  std::unique_ptr<UpdateLog> updates_;
  std::unique_ptr<KafkaProducer> producer_;  // for Produce, made on first use
  std::map<std::string, int> ocpp_ports_;  // by gateway name
  int central_port_ = 0;
  int http_port_ = 0;
  int probe_port_ = 0;
  std::map<int, int> engine_ports_;
  std::vector<CpSpec> cps_;
  std::vector<std::string> central_flags_;
  std::unique_ptr<v1::CentralService::Stub> central_;
  std::map<std::string, std::vector<std::string>> argv_;
  std::map<std::string, std::unique_ptr<Process>> processes_;
};

template <typename T>
std::vector<T> Network::ReadAll(const char* topic, int partitions) {
  KafkaReaderOptions options;
  options.bootstrap_servers = broker_->bootstrap_servers();
  for (int p = 0; p < partitions; ++p) options.partitions.push_back({topic, p});
  std::vector<T> records;
  absl::StatusOr<std::unique_ptr<KafkaReader>> reader = KafkaReader::Create(options);
  if (!reader.ok()) return records;
  (void)(*reader)->ReadToEnd(absl::Seconds(10), [&](const KafkaMessage& m) {
    absl::StatusOr<T> record = FromJson<T>(m.value);
    if (record.ok()) records.push_back(*std::move(record));
    return absl::OkStatus();
  });
  return records;
}

}  // namespace evnet::test

#endif  // EVNET_TESTING_NETWORK_H_
