#include "testing/in_process_network.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "central/kafka_bridge.h"
#include "common/grpc/grpc_channel.h"
#include "common/json_codec.h"
#include "common/proto_time.h"
#include "common/kafka/topics.h"
#include "testing/central_api.h"
#include "testing/process.h"

namespace evnet::test {
namespace {

constexpr absl::Duration kCheckInterval = absl::Milliseconds(100);

}  // namespace

InProcessNetwork::InProcessNetwork(InProcessNetworkOptions options)
    : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<InProcessNetwork>> InProcessNetwork::Start(
    InProcessNetworkOptions options) {
  std::unique_ptr<InProcessNetwork> net(new InProcessNetwork(std::move(options)));
  net->dir_ = MakeTempDir("in_process_network");
  // Every topic made up front, as central would make them.
  std::vector<std::pair<std::string, int>> topics;
  for (const KafkaTopicSpec& spec : NetworkTopics()) topics.emplace_back(spec.name, spec.partitions);
  net->kafka_ = std::make_unique<MockKafkaCluster>(topics);
  net->bootstrap_ = net->kafka_->bootstrap();

  CentralOptions central;
  central.listen = "127.0.0.1:0";
  central.security = TransportSecurity::Insecure();
  central.kafka_bootstrap = net->bootstrap_;
  // The mock cluster answers an empty fetch only after all of the wait.
  central.consumer_properties = {{"fetch.wait.max.ms", "20"}};
  central.monitor_timeout = absl::Milliseconds(600);
  central.startup_grace = absl::Milliseconds(300);
  central.print_table = false;
  central.http_port = -1;
  central.books_database = absl::StrCat(net->dir_, "/books.sqlite");
  central.coordinator.progress_interval = absl::Milliseconds(200);
  central.coordinator.command_timeout = absl::Seconds(2);
  absl::StatusOr<std::unique_ptr<Central>> started = Central::Start(central);
  if (!started.ok()) return started.status();
  net->central_ = *std::move(started);
  std::shared_ptr<grpc::Channel> channel = MakeChannel(
      absl::StrCat("127.0.0.1:", net->central_->port()), TransportSecurity::Insecure(), "");
  net->api_ = v1::CentralService::NewStub(channel);
  net->books_ = v1::BooksService::NewStub(channel);

  absl::StatusOr<std::unique_ptr<UpdateLog>> updates = UpdateLog::Start(net->bootstrap_);
  if (!updates.ok()) return updates.status();
  net->updates_ = *std::move(updates);
  KafkaProducerOptions producer;
  producer.bootstrap_servers = net->bootstrap_;
  producer.client_id = "test-driver";
  absl::StatusOr<std::unique_ptr<KafkaProducer>> made = KafkaProducer::Create(producer);
  if (!made.ok()) return made.status();
  net->producer_ = *std::move(made);

  for (const std::string& cp : net->options_.cps) {
    net->engine_ports_[cp] = 0;
    if (absl::Status engine = net->StartEngine(cp); !engine.ok()) return engine;
    if (absl::Status monitor = net->StartMonitor(cp); !monitor.ok()) return monitor;
  }
  for (const std::string& cp : net->options_.cps) {
    if (!net->WaitForStatus(cp, v1::CP_STATUS_ACTIVE, absl::Seconds(10))) {
      return absl::DeadlineExceededError(absl::StrCat(cp, " did not become ACTIVE in 10 s"));
    }
  }
  return net;
}

InProcessNetwork::~InProcessNetwork() {
  // Monitors first (their links to central), then engines, then central,
  // and Kafka last: each goes while what it talks to is still there.
  monitors_.clear();
  engines_.clear();
  updates_.reset();
  producer_.reset();
  api_.reset();
  central_.reset();
  kafka_.reset();
}

CpEngine* InProcessNetwork::engine(const std::string& cp_id) {
  auto it = engines_.find(cp_id);
  return it == engines_.end() ? nullptr : it->second.get();
}

absl::Status InProcessNetwork::StartEngine(const std::string& cp_id) {
  CpEngineOptions options;
  options.engine.info.set_cp_id(cp_id);
  options.engine.info.set_location(absl::StrCat("Bay ", cp_id));
  options.engine.info.set_power_kw(options_.power_kw);
  options.engine.info.set_price_eur_per_kwh(options_.price_eur_per_kwh);
  options.engine.session_duration = options_.session_duration;
  options.engine.state_dir = absl::StrCat(dir_, "/", cp_id);
  options.listen = absl::StrCat("127.0.0.1:", engine_ports_[cp_id]);
  options.kafka_bootstrap = bootstrap_;
  options.simulation = true;
  options.tick = absl::Milliseconds(100);
  absl::StatusOr<std::unique_ptr<CpEngine>> engine = CpEngine::Start(std::move(options));
  if (!engine.ok()) return engine.status();
  engine_ports_[cp_id] = (*engine)->port();  // the same again after a restart
  engines_[cp_id] = *std::move(engine);
  return absl::OkStatus();
}

absl::Status InProcessNetwork::StopEngine(const std::string& cp_id) {
  if (engines_.erase(cp_id) == 0) return absl::NotFoundError(cp_id + " has no engine running");
  return absl::OkStatus();
}

absl::Status InProcessNetwork::StartMonitor(const std::string& cp_id) {
  CpMonitorOptions options;
  options.monitor.cp_id = cp_id;
  options.monitor.check_timeout = absl::Milliseconds(80);
  options.monitor.failure_threshold = 3;
  options.engine_address = absl::StrCat("127.0.0.1:", engine_ports_[cp_id]);
  options.central_address = absl::StrCat("127.0.0.1:", central_->port());
  options.check_interval = kCheckInterval;
  options.recheck_interval = absl::Milliseconds(50);
  absl::StatusOr<std::unique_ptr<CpMonitor>> monitor = CpMonitor::Start(std::move(options));
  if (!monitor.ok()) return monitor.status();
  monitors_[cp_id] = *std::move(monitor);
  return absl::OkStatus();
}

absl::Status InProcessNetwork::StopMonitor(const std::string& cp_id) {
  if (monitors_.erase(cp_id) == 0) return absl::NotFoundError(cp_id + " has no monitor running");
  return absl::OkStatus();
}

absl::StatusOr<std::string> InProcessNetwork::RequestCharge(const std::string& driver_id,
                                                            const std::string& cp_id,
                                                            const std::string& request_id) {
  v1::DriverRequest request;
  request.set_request_id(request_id.empty() ? absl::StrCat(driver_id, "-", ++requests_)
                                            : request_id);
  request.set_driver_id(driver_id);
  request.set_cp_id(cp_id);
  *request.mutable_requested_at() = ToProto(absl::Now());
  absl::Status taken = producer_->ProduceAndWait(kDriverRequestsTopic, driver_id,
                                                 ToJson(request), absl::Seconds(5));
  if (!taken.ok()) return taken;
  return request.request_id();
}

v1::CpStatus InProcessNetwork::Status(const std::string& cp_id) {
  return CpStatusOf(*api_, cp_id);
}

bool InProcessNetwork::WaitForStatus(const std::string& cp_id, v1::CpStatus status,
                                     absl::Duration timeout) {
  return WaitFor([&] { return Status(cp_id) == status; }, timeout, absl::Milliseconds(20));
}

std::vector<v1::Session> InProcessNetwork::Sessions() { return SessionsOf(*api_); }

absl::Status InProcessNetwork::StopCp(const std::string& cp_id) { return StopCpAt(*api_, cp_id); }

absl::Status InProcessNetwork::ResumeCp(const std::string& cp_id) {
  return ResumeCpAt(*api_, cp_id);
}

absl::Status InProcessNetwork::Simulate(const std::string& cp_id, v1::SimulateAction action) {
  CpEngine* cp = engine(cp_id);
  if (cp == nullptr) return absl::NotFoundError(cp_id + " has no engine running");
  v1::SimulateRequest request;
  request.set_action(action);
  return cp->engine().Simulate(request).status();
}

}  // namespace evnet::test
