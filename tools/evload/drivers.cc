#include "tools/evload/drivers.h"

#include <map>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc/grpc_channel.h"
#include "common/ids.h"
#include "common/json_codec.h"
#include "common/kafka/kafka_admin.h"
#include "common/kafka/kafka_consumer.h"
#include "common/proto_time.h"
#include "common/kafka/topics.h"
#include "evnet/v1/events.pb.h"

namespace evnet::evload {
namespace {

constexpr absl::Duration kKafkaTimeout = absl::Seconds(10);
constexpr absl::Duration kWarmUp = absl::Seconds(2);

// A consumer of every partition of `topic`, from its end.
absl::StatusOr<std::unique_ptr<KafkaConsumer>> TailOf(const std::string& bootstrap,
                                                      const std::string& topic,
                                                      const std::string& group) {
  absl::StatusOr<std::unique_ptr<KafkaAdmin>> admin = KafkaAdmin::Create(bootstrap);
  if (!admin.ok()) return admin.status();
  absl::StatusOr<std::vector<KafkaTopicPartition>> partitions =
      (*admin)->Partitions({topic}, kKafkaTimeout);
  if (!partitions.ok()) return partitions.status();
  KafkaConsumerOptions options;
  options.bootstrap_servers = bootstrap;
  options.group_id = group;
  options.client_id = group;
  options.partitions = *partitions;
  options.start_from_beginning = false;
  options.properties["fetch.wait.max.ms"] = "10";
  return KafkaConsumer::Create(options);
}

}  // namespace

absl::Status RunDrivers(const DriverLoadOptions& options, Fleet& fleet, KafkaProducer& producer,
                        DriverLoadResult& result) {
  absl::StatusOr<std::unique_ptr<KafkaConsumer>> updates =
      TailOf(options.kafka_bootstrap, kDriverUpdatesTopic, NewId("evload-drivers"));
  if (!updates.ok()) return updates.status();
  // Let the consumer find the end of its partitions before anything is sent.
  (void)(*updates)->Next(absl::Seconds(1));

  absl::Mutex mu;
  std::vector<std::string> free_drivers;
  // Ids of this run only: a past run's sessions never block this one's drivers.
  const std::string run = NewId("load");
  for (int i = 0; i < options.drivers; ++i) free_drivers.push_back(absl::StrCat(run, "-", i));
  std::set<std::string> reserved_cps;
  std::map<std::string, std::pair<absl::Time, std::string>> waiting;  // request -> sent, CP
  std::map<std::string, std::string> session_cp;                      // driver -> CP
  std::atomic<bool> stop{false};
  // Requests of the first seconds are answered but not timed: connections
  // and metadata are still warming up (the echo baseline does the same).
  const absl::Time warm = absl::Now() + kWarmUp;

  std::thread reader([&] {
    while (!stop) {
      absl::StatusOr<std::optional<KafkaMessage>> m = (*updates)->Next(absl::Milliseconds(100));
      if (!m.ok() || !m->has_value()) continue;
      absl::StatusOr<v1::DriverUpdate> update = FromJson<v1::DriverUpdate>((*m)->value);
      if (!update.ok()) continue;
      const absl::Time now = absl::Now();
      absl::MutexLock lock(&mu);
      auto it = waiting.find(update->request_id());
      switch (update->kind()) {
        case v1::UPDATE_KIND_ACCEPTED:
          if (it == waiting.end()) break;
          if (it->second.first >= warm) result.accept_latency.Add(now - it->second.first);
          ++result.accepted;
          session_cp[update->driver_id()] = it->second.second;
          waiting.erase(it);
          break;
        case v1::UPDATE_KIND_REJECTED:
          if (it == waiting.end()) break;
          ++result.rejected;
          reserved_cps.erase(it->second.second);
          free_drivers.push_back(update->driver_id());
          waiting.erase(it);
          break;
        case v1::UPDATE_KIND_ENDED:
          if (auto s = session_cp.find(update->driver_id()); s != session_cp.end()) {
            ++result.tickets;
            reserved_cps.erase(s->second);
            session_cp.erase(s);
            free_drivers.push_back(update->driver_id());
          }
          break;
        default:
          break;
      }
    }
  });

  const absl::Duration every = absl::Seconds(1) / options.rate;
  const absl::Time end = absl::Now() + options.duration;
  absl::Time next = absl::Now();
  int64_t n = 0;
  std::vector<std::string> idle;
  while (absl::Now() < end) {
    absl::SleepFor(std::max(absl::ZeroDuration(), next - absl::Now()));  // the send schedule
    next += every;
    if (idle.empty()) idle = fleet.IdleCps(256);
    std::string driver, cp;
    {
      absl::MutexLock lock(&mu);
      while (!idle.empty() && reserved_cps.count(idle.back()) > 0) idle.pop_back();
      if (free_drivers.empty() || idle.empty()) continue;  // nothing to ask for now
      driver = free_drivers.back();
      free_drivers.pop_back();
      cp = idle.back();
      idle.pop_back();
      reserved_cps.insert(cp);
    }
    v1::DriverRequest request;
    request.set_request_id(absl::StrCat(driver, "-", ++n, "-", absl::ToUnixMicros(absl::Now())));
    request.set_driver_id(driver);
    request.set_cp_id(cp);
    const absl::Time sent = absl::Now();
    *request.mutable_requested_at() = ToProto(sent);
    {
      absl::MutexLock lock(&mu);
      waiting[request.request_id()] = {sent, cp};
      ++result.sent;
    }
    (void)producer.Produce(kDriverRequestsTopic, driver, ToJson(request), [](absl::Status) {});
  }
  // Answers still on their way.
  {
    absl::MutexLock lock(&mu);
    auto answered = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return waiting.empty(); };
    mu.AwaitWithTimeout(absl::Condition(&answered), absl::Seconds(10));
  }
  stop = true;
  reader.join();
  return absl::OkStatus();
}

absl::Status WriteHistory(KafkaProducer& producer, int64_t records, absl::Duration age) {
  const absl::Time start = absl::Now() - age;
  std::atomic<int64_t> failed{0};
  for (int64_t i = 0; i < records; ++i) {
    v1::DriverUpdate update;
    const std::string request = absl::StrCat("history-", i);
    update.set_update_id(absl::StrCat(request, "/ended"));
    update.set_request_id(request);
    update.set_session_id(absl::StrCat("s-", request));
    update.set_driver_id(absl::StrCat("history-driver-", i % 1000));
    update.set_cp_id(absl::StrCat("HISTORY-", i % 1000));
    update.set_kind(v1::UPDATE_KIND_ENDED);
    const absl::Time at = start + absl::Milliseconds(i % 600000);  // within ten minutes
    *update.mutable_sent_at() = ToProto(at);
    v1::SessionResult* ticket = update.mutable_ticket();
    ticket->set_session_id(update.session_id());
    ticket->set_energy_kwh(7.35);
    ticket->set_amount_eur(2.21);
    const std::string json = ToJson(update);
    for (const auto& [topic, key] : {std::make_pair(kDriverUpdatesTopic, update.driver_id()),
                                     std::make_pair(kCentralLedgerTopic, request)}) {
      while (true) {
        absl::Status queued = producer.Produce(
            topic, key, json, [&failed](absl::Status s) { failed += s.ok() ? 0 : 1; }, at);
        if (queued.ok()) break;
        if (!absl::IsResourceExhausted(queued)) return queued;
        (void)producer.Flush(absl::Milliseconds(100));  // the queue is full: let it drain
      }
    }
  }
  absl::Status flushed = producer.Flush(absl::Minutes(5));
  if (!flushed.ok()) return flushed;
  if (failed > 0) return absl::UnavailableError(absl::StrCat(failed.load(), " records not delivered"));
  return absl::OkStatus();
}

absl::Status RunKafkaEcho(const std::string& bootstrap, double rate, absl::Duration duration,
                          Samples& round_trips) {
  const std::string in = "evnet.bench.echo.in", out = "evnet.bench.echo.out";
  {
    absl::StatusOr<std::unique_ptr<KafkaAdmin>> admin = KafkaAdmin::Create(bootstrap);
    if (!admin.ok()) return admin.status();
    absl::Status made = (*admin)->EnsureTopics(
        {{in, kTopicPartitions, false}, {out, kTopicPartitions, false}}, kKafkaTimeout);
    if (!made.ok()) return made;
  }
  KafkaProducerOptions producer_options;
  producer_options.bootstrap_servers = bootstrap;
  absl::StatusOr<std::unique_ptr<KafkaProducer>> first = KafkaProducer::Create(producer_options);
  absl::StatusOr<std::unique_ptr<KafkaProducer>> second = KafkaProducer::Create(producer_options);
  if (!first.ok()) return first.status();
  if (!second.ok()) return second.status();
  absl::StatusOr<std::unique_ptr<KafkaConsumer>> echo_in = TailOf(bootstrap, in, NewId("echo-in"));
  absl::StatusOr<std::unique_ptr<KafkaConsumer>> echo_out = TailOf(bootstrap, out, NewId("echo-out"));
  if (!echo_in.ok()) return echo_in.status();
  if (!echo_out.ok()) return echo_out.status();
  (void)(*echo_in)->Next(absl::Seconds(1));
  (void)(*echo_out)->Next(absl::Seconds(1));
  std::atomic<bool> stop{false};
  const absl::Time warm = absl::Now() + kWarmUp;
  // The middle hop, as central: consume, produce.
  std::thread middle([&] {
    while (!stop) {
      absl::StatusOr<std::optional<KafkaMessage>> m = (*echo_in)->Next(absl::Milliseconds(100));
      if (!m.ok() || !m->has_value()) continue;
      (void)(*second)->Produce(out, (*m)->key, (*m)->value, [](absl::Status) {});
    }
  });
  std::thread last([&] {
    while (!stop) {
      absl::StatusOr<std::optional<KafkaMessage>> m = (*echo_out)->Next(absl::Milliseconds(100));
      if (!m.ok() || !m->has_value()) continue;
      int64_t sent_us = 0;
      if (absl::SimpleAtoi((*m)->value, &sent_us) && absl::FromUnixMicros(sent_us) >= warm) {
        round_trips.Add(absl::Now() - absl::FromUnixMicros(sent_us));
      }
    }
  });
  const absl::Duration every = absl::Seconds(1) / rate;
  const absl::Time end = absl::Now() + duration;
  absl::Time next = absl::Now();
  for (int64_t i = 0; absl::Now() < end; ++i) {
    absl::SleepFor(std::max(absl::ZeroDuration(), next - absl::Now()));  // the send schedule
    next += every;
    (void)(*first)->Produce(in, absl::StrCat("k", i % 100), absl::StrCat(absl::ToUnixMicros(absl::Now())),
                            [](absl::Status) {});
  }
  absl::SleepFor(absl::Seconds(2));  // the last round trips
  stop = true;
  middle.join();
  last.join();
  return absl::OkStatus();
}

void WatchFaults(const std::string& central_address, const TransportSecurity& security,
                 Fleet& fleet, std::atomic<bool>& stop, Samples& visible) {
  auto stub = v1::CentralService::NewStub(MakeCentralChannel(central_address, security));
  while (!stop) {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReader<v1::ChargingPoint>> watch =
        stub->WatchChargingPoints(&context, {});
    std::thread canceller([&] {
      while (!stop) absl::SleepFor(absl::Milliseconds(100));
      context.TryCancel();
    });
    v1::ChargingPoint cp;
    while (watch->Read(&cp)) {
      if (cp.status() != v1::CP_STATUS_BROKEN) continue;
      const absl::Time since = fleet.BrokenSince(cp.info().cp_id());
      if (since != absl::InfinitePast()) visible.Add(absl::Now() - since);
    }
    (void)watch->Finish();
    canceller.join();
  }
}

}  // namespace evnet::evload
