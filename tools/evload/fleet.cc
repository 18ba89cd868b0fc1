#include "tools/evload/fleet.h"

#include <atomic>
#include <cmath>
#include <functional>
#include <thread>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/files.h"
#include "common/grpc/grpc_channel.h"
#include "common/grpc/reconnect_backoff.h"
#include "common/grpc/monitor_uplink.h"
#include "common/trust/signing.h"
#include "common/json_codec.h"
#include "common/proto_time.h"
#include "common/kafka/topics.h"
#include "glog/logging.h"

namespace evnet::evload {
namespace {

constexpr double kPowerKw = 22;
constexpr double kPrice = 0.30;
// Real monitors report at independent moments, so the fleet's 1 Hz reports
// are spread evenly over the second: each 10 ms tick, one hundredth of the
// CPs report. (Reporting a tenth of them together every 100 ms made bursts
// of 1,000 messages that every other message, a command's answer among
// them, queued behind at both ends: the load generator's artefact, not
// central's.)
constexpr absl::Duration kTick = absl::Milliseconds(10);
constexpr int kBuckets = 100;  // each CP reports once per kBuckets ticks: 1 s
// Each CP is checked for a due reconnection once per kReconnectBuckets ticks.
constexpr int kReconnectBuckets = 10;
constexpr int kShards = 4;

std::string CpId(const FleetOptions& options, int i) {
  return absl::StrFormat("LOAD-%05d", options.first_cp + i);
}

}  // namespace

// One CP: its engine's state and its monitor's current link.
class SimulatedCp : public std::enable_shared_from_this<SimulatedCp> {
 public:
  // A new stub on a connection of its own, for a CP that has one.
  using StubMaker = std::function<std::unique_ptr<v1::CentralService::Stub>()>;
  // `key_pem`: the CP's key, to sign its results with; empty: unsigned.
  // `new_stub`: as a real monitor, each failed attempt is followed by one
  // on a new connection; null: the CP shares `stub`'s connection.
  // `connecting`: the fleet's count of links attempting, at most
  // `max_connecting` (0: any number).
  SimulatedCp(std::string id, v1::CentralService::Stub* stub, StubMaker new_stub,
              KafkaProducer& producer, std::string key_pem,
              std::shared_ptr<std::atomic<int>> connecting, int max_connecting)
      : id_(std::move(id)),
        shared_stub_(stub),
        new_stub_(std::move(new_stub)),
        producer_(producer),
        key_pem_(std::move(key_pem)),
        connecting_(std::move(connecting)),
        max_connecting_(max_connecting) {}

  const std::string& id() const { return id_; }
  void Connect();
  // Once a second: health, telemetry, the end of a session.
  // Each reads the time under the CP's lock, so that it is never before the
  // start of a session that a command began meanwhile.
  void Second(absl::Duration session_length);
  void Reconnect(absl::Time now);  // if due
  void SetBroken(bool broken);
  void DropLink();
  void Close();  // for good
  // Waits (at most `timeout`) until the current link, if any, is done.
  void WaitUnlinked(absl::Duration timeout) {
    absl::MutexLock lock(&mu);
    auto unlinked = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return link_ == nullptr; };
    mu.AwaitWithTimeout(absl::Condition(&unlinked), timeout);
  }

  // From the link.
  void OnCommand(const v1::CentralCommand& command, MonitorUplink& link);
  void LinkEnded(MonitorUplink* link, const grpc::Status& status);

  absl::Mutex mu;
  bool registered ABSL_GUARDED_BY(mu) = false;
  bool broken ABSL_GUARDED_BY(mu) = false;
  absl::Time broken_since ABSL_GUARDED_BY(mu) = absl::InfinitePast();
  v1::SupplySnapshot session ABSL_GUARDED_BY(mu);  // session_id set while supplying
  std::string telemetry_key ABSL_GUARDED_BY(mu);   // the session's, from its start
  absl::Time started ABSL_GUARDED_BY(mu);
  int64_t reports ABSL_GUARDED_BY(mu) = 0;
  int64_t sessions ABSL_GUARDED_BY(mu) = 0;
  int64_t results ABSL_GUARDED_BY(mu) = 0;
  int64_t reconnects ABSL_GUARDED_BY(mu) = 0;

 private:
  void EndSessionLocked(v1::SessionEndReason reason, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // This link no longer counts as attempting (registered, or ended).
  void AttemptOverLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  v1::MonitorMessage HealthLocked(absl::Time now) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  const std::string id_;
  v1::CentralService::Stub* const shared_stub_;
  const StubMaker new_stub_;
  KafkaProducer& producer_;
  const std::string key_pem_;
  const std::shared_ptr<std::atomic<int>> connecting_;
  const int max_connecting_;
  std::unique_ptr<v1::CentralService::Stub> own_stub_ ABSL_GUARDED_BY(mu);
  MonitorUplink* link_ ABSL_GUARDED_BY(mu) = nullptr;
  absl::Time reconnect_at_ ABSL_GUARDED_BY(mu) = absl::InfinitePast();  // connect at once
  absl::Time attempt_started_ ABSL_GUARDED_BY(mu);
  bool attempting_ ABSL_GUARDED_BY(mu) = false;  // counted in *connecting_
  bool renew_stub_ ABSL_GUARDED_BY(mu) = true;
  ReconnectBackoff backoff_ ABSL_GUARDED_BY(mu);
  bool closing_ ABSL_GUARDED_BY(mu) = false;
};

void SimulatedCp::Connect() {
  // Only this CP's ticker connects it. A new connection's credentials are
  // read from files, and the old connection is closed, neither under mu.
  bool renew;
  {
    absl::MutexLock lock(&mu);
    renew = new_stub_ != nullptr && renew_stub_;
  }
  std::unique_ptr<v1::CentralService::Stub> stub = renew ? new_stub_() : nullptr;
  absl::MutexLock lock(&mu);  // released before `stub` (the old one) goes
  if (stub != nullptr) {
    std::swap(stub, own_stub_);
    renew_stub_ = false;
  }
  v1::MonitorMessage hello;
  v1::ChargingPointInfo* info = hello.mutable_register_();
  info->set_cp_id(id_);
  info->set_location("evload");
  info->set_price_eur_per_kwh(kPrice);
  info->set_power_kw(kPowerKw);
  info->set_telemetry_mac(true);
  reconnect_at_ = absl::InfiniteFuture();
  attempt_started_ = absl::Now();
  if (!attempting_) connecting_->fetch_add(1);
  attempting_ = true;
  std::shared_ptr<SimulatedCp> self = shared_from_this();
  link_ = MonitorUplink::Start(
      own_stub_ != nullptr ? own_stub_.get() : shared_stub_, hello,
      {[self](MonitorUplink& link, const v1::CentralCommand& command) {
         self->OnCommand(command, link);
       },
       [self](MonitorUplink* link, const grpc::Status& status) { self->LinkEnded(link, status); }});
}

void SimulatedCp::Reconnect(absl::Time now) {
  {
    absl::MutexLock lock(&mu);
    if (link_ != nullptr || now < reconnect_at_ || closing_) return;
    if (max_connecting_ > 0 && connecting_->load() >= max_connecting_) return;  // next time
    if (reconnect_at_ != absl::InfinitePast()) ++reconnects;
  }
  Connect();
}

void SimulatedCp::LinkEnded(MonitorUplink* link, const grpc::Status&) {
  absl::MutexLock lock(&mu);
  if (link_ == link) link_ = nullptr;
  const bool was_registered = registered;
  registered = false;
  AttemptOverLocked();
  // As cp_monitor does (common/grpc/reconnect_backoff.h), and after a
  // failed attempt on a new connection.
  const absl::Time now = absl::Now();
  if (!was_registered) renew_stub_ = true;
  reconnect_at_ = now + backoff_.Next(was_registered, now - attempt_started_);
}

void SimulatedCp::AttemptOverLocked() {
  if (attempting_) connecting_->fetch_sub(1);
  attempting_ = false;
}

void SimulatedCp::DropLink() {
  absl::MutexLock lock(&mu);
  if (link_ != nullptr) link_->Cancel();
}

void SimulatedCp::Close() {
  absl::MutexLock lock(&mu);
  closing_ = true;
  if (link_ != nullptr) link_->Cancel();
}

void SimulatedCp::SetBroken(bool now_broken) {
  absl::MutexLock lock(&mu);
  const absl::Time now = absl::Now();
  if (broken == now_broken) return;
  broken = now_broken;
  broken_since = now_broken ? now : absl::InfinitePast();
  if (now_broken && !session.session_id().empty()) {
    EndSessionLocked(v1::SESSION_END_REASON_ENGINE_FAILURE, now);
  }
  // Report at once, as a monitor does on the third failed check.
  if (link_ != nullptr && registered) link_->Write(HealthLocked(now));
}

v1::MonitorMessage SimulatedCp::HealthLocked(absl::Time now) const {
  v1::MonitorMessage message;
  v1::HealthReport* health = message.mutable_health();
  health->set_engine_ok(!broken);
  health->set_engine_state(broken                         ? v1::ENGINE_STATE_FAULT
                           : session.session_id().empty() ? v1::ENGINE_STATE_IDLE
                                                          : v1::ENGINE_STATE_SUPPLYING);
  if (!session.session_id().empty()) *health->mutable_supply() = session;
  *health->mutable_checked_at() = ToProto(now);
  return message;
}

void SimulatedCp::Second(absl::Duration session_length) {
  absl::MutexLock lock(&mu);
  const absl::Time now = absl::Now();
  if (!session.session_id().empty()) {
    const double hours = absl::ToDoubleHours(now - started);
    session.set_energy_kwh(kPowerKw * hours);
    session.set_amount_eur(kPowerKw * hours * kPrice);
    if (now - started >= session_length) {
      EndSessionLocked(v1::SESSION_END_REASON_DURATION_REACHED, now);
    } else {
      v1::SupplyTelemetry telemetry;
      telemetry.set_cp_id(id_);
      *telemetry.mutable_supply() = session;
      *telemetry.mutable_measured_at() = ToProto(now);
      MacTelemetry(telemetry_key, telemetry);
      (void)producer_.Produce(kSupplyTelemetryTopic, id_, ToJson(telemetry), [](absl::Status) {});
    }
  }
  if (link_ != nullptr && registered) {
    link_->Write(HealthLocked(now));
    ++reports;
  }
}

void SimulatedCp::EndSessionLocked(v1::SessionEndReason reason, absl::Time now) {
  v1::SessionResult result;
  result.set_session_id(session.session_id());
  result.set_cp_id(id_);
  result.set_driver_id(session.driver_id());
  result.set_request_id(session.session_id().substr(2));  // "s-<request id>"
  *result.mutable_started_at() = ToProto(started);
  *result.mutable_ended_at() = ToProto(now);
  const double kwh = kPowerKw * absl::ToDoubleHours(now - started);
  result.set_energy_kwh(kwh);
  result.set_price_eur_per_kwh(kPrice);
  result.set_amount_eur(std::round(kwh * kPrice * 100) / 100);
  result.set_end_reason(reason);
  session.Clear();
  ++results;
  (void)SignResult(key_pem_, result);  // unsigned if it cannot: central refuses it
  (void)producer_.Produce(kSessionResultsTopic, id_, ToJson(result), [](absl::Status) {});
}

void SimulatedCp::OnCommand(const v1::CentralCommand& command, MonitorUplink& link) {
  absl::MutexLock lock(&mu);
  const absl::Time now = absl::Now();
  if (command.has_registered()) {
    registered = true;
    AttemptOverLocked();
    link.Write(HealthLocked(now));
    return;
  }
  v1::MonitorMessage reply;
  v1::CommandResult* result = reply.mutable_command_result();
  result->set_command_id(command.command_id());
  if (command.has_start_supply()) {
    const v1::StartSupplyRequest& start = command.start_supply();
    if (session.session_id() == start.session_id()) {
      // Already running it: idempotent.
    } else if (broken || !session.session_id().empty()) {
      result->set_code(static_cast<int>(grpc::StatusCode::FAILED_PRECONDITION));
      result->set_message(broken ? "in fault" : "supplying another session");
    } else {
      session.set_session_id(start.session_id());
      session.set_driver_id(start.driver_id());
      telemetry_key = start.telemetry_key();
      session.set_power_kw(kPowerKw);
      *session.mutable_started_at() = ToProto(now);
      started = now;
      ++sessions;
    }
  } else if (command.has_stop_supply()) {
    const v1::StopSupplyRequest& stop = command.stop_supply();
    if (!session.session_id().empty() &&
        (stop.session_id().empty() || stop.session_id() == session.session_id())) {
      EndSessionLocked(stop.reason(), now);
    }
  }
  link.Write(reply);
}

absl::Status EnrolFleet(const FleetOptions& options, const TransportSecurity& operator_security) {
  auto stub = v1::CentralService::NewStub(
      MakeCentralChannel(options.central_address, operator_security));
  std::atomic<int> next{0};
  absl::Mutex mu;
  absl::Status failed;
  auto enrol = [&] {
    for (int i = next++; i < options.cps; i = next++) {
      const std::string id = CpId(options, i);
      absl::StatusOr<std::string> pem =
          ReadFile(TransportSecurity::FromDir(options.pki_dir, kRoleCp, id).cert_file);
      grpc::Status status;
      if (pem.ok()) {
        v1::EnrollChargingPointRequest request;
        request.set_cp_id(id);
        request.set_certificate_pem(*pem);
        grpc::ClientContext context;
        context.set_deadline(DeadlineIn(absl::Seconds(10)));
        v1::Enrolment enrolment;
        status = stub->EnrollChargingPoint(&context, request, &enrolment);
      }
      if (!pem.ok() || !status.ok()) {
        absl::MutexLock lock(&mu);
        failed = pem.ok() ? absl::UnavailableError(absl::StrCat("enrolling ", id, ": ",
                                                                status.error_message()))
                          : pem.status();
        next = options.cps;  // the others stop too
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) threads.emplace_back(enrol);
  for (std::thread& thread : threads) thread.join();
  return failed;
}

Fleet::Fleet(FleetOptions options, KafkaProducer& producer)
    : options_(std::move(options)), producer_(producer) {
  // Under mutual TLS every CP has a connection of its own, as real ones do.
  const bool own_connections = options_.channels <= 0 || !options_.pki_dir.empty();
  for (int i = 0; !own_connections && i < options_.channels; ++i) {
    channels_.push_back(
        MakeDedicatedChannel(options_.central_address, TransportSecurity::Insecure(), i));
    stubs_.push_back(v1::CentralService::NewStub(channels_.back()));
  }
  for (int i = 0; i < options_.cps; ++i) {
    TransportSecurity security = TransportSecurity::Insecure();
    std::string key;
    if (!options_.pki_dir.empty()) {
      security = TransportSecurity::FromDir(options_.pki_dir, kRoleCp, CpId(options_, i));
      security.reload = absl::ZeroDuration();
      key = ReadFile(security.key_file).value_or("");
    }
    SimulatedCp::StubMaker new_stub;
    if (own_connections) {
      new_stub = [this, security] {
        return v1::CentralService::NewStub(MakeDedicatedChannel(
            options_.central_address, security, next_channel_id_.fetch_add(1)));
      };
    }
    cps_.push_back(std::make_shared<SimulatedCp>(
        CpId(options_, i), own_connections ? nullptr : stubs_[i % options_.channels].get(),
        std::move(new_stub), producer_, std::move(key), connecting_, options_.max_connecting));
  }
  // The tickers connect every CP on their first tick, spread over threads.
  for (int shard = 0; shard < kShards; ++shard) {
    tickers_.emplace_back([this, shard] { Tick(shard); });
  }
}

Fleet::~Fleet() {
  stop_.Notify();
  for (std::thread& ticker : tickers_) ticker.join();
  for (auto& cp : cps_) cp->Close();
  // Wait for every link's OnDone, so that none outlives its channel.
  for (auto& cp : cps_) cp->WaitUnlinked(absl::Seconds(2));
}

void Fleet::Tick(int shard) {
  absl::BitGen gen;
  uint64_t tick = 0;
  absl::Time next_fault = absl::Now() + options_.fault_every;
  std::vector<std::pair<absl::Time, SimulatedCp*>> heal;
  absl::Time next_tick = absl::Now();
  // On a fixed schedule: a slow tick does not stretch the next one.
  while (!stop_.WaitForNotificationWithTimeout(next_tick - absl::Now())) {
    next_tick += kTick;
    const absl::Time now = absl::Now();
    // This shard's CPs are cps_[shard + kShards * j]; bucket b holds the j
    // that are b modulo the number of buckets.
    const size_t reconnect_bucket = tick % kReconnectBuckets;
    const size_t bucket = tick++ % kBuckets;
    for (size_t i = shard + kShards * reconnect_bucket; i < cps_.size();
         i += kShards * kReconnectBuckets) {
      cps_[i]->Reconnect(now);
    }
    for (size_t i = shard + kShards * bucket; i < cps_.size(); i += kShards * kBuckets) {
      cps_[i]->Second(options_.session_length);
    }
    if (shard != 0) continue;
    for (auto it = heal.begin(); it != heal.end();) {
      if (it->first > now) {
        ++it;
        continue;
      }
      it->second->SetBroken(false);
      it = heal.erase(it);
    }
    if (now < next_fault || (options_.fault_share <= 0 && options_.reconnect_share <= 0)) continue;
    next_fault = now + options_.fault_every;
    for (auto& cp : cps_) {
      if (absl::Bernoulli(gen, options_.fault_share)) {
        cp->SetBroken(true);
        heal.emplace_back(now + options_.fault_length, cp.get());
      }
      if (absl::Bernoulli(gen, options_.reconnect_share)) cp->DropLink();
    }
  }
}

Fleet::Counts Fleet::counts() const {
  Counts counts;
  for (const auto& cp : cps_) {
    absl::MutexLock lock(&cp->mu);
    counts.connected += cp->registered ? 1 : 0;
    counts.supplying += cp->session.session_id().empty() ? 0 : 1;
    counts.reports += cp->reports;
    counts.sessions += cp->sessions;
    counts.results += cp->results;
    counts.reconnects += cp->reconnects;
  }
  return counts;
}

std::vector<std::string> Fleet::IdleCps(size_t max) const {
  std::vector<std::string> out;
  thread_local absl::BitGen gen;
  const size_t start = absl::Uniform<size_t>(gen, 0, cps_.size());
  for (size_t k = 0; k < cps_.size() && out.size() < max; ++k) {
    const auto& cp = cps_[(start + k) % cps_.size()];
    absl::MutexLock lock(&cp->mu);
    if (cp->registered && !cp->broken && cp->session.session_id().empty()) out.push_back(cp->id());
  }
  return out;
}

absl::Time Fleet::BrokenSince(const std::string& cp_id) const {
  // Ids are LOAD-<n>: find it by number.
  int n = 0;
  if (cp_id.size() < 6 || !absl::SimpleAtoi(cp_id.substr(5), &n)) return absl::InfinitePast();
  const int i = n - options_.first_cp;
  if (i < 0 || i >= static_cast<int>(cps_.size())) return absl::InfinitePast();
  absl::MutexLock lock(&cps_[i]->mu);
  return cps_[i]->broken_since;
}

}  // namespace evnet::evload
