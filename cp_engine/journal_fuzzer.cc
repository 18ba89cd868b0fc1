// Fuzzes the journal an engine reads back when it starts: whatever is in
// --state_dir/journal.json (a disk that lost a write, a person's edit, a
// journal of another version), the engine either recovers from it or
// refuses it with an error that names the file, and every result it
// publishes from it is one central would accept (ValidateSessionResult):
// nothing it cannot bill, no crash, no sanitizer report.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/validation.h"
#include "cp_engine/charging_engine.h"
#include "glog/logging.h"

namespace evnet {
namespace {

// Keeps what the engine publishes; never acknowledges (the acknowledgement
// would come from Kafka's thread, after Recover).
class KeepingPublisher : public EventPublisher {
 public:
  void PublishTelemetry(const v1::SupplyTelemetry& telemetry) override {
    telemetry_.push_back(telemetry);
  }
  absl::Status PublishResult(const v1::SessionResult& result,
                             std::function<void(absl::Status)>) override {
    results_.push_back(result);
    return absl::OkStatus();
  }
  std::vector<v1::SupplyTelemetry> telemetry_;
  std::vector<v1::SessionResult> results_;
};

std::string StateDir() {
  // tmpfs when there is one: the engine fsyncs its journal.
  const char* base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : std::getenv("TEST_TMPDIR");
  return absl::StrCat(base != nullptr ? base : "/tmp", "/evnet-journal-fuzz-", getpid());
}

}  // namespace
}  // namespace evnet

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  FLAGS_minloglevel = 3;  // the engine's log lines are not what is looked at
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace evnet;
  static const std::string dir = StateDir();
  EngineOptions options;
  options.info.set_cp_id("CP-001");
  options.info.set_price_eur_per_kwh(0.3);
  options.info.set_power_kw(22);
  options.state_dir = dir;
  Journal(dir).Open().IgnoreError();
  {
    std::ofstream out(dir + "/journal.json", std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  FakeClock clock(absl::FromUnixSeconds(1'800'000'000));
  KeepingPublisher publisher;
  {
    ChargingEngine engine(options, clock, publisher);
    const absl::Status recovered = engine.Recover();
    if (!recovered.ok() &&
        recovered.message().find(dir + "/journal.json") == std::string::npos) {
      std::fprintf(stderr, "refused without naming the journal: %s\n",
                   recovered.ToString().c_str());
      std::abort();
    }
    if (recovered.ok()) {
      clock.Advance(absl::Seconds(1));
      engine.Tick();
      (void)engine.Check();
    }
  }
  for (const v1::SessionResult& result : publisher.results_) {
    if (absl::Status valid = ValidateSessionResult(result); !valid.ok()) {
      std::fprintf(stderr, "published a result central refuses: %s\n%s\n",
                   valid.ToString().c_str(), result.DebugString().c_str());
      std::abort();
    }
  }
  return 0;
}
