// Fuzzes the session coordinator with what drivers and engines may send:
// requests, results and telemetry as the JSON central reads from Kafka, in
// any order, interleaved with CP faults, CPs that refuse to start and time
// passing. Three CPs, CP-001 to CP-003, are registered and ACTIVE.
//
// Input: one event per line; the first character says what it is:
//   r{json}  a DriverRequest (the message key is its driver_id)
//   s{json}  a SessionResult
//   t{json}  a SupplyTelemetry
//   b1 / u1  CP-001 (1 to 3) reports its engine broken / well again
//   f / o    CPs refuse the next starts / accept them
//   a<n>     n seconds pass
//
// Properties, beyond "no crash, no sanitizer report":
//  - every message is answered exactly once (nothing stalls);
//  - a ticket goes only to a session central accepted, to its driver, for
//    its CP, at most once, and is a result central would accept.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "central/coordinator.h"
#include "central/fakes.h"
#include "central/metrics.h"
#include "central/registry.h"
#include "common/clock.h"
#include "common/json_codec.h"
#include "common/kafka/topics.h"
#include "common/validation.h"
#include "glog/logging.h"

namespace evnet {
namespace {

void Require(bool holds, const std::string& what) {
  if (holds) return;
  std::fprintf(stderr, "property broken: %s\n", what.c_str());
  std::abort();
}

class Network {
 public:
  Network()
      : registry_(clock_, absl::Seconds(3)),
        coordinator_(CoordinatorOptions(), clock_, registry_, sender_, publisher_, metrics_) {
    registry_.FinishRestore();
    coordinator_.FinishRestore();
    for (const char* cp : {"CP-001", "CP-002", "CP-003"}) {
      v1::ChargingPointInfo info;
      info.set_cp_id(cp);
      info.set_price_eur_per_kwh(0.3);
      info.set_power_kw(22);
      (void)registry_.Register(info);
      Report(cp);
    }
  }

  void Event(absl::string_view line) {
    if (line.empty()) return;
    const absl::string_view rest = line.substr(1);
    switch (line[0]) {
      case 'r': {
        v1::DriverRequest request;
        if (!FromJson(rest, &request).ok()) return;
        KafkaMessage message;
        message.topic = kDriverRequestsTopic;
        message.key = request.driver_id();
        message.value = std::string(rest);
        message.timestamp = clock_.Now();
        Handle([&](Done done) { coordinator_.HandleRequest(request, message, std::move(done)); });
        return;
      }
      case 's': {
        v1::SessionResult result;
        if (!FromJson(rest, &result).ok()) return;
        Handle([&](Done done) { coordinator_.HandleResult(result, std::move(done)); });
        return;
      }
      case 't': {
        v1::SupplyTelemetry telemetry;
        if (FromJson(rest, &telemetry).ok()) (void)coordinator_.HandleTelemetry(telemetry);
        return;
      }
      case 'b':
      case 'u':
        if (rest.size() == 1 && rest[0] >= '1' && rest[0] <= '3') {
          const std::string cp = std::string("CP-00") + rest[0];
          if (line[0] == 'b') broken_.insert(cp); else broken_.erase(cp);
          Report(cp);
        }
        return;
      case 'f': sender_.status = absl::FailedPreconditionError("the engine refused"); return;
      case 'o': sender_.status = absl::OkStatus(); return;
      case 'a': {
        int seconds = 0;
        if (absl::SimpleAtoi(rest, &seconds) && seconds > 0 && seconds <= 3600) {
          clock_.Advance(absl::Seconds(seconds));
          for (const char* cp : {"CP-001", "CP-002", "CP-003"}) Report(cp);  // monitors alive
          coordinator_.Prune();
        }
        return;
      }
      default: return;
    }
  }

  void Check() const {
    std::map<std::string, v1::DriverUpdate> accepted;  // by session id
    std::set<std::string> ticketed;
    for (const v1::DriverUpdate& update : publisher_.updates) {
      if (update.kind() == v1::UPDATE_KIND_ACCEPTED) accepted[update.session_id()] = update;
      if (update.kind() != v1::UPDATE_KIND_ENDED) continue;
      const v1::SessionResult& ticket = update.ticket();
      auto it = accepted.find(ticket.session_id());
      Require(it != accepted.end(),
              "a ticket for a session never accepted: " + ticket.session_id());
      Require(it->second.driver_id() == ticket.driver_id() && it->second.cp_id() == ticket.cp_id(),
              "a ticket for another driver or CP than the accepted session's");
      Require(update.driver_id() == ticket.driver_id(), "a ticket sent to another driver");
      Require(ticketed.insert(ticket.session_id()).second,
              "a session ticketed twice: " + ticket.session_id());
      Require(ValidateSessionResult(ticket).ok(), "a ticket central should have refused");
    }
  }

 private:
  // Runs a handler whose effects are all synchronous here: it must answer
  // once, before it returns.
  template <typename F>
  void Handle(F handler) {
    int answers = 0;
    handler([&answers](absl::Status) { ++answers; });
    Require(answers == 1, "a message answered " + std::to_string(answers) + " times");
  }

  void Report(const std::string& cp) {
    const bool ok = broken_.count(cp) == 0;
    v1::HealthReport report;
    report.set_engine_ok(ok);
    report.set_engine_state(ok ? v1::ENGINE_STATE_IDLE : v1::ENGINE_STATE_FAULT);
    registry_.Report(cp, report);
    Sweep();
  }

  void Sweep() {
    for (const StatusChange& change : registry_.Sweep()) coordinator_.OnStatusChange(change);
  }

  FakeClock clock_;
  Registry registry_;
  FakeCommandSender sender_;
  FakeUpdatePublisher publisher_;
  Metrics metrics_;
  SessionCoordinator coordinator_;
  std::set<std::string> broken_;
};

}  // namespace
}  // namespace evnet

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  FLAGS_minloglevel = 3;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  evnet::Network network;
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  int events = 0;
  for (absl::string_view line : absl::StrSplit(input, '\n')) {
    if (++events > 200) break;  // long enough to reach any state
    network.Event(line);
  }
  network.Check();
  return 0;
}
