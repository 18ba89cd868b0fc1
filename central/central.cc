#include "central/central.h"

#include <iostream>

#include "central/cp_table.h"
#include "common/clock.h"
#include "glog/logging.h"

namespace evnet {

absl::StatusOr<std::unique_ptr<Central>> Central::Start(const CentralOptions& options) {
  KafkaProducerOptions kafka;
  kafka.bootstrap_servers = options.kafka_bootstrap;
  kafka.client_id = "central";
  absl::StatusOr<std::unique_ptr<KafkaProducer>> producer = KafkaProducer::Create(kafka);
  if (!producer.ok()) return producer.status();
  std::unique_ptr<Central> central(new Central(options, *std::move(producer)));
  absl::StatusOr<std::unique_ptr<GrpcServer>> server =
      GrpcServer::Start({options.listen, {&central->service_}});
  if (!server.ok()) return server.status();
  central->server_ = *std::move(server);
  central->bridge_ = std::make_unique<KafkaBridge>(
      KafkaBridgeOptions{options.kafka_bootstrap, "evnet-central", options.startup_grace},
      central->registry_, central->store_, central->coordinator_);
  central->sweeper_ =
      std::make_unique<Ticker>(absl::Milliseconds(200), [c = central.get()] { c->Sweep(); });
  LOG(INFO) << "Central | Serving CentralService on " << WithPort(options.listen, central->port())
            << "; Kafka at " << options.kafka_bootstrap;
  return central;
}

Central::Central(const CentralOptions& options, std::unique_ptr<KafkaProducer> producer)
    : options_(options),
      producer_(std::move(producer)),
      publisher_(*producer_),
      store_(*producer_),
      registry_(SystemClock::Get(), options.monitor_timeout),
      hub_(SystemClock::Get(), options.monitor_timeout),
      coordinator_(options.coordinator, SystemClock::Get(), registry_, hub_, publisher_),
      service_(registry_, hub_, coordinator_, store_) {}

Central::~Central() {
  if (sweeper_ != nullptr) sweeper_->Stop();
  bridge_.reset();
  if (server_ != nullptr) server_->Shutdown();
}

void Central::Sweep() {
  for (const StatusChange& change : registry_.Sweep()) coordinator_.OnStatusChange(change);
  if (!options_.print_table) return;
  std::string table = RenderCpTable(registry_.List(), options_.color);
  if (table == last_table_) return;
  last_table_ = table;
  std::cout << table << std::endl;
}

}  // namespace evnet
