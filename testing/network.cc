#include "testing/network.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "central/operator_auth.h"
#include "common/files.h"
#include "common/grpc/grpc_channel.h"
#include "common/grpc/grpc_status.h"
#include "common/trust/transport_security.h"
#include "common/json_codec.h"
#include "common/kafka/kafka_admin.h"
#include "common/kafka/kafka_conf.h"
#include "common/kafka/kafka_reader.h"
#include "common/proto_time.h"
#include "common/trust/signing.h"
#include "common/kafka/topics.h"
#include "driver/update_view.h"
#include "glog/logging.h"
#include "ocpp_gateway/charger_auth.h"
#include "testing/central_api.h"
#include "testing/test_pki.h"

namespace evnet::test {
namespace {

constexpr absl::Duration kRpcTimeout = absl::Seconds(3);

// The programs, from the test's runfiles.
constexpr char kCentral[] = "central/server";
constexpr char kEngine[] = "cp_engine/engine";
constexpr char kMonitor[] = "cp_monitor/monitor";
constexpr char kDriver[] = "driver/driver";
constexpr char kLoad[] = "tools/evload/evload";
constexpr char kGateway[] = "ocpp_gateway/ocpp_gateway";
constexpr char kOcppCharger[] = "tools/ocpp/charger.py";
constexpr char kOcppRpcCharger[] = "tools/ocpp/charger_rpc.js";
constexpr char kEvctl[] = "tools/evctl/evctl";
// The test's own certificate, an operator's.
constexpr char kTestOperator[] = "test-operator";

std::vector<std::string> Concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

std::string Network::CpId(int n) { return absl::StrFormat("CP-%03d", n); }

absl::StatusOr<std::unique_ptr<Network>> Network::Start(const std::vector<CpSpec>& cps,
                                                        std::vector<std::string> central_flags,
                                                        Order order) {
  std::unique_ptr<Network> net(new Network());
  net->dir_ = MakeTempDir("network");
  net->cps_ = cps;
  net->central_flags_ = std::move(central_flags);
  {
    std::ofstream(net->dir_ + "/operators")
        << OperatorAuth::CredentialLine(kOperator, kOperatorPassword) << "\n";
  }
  const bool insecure = std::find(net->central_flags_.begin(), net->central_flags_.end(),
                                  "--insecure") != net->central_flags_.end();
  TransportSecurity security = TransportSecurity::Insecure();
  if (!insecure) {
    net->pki_dir_ = net->dir_ + "/pki";
    if (absl::Status s = net->Pki("init", ""); !s.ok()) return s;
    if (absl::Status s = net->Pki("issue", absl::StrCat("operator ", kTestOperator)); !s.ok()) {
      return s;
    }
    security = TransportSecurity::FromDir(net->pki_dir_, kRoleOperator, kTestOperator);
  }
  // On Kafka the test reads and writes everything, so it holds central's
  // certificate there; attacks with other identities use kcat.
  const TransportSecurity central_files =
      TransportSecurity::FromDir(net->pki_dir_, kRoleCentral, kCentralName);
  SetKafkaTls(insecure ? KafkaTls{}
                       : KafkaTls{central_files.ca_file, central_files.cert_file,
                                  central_files.key_file});
  absl::StatusOr<std::unique_ptr<KafkaBroker>> broker =
      KafkaBroker::Start(absl::Seconds(60), net->pki_dir_);
  if (!broker.ok()) return broker.status();
  net->broker_ = *std::move(broker);
  absl::StatusOr<std::unique_ptr<UpdateLog>> updates =
      UpdateLog::Start(net->broker_->bootstrap_servers(), net->pki_dir_);
  if (!updates.ok()) return updates.status();
  net->updates_ = *std::move(updates);

  net->central_port_ = PickFreePort();
  net->http_port_ = PickFreePort();
  net->probe_port_ = PickFreePort();
  net->central_ = v1::CentralService::NewStub(
      MakeCentralChannel(absl::StrCat("127.0.0.1:", net->central_port_), security));
  const bool engines_first = order == Order::kEnginesRefusedBeforeCentral;
  if (engines_first) {
    for (size_t i = 1; i <= cps.size(); ++i) {
      if (absl::Status s = net->Pki("issue", absl::StrCat("cp ", CpId(i))); !s.ok()) return s;
      net->engine_ports_[i] = PickFreePort();
      if (absl::Status s = net->StartEngine(i); !s.ok()) return s;
    }
    for (size_t i = 1; i <= cps.size(); ++i) {
      const std::string engine = absl::StrCat("cp-e-", i);
      if (!WaitFor([&] { return absl::StrContains(net->LogOf(engine), "Kafka fatal error"); },
                   absl::Seconds(30))) {
        return absl::DeadlineExceededError(
            absl::StrCat(engine, " was not refused by the broker:\n", net->LogOf(engine)));
      }
    }
  }
  if (absl::Status s = net->StartCentral(); !s.ok()) return s;
  for (size_t i = 1; i <= cps.size(); ++i) {
    if (engines_first) {
      if (absl::Status s = net->SendEnrolment(CpId(i)); !s.ok()) return s;
    } else {
      if (absl::Status s = net->Enrol(i); !s.ok()) return s;
      net->engine_ports_[i] = PickFreePort();
      if (absl::Status s = net->StartEngine(i); !s.ok()) return s;
    }
    if (absl::Status s = net->StartMonitor(i); !s.ok()) return s;
  }
  for (size_t i = 1; i <= cps.size(); ++i) {
    if (!net->WaitForStatus(CpId(i), v1::CP_STATUS_ACTIVE, absl::Seconds(30))) {
      return absl::DeadlineExceededError(absl::StrCat(
          CpId(i), " did not become ACTIVE; central's log:\n", net->LogOf("central"),
          "\nits monitor's log:\n", net->LogOf(absl::StrCat("cp-m-", i))));
    }
  }
  return net;
}

Network::~Network() {
  // Drivers and monitors first, so nothing reports on a network going away.
  for (const char* prefix : {"driver-", "cp-m-", "cp-e-", "central"}) {
    for (auto& [name, process] : processes_) {
      if (name.rfind(prefix, 0) == 0 && process != nullptr) process->Kill();
    }
  }
  updates_.reset();
}

absl::Status Network::Launch(const std::string& name, std::vector<std::string> argv,
                             const std::map<std::string, std::string>& env) {
  argv_[name] = argv;
  ProcessOptions options;
  options.argv = std::move(argv);
  options.log_path = absl::StrCat(dir_, "/", name, ".log");
  options.env = {{"GLOG_logbuflevel", "-1"}};
  options.env.insert(env.begin(), env.end());
  absl::StatusOr<std::unique_ptr<Process>> process = Process::Start(options);
  if (!process.ok()) return process.status();
  processes_[name] = *std::move(process);
  return absl::OkStatus();
}

absl::Status Network::StartCentral() {
  std::vector<std::string> argv = {
      kCentral, absl::StrCat("--grpc_port=", central_port_),
      absl::StrCat("--http_port=", http_port_), absl::StrCat("--probe_port=", probe_port_),
      absl::StrCat("--kafka_bootstrap=", broker_->bootstrap_servers()), "--print_table=false",
      "--startup_grace=2s", "--progress_interval=1s", absl::StrCat("--state_dir=", dir_)};
  // The dashboard of this test's runfiles, named: beside the binary there
  // may be a runfiles tree of an earlier build that Bazel has not brought
  // up to date for this test (a page without its newest scripts).
  char cwd[4096];
  if (getcwd(cwd, sizeof(cwd)) != nullptr) {
    argv.push_back(absl::StrCat("--dashboard_dir=", cwd, "/central/dashboard"));
  }
  argv.insert(argv.end(), central_flags_.begin(), central_flags_.end());
  if (!pki_dir_.empty()) {  // else --insecure is among central_flags_
    argv.push_back(absl::StrCat("--pki_dir=", pki_dir_));
    argv.push_back("--dashboard_tls");
  }
  absl::Status launched = Launch("central", argv);
  if (!launched.ok()) return launched;
  // Ready as a probe sees it: topics made, the network's ACLs granted (a
  // client started before may be refused by the broker), state rebuilt.
  std::unique_ptr<httplib::Client> http = Probes();
  http->set_connection_timeout(0, 500'000);
  http->set_read_timeout(1, 0);
  bool up = WaitFor(
      [&] {
        httplib::Result readyz = http->Get("/readyz");
        return (readyz && readyz->status == 200) || !processes_["central"]->Running();
      },
      absl::Seconds(30));
  if (!up || !processes_["central"]->Running()) {
    return absl::UnavailableError(absl::StrCat("central did not start:\n", LogOf("central")));
  }
  return absl::OkStatus();
}

absl::Status Network::StartEngine(int n) {
  const CpSpec& spec = cps_[n - 1];
  std::vector<std::string> argv = SecurityFlags(kRoleCp, CpId(n));
  argv.insert(argv.begin(), kEngine);
  return Launch(absl::StrCat("cp-e-", n),
                Concat(argv, {absl::StrCat("--cp_id=", CpId(n)),
                 absl::StrCat("--location=Test bay ", n),
                 absl::StrCat("--listen=127.0.0.1:", engine_ports_[n]),
                 absl::StrCat("--kafka_bootstrap=", broker_->bootstrap_servers()),
                 absl::StrCat("--power_kw=", spec.power_kw),
                 absl::StrCat("--price_eur_per_kwh=", spec.price_eur_per_kwh),
                 absl::StrCat("--session_duration=", absl::FormatDuration(spec.session_duration)),
                 absl::StrCat("--state_dir=", dir_, "/", CpId(n)), "--simulation"}));
}

absl::StatusOr<int> Network::AddCp(const CpSpec& spec) {
  cps_.push_back(spec);
  const int n = static_cast<int>(cps_.size());
  if (absl::Status s = Enrol(n); !s.ok()) return s;
  engine_ports_[n] = PickFreePort();
  if (absl::Status s = StartEngine(n); !s.ok()) return s;
  if (absl::Status s = StartMonitor(n); !s.ok()) return s;
  return n;
}

absl::Status Network::StartMonitor(int n, const std::string& name,
                                   std::vector<std::string> security_flags) {
  std::vector<std::string> argv =
      security_flags.empty() ? SecurityFlags(kRoleCp, CpId(n)) : std::move(security_flags);
  argv.insert(argv.begin(), kMonitor);
  return Launch(name.empty() ? absl::StrCat("cp-m-", n) : name,
                Concat(argv, {absl::StrCat("--cp_id=", CpId(n)),
                              absl::StrCat("--engine_address=127.0.0.1:", engine_ports_[n]),
                              absl::StrCat("--central_address=127.0.0.1:", central_port_)}));
}

absl::Status Network::StartDriver(const std::string& driver_id,
                                  const std::vector<std::string>& cp_ids, absl::Duration pause) {
  const std::string file = absl::StrCat(dir_, "/", driver_id, ".requests");
  std::ofstream(file) << absl::StrJoin(cp_ids, "\n") << "\n";
  if (!pki_dir_.empty()) {
    if (absl::Status issued = Pki("issue", absl::StrCat("driver ", driver_id)); !issued.ok()) {
      return issued;
    }
  }
  std::vector<std::string> argv = {kDriver, absl::StrCat("--driver_id=", driver_id),
                                   absl::StrCat("--requests=", file),
                                   absl::StrCat("--kafka_bootstrap=", broker_->bootstrap_servers()),
                                   absl::StrCat("--state_dir=", dir_, "/drivers"),
                                   absl::StrCat("--pause=", absl::FormatDuration(pause))};
  for (std::string& flag : SecurityFlags(kRoleDriver, driver_id)) argv.push_back(flag);
  return Launch(driver_id, std::move(argv));
}

absl::Status Network::Kill(const std::string& name) {
  if (name == "kafka") return broker_->Kill();
  Process* p = process(name);
  if (p == nullptr) return absl::NotFoundError(absl::StrCat("no program ", name));
  p->Kill();
  return absl::OkStatus();
}

absl::Status Network::Restart(const std::string& name) {
  if (name == "kafka") return broker_->Restart();
  auto it = argv_.find(name);
  if (it == argv_.end()) return absl::NotFoundError(absl::StrCat("no program ", name));
  if (Process* p = process(name); p != nullptr) p->Kill();
  return Launch(name, it->second);
}

absl::Status Network::Restart(const std::string& name,
                              const std::map<std::string, std::string>& env) {
  auto it = argv_.find(name);
  if (it == argv_.end()) return absl::NotFoundError(absl::StrCat("no program ", name));
  if (Process* p = process(name); p != nullptr) p->Kill();
  return Launch(name, it->second, env);
}

Process* Network::process(const std::string& name) {
  auto it = processes_.find(name);
  return it == processes_.end() ? nullptr : it->second.get();
}

std::string Network::LogOf(const std::string& name) {
  Process* p = process(name);
  return p == nullptr ? "" : p->LogTail(6000);
}

std::string Network::FullLogOf(const std::string& name) {
  Process* p = process(name);
  if (p == nullptr) return "";
  absl::StatusOr<std::string> log = ReadFile(p->log_path());
  return log.ok() ? *std::move(log) : "";
}

absl::StatusOr<std::vector<KafkaMessage>> Network::ReadRecords(const char* topic,
                                                               int partitions) {
  KafkaReaderOptions options;
  options.bootstrap_servers = broker_->bootstrap_servers();
  for (int p = 0; p < partitions; ++p) options.partitions.push_back({topic, p});
  absl::StatusOr<std::unique_ptr<KafkaReader>> reader = KafkaReader::Create(options);
  if (!reader.ok()) return reader.status();
  std::vector<KafkaMessage> records;
  absl::Status read = (*reader)->ReadToEnd(absl::Seconds(10), [&](const KafkaMessage& m) {
    records.push_back(m);
    return absl::OkStatus();
  });
  if (!read.ok()) return read;
  return records;
}

v1::CpStatus Network::Status(const std::string& cp_id) { return CpStatusOf(*central_, cp_id); }

bool Network::WaitForStatus(const std::string& cp_id, v1::CpStatus status,
                            absl::Duration timeout) {
  return WaitFor([&] { return Status(cp_id) == status; }, timeout, absl::Milliseconds(100));
}

absl::Status Network::StopCp(const std::string& cp_id) { return StopCpAt(*central_, cp_id); }

absl::Status Network::ResumeCp(const std::string& cp_id) { return ResumeCpAt(*central_, cp_id); }

std::vector<v1::Session> Network::Sessions() { return SessionsOf(*central_); }

absl::StatusOr<std::string> Network::Evctl(const std::vector<std::string>& args) {
  // Each word in single quotes, for the shell.
  auto quoted = [](const std::string& word) {
    return absl::StrCat("'", absl::StrReplaceAll(word, {{"'", "'\\''"}}), "'");
  };
  std::string line = absl::StrCat(kEvctl, " --central_address=127.0.0.1:", central_port_);
  for (const std::string& flag : SecurityFlags(kRoleOperator, kTestOperator)) {
    absl::StrAppend(&line, " ", quoted(flag));
  }
  for (const std::string& arg : args) absl::StrAppend(&line, " ", quoted(arg));
  const std::string out = absl::StrCat(dir_, "/evctl.out");
  const int rc = std::system(absl::StrCat(line, " >", out, " 2>&1").c_str());
  std::string output = ReadFile(out).value_or("");
  if (rc != 0) return absl::UnknownError(absl::StrCat("evctl failed: ", output));
  return output;
}

absl::Status Network::Simulate(int cp, v1::SimulateAction action, const std::string& as) {
  if (engine_ports_.count(cp) == 0) return absl::NotFoundError(absl::StrCat("no CP ", cp));
  const TransportSecurity security =
      pki_dir_.empty() ? TransportSecurity::Insecure()
                       : TransportSecurity::FromDir(pki_dir_, kRoleOperator,
                                                    as.empty() ? kTestOperator : as);
  auto engine = v1::EngineService::NewStub(MakeChannel(
      absl::StrCat("127.0.0.1:", engine_ports_[cp]), security, ServerNameOf(kRoleCp, CpId(cp))));
  v1::SimulateRequest request;
  request.set_action(action);
  // An engine just started is still reading the revoked certificates (and
  // answers UNAVAILABLE) for a second or so after central made the topic.
  absl::Status simulated;
  WaitFor(
      [&] {
        grpc::ClientContext context;
        context.set_deadline(DeadlineIn(kRpcTimeout));
        v1::SimulateResponse response;
        simulated = FromGrpcStatus(engine->Simulate(&context, request, &response));
        return !absl::IsUnavailable(simulated) ||
               !absl::StrContains(simulated.message(), "revoked certificates");
      },
      absl::Seconds(10), absl::Milliseconds(100));
  return simulated;
}

}  // namespace evnet::test

namespace evnet::test {

int Network::CountWithStatus(v1::CpStatus status) {
  int count = 0;
  v1::ListChargingPointsRequest request;
  do {
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(kRpcTimeout));
    v1::ListChargingPointsResponse response;
    if (!central_->ListChargingPoints(&context, request, &response).ok()) return -1;
    for (const v1::ChargingPoint& cp : response.charging_points()) {
      if (cp.status() == status) ++count;
    }
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  return count;
}

absl::Status Network::StartLoad(std::vector<std::string> flags) {
  std::vector<std::string> argv = {kLoad, absl::StrCat("--central_address=127.0.0.1:", central_port_),
                                   absl::StrCat("--kafka_bootstrap=", broker_->bootstrap_servers())};
  if (!pki_dir_.empty()) argv.push_back(absl::StrCat("--pki_dir=", pki_dir_));
  argv.insert(argv.end(), flags.begin(), flags.end());
  return Launch("evload", std::move(argv));
}

absl::Status Network::StartOcppGateway(const std::string& name,
                                       const std::vector<std::string>& flags) {
  int& port = ocpp_ports_[name];
  if (port == 0) port = PickFreePort();
  std::vector<std::string> argv = {
      kGateway, absl::StrCat("--listen=127.0.0.1:", port),
      absl::StrCat("--central_address=127.0.0.1:", central_port_),
      absl::StrCat("--kafka_bootstrap=", broker_->bootstrap_servers()),
      absl::StrCat("--state_dir=", dir_, "/", name), "--heartbeat_interval=5",
      "--price_eur_per_kwh=0.40", "--power_kw=11"};
  if (!pki_dir_.empty()) {
    if (absl::Status issued = Pki("issue", "gateway ocpp-gateway"); !issued.ok()) return issued;
    if (absl::Status made = MakePrivateDir(GatewayPkiDir() + "/cp"); !made.ok()) return made;
    absl::StatusOr<std::string> ca = ReadFile(pki_dir_ + "/ca.crt");
    if (!ca.ok()) return ca.status();
    if (absl::Status copied = WriteFileDurably(GatewayPkiDir() + "/ca.crt", *ca); !copied.ok()) {
      return copied;
    }
    argv.push_back(absl::StrCat("--pki_dir=", GatewayPkiDir()));
    argv.push_back(absl::StrCat("--charger_credentials=", dir_, "/ocpp-credentials"));
  }
  for (std::string& flag : SecurityFlags(kRoleGateway, "ocpp-gateway")) argv.push_back(flag);
  argv.insert(argv.end(), flags.begin(), flags.end());
  if (absl::Status launched = Launch(name, std::move(argv)); !launched.ok()) return launched;
  if (!WaitFor([&] { return absl::StrContains(LogOf(name), "Gateway ready"); },
               absl::Seconds(30))) {
    return absl::DeadlineExceededError(
        absl::StrCat("the OCPP gateway did not start: ", LogOf(name)));
  }
  return absl::OkStatus();
}

std::string Network::GatewayPkiDir() const { return dir_ + "/ocpp-gateway-pki"; }

absl::Status Network::GiveGatewayCp(const std::string& cp_id) {
  if (absl::Status enrolled = EnrolCp(cp_id); !enrolled.ok()) return enrolled;
  if (pki_dir_.empty()) return absl::OkStatus();
  // The gateway holds the keys of its own chargers, nothing more.
  if (absl::Status made = MakePrivateDir(GatewayPkiDir() + "/cp"); !made.ok()) return made;
  for (const char* ext : {".crt", ".key"}) {
    const std::string name = absl::StrCat("/cp/", cp_id, ext);
    if (symlink((pki_dir_ + name).c_str(), (GatewayPkiDir() + name).c_str()) != 0 &&
        errno != EEXIST) {
      return absl::InternalError(absl::StrCat("cannot give the gateway ", cp_id, ext));
    }
  }
  return absl::OkStatus();
}

absl::Status Network::AddOcppConnector(const std::string& id, int connector) {
  return GiveGatewayCp(absl::StrCat(id, "-", connector));
}

absl::Status Network::StartOcppCharger(const std::string& id, std::vector<std::string> flags,
                                       OcppLibrary library) {
  if (absl::Status given = GiveGatewayCp(id); !given.ok()) return given;
  const char* python = std::getenv("EVNET_PYTHON");
  std::vector<std::string> argv =
      library == OcppLibrary::kOcppRpc
          ? std::vector<std::string>{"/usr/bin/node", kOcppRpcCharger}
          : std::vector<std::string>{python != nullptr && *python != '\0' ? python : "python3",
                                     kOcppCharger};
  argv.push_back(absl::StrCat("--id=", id));
  argv.push_back(absl::StrCat("--control=", dir_, "/", id, ".control"));
  if (pki_dir_.empty()) {
    argv.push_back(absl::StrCat("--url=ws://127.0.0.1:", ocpp_port(), "/ocpp"));
  } else {
    const TransportSecurity own = TransportSecurity::FromDir(pki_dir_, kRoleCp, id);
    argv.push_back(absl::StrCat("--url=wss://127.0.0.1:", ocpp_port(), "/ocpp"));
    argv.push_back(absl::StrCat("--cafile=", own.ca_file));
    argv.push_back(absl::StrCat("--certfile=", own.cert_file));
    argv.push_back(absl::StrCat("--keyfile=", own.key_file));
  }
  argv.insert(argv.end(), flags.begin(), flags.end());
  return Launch(id, std::move(argv));
}

std::string Network::IssueOcppPassword(const std::string& id) {
  const std::string password = absl::StrCat("pw-", id, "-", PickFreePort(), "-", absl::ToUnixNanos(absl::Now()));
  std::ofstream(absl::StrCat(dir_, "/ocpp-credentials"), std::ios::app)
      << ocpp::ChargerCredentialLine(id, password) << "\n";
  return password;
}

void Network::OcppCommand(const std::string& id, const std::string& line) {
  std::ofstream(absl::StrCat(dir_, "/", id, ".control"), std::ios::app) << line << "\n";
}

bool Network::WaitForOcppEvent(const std::string& id, const std::string& text,
                               absl::Duration timeout, int count) {
  return WaitFor(
      [&] {
        const std::string log = LogOf(id);
        int seen = 0;
        for (size_t at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) {
          ++seen;
        }
        return seen >= count;
      },
      timeout, absl::Milliseconds(100));
}

absl::Status Network::ProduceRequest(const std::string& driver_id,
                                     const std::string& request_json) {
  absl::StatusOr<std::string> signed_json = SignRequest(request_json, driver_id);
  if (!signed_json.ok()) return signed_json.status();
  return Produce(kDriverRequestsTopic, driver_id, *signed_json);
}

absl::StatusOr<std::string> Network::SignRequest(const std::string& request_json,
                                                 const std::string& signer, bool stamp) {
  absl::StatusOr<v1::DriverRequest> request = FromJson<v1::DriverRequest>(request_json);
  const bool nameable = !signer.empty() && signer.size() <= 64 &&
                        std::all_of(signer.begin(), signer.end(), [](char c) {
                          return absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '-';
                        });
  if (pki_dir_.empty() || !nameable || !request.ok() ||
      request_json.rfind('}') == std::string::npos) {
    return request_json;
  }
  const TransportSecurity files = TransportSecurity::FromDir(pki_dir_, kRoleDriver, signer);
  if (!ReadFile(files.cert_file).ok()) {
    if (absl::Status issued = Pki("issue", absl::StrCat("driver ", signer)); !issued.ok()) {
      return issued;
    }
  }
  absl::StatusOr<std::string> key = ReadFile(files.key_file);
  absl::StatusOr<std::string> certificate = ReadFile(files.cert_file);
  if (!key.ok()) return key.status();
  if (!certificate.ok()) return certificate.status();
  // The proof (and what is stamped) is added to the JSON as written, so that
  // fields this version does not know still reach central.
  v1::DriverRequest proof;
  if (stamp && request->request_id().empty()) {
    static std::atomic<int> stamped{0};
    request->set_request_id(absl::StrCat("signed-", absl::ToUnixMicros(absl::Now()), "-", ++stamped));
    proof.set_request_id(request->request_id());
  }
  if (stamp && !request->has_requested_at()) {
    *request->mutable_requested_at() = ToProto(absl::Now());
    *proof.mutable_requested_at() = request->requested_at();
  }
  absl::StatusOr<std::string> signature = Sign(*key, SignedBytes(*request));
  if (!signature.ok()) return signature.status();
  proof.set_signature(*signature);
  proof.set_certificate_pem(*certificate);
  const std::string proof_json = ToJson(proof);  // {"signature":...,"certificatePem":...}
  std::string signed_json = request_json.substr(0, request_json.rfind('}'));
  absl::StrAppend(&signed_json, ",", proof_json.substr(1));
  return signed_json;
}

absl::Status Network::Produce(const std::string& topic, const std::string& key,
                             const std::string& value) {
  if (producer_ == nullptr) {
    KafkaProducerOptions options;
    options.bootstrap_servers = broker_->bootstrap_servers();
    options.client_id = "test-outsider";
    absl::StatusOr<std::unique_ptr<KafkaProducer>> producer = KafkaProducer::Create(options);
    if (!producer.ok()) return producer.status();
    producer_ = *std::move(producer);
  }
  return producer_->ProduceAndWait(topic, key, value, absl::Seconds(10));
}

std::string Network::DashboardUrl() const {
  return absl::StrCat(pki_dir_.empty() ? "http" : "https", "://127.0.0.1:", http_port_);
}

std::unique_ptr<httplib::Client> Network::Dashboard() const {
  auto client = std::make_unique<httplib::Client>(DashboardUrl());
  if (!pki_dir_.empty()) client->set_ca_cert_path(absl::StrCat(pki_dir_, "/ca.crt").c_str());
  return client;
}

std::unique_ptr<httplib::Client> Network::Probes() const {
  return std::make_unique<httplib::Client>(absl::StrCat("http://127.0.0.1:", probe_port_));
}

absl::Status Network::Pki(const std::string& command, const std::string& args) {
  return Evpki(command, pki_dir_, args).status();
}

std::vector<std::string> Network::SecurityFlags(const std::string& role,
                                                const std::string& name) const {
  if (pki_dir_.empty()) return {"--insecure"};
  const TransportSecurity files = TransportSecurity::FromDir(pki_dir_, role, name);
  return {absl::StrCat("--tls_ca=", files.ca_file), absl::StrCat("--tls_cert=", files.cert_file),
          absl::StrCat("--tls_key=", files.key_file)};
}

absl::Status Network::Enrol(int n) { return EnrolCp(CpId(n)); }

absl::Status Network::EnrolCp(const std::string& cp_id) {
  if (pki_dir_.empty()) return absl::OkStatus();
  if (absl::Status issued = Pki("issue", absl::StrCat("cp ", cp_id)); !issued.ok()) {
    return issued;
  }
  return SendEnrolment(cp_id);
}

absl::Status Network::SendEnrolment(const std::string& cp_id) {
  if (pki_dir_.empty()) return absl::OkStatus();
  absl::StatusOr<std::string> pem =
      ReadFile(TransportSecurity::FromDir(pki_dir_, kRoleCp, cp_id).cert_file);
  if (!pem.ok()) return pem.status();
  v1::EnrollChargingPointRequest request;
  request.set_cp_id(cp_id);
  request.set_certificate_pem(*pem);
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(absl::Seconds(15)));
  v1::Enrolment enrolment;
  grpc::Status status = central_->EnrollChargingPoint(&context, request, &enrolment);
  return status.ok() ? absl::OkStatus() : absl::UnavailableError(status.error_message());
}

absl::Status Network::Revoke(int n) {
  v1::RevokeChargingPointRequest request;
  request.set_cp_id(CpId(n));
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(absl::Seconds(15)));
  v1::Enrolment enrolment;
  grpc::Status status = central_->RevokeChargingPoint(&context, request, &enrolment);
  return status.ok() ? absl::OkStatus() : absl::UnavailableError(status.error_message());
}

}  // namespace evnet::test
