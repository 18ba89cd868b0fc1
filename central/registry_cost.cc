// registry_cost: what central's once-a-second reconciliation pays to read
// every CP's report (Registry::Reports) at fleet sizes, next to a baseline
// measured in the same run (copying the same number of CP ids).
//
//   bazel run -c opt //central:registry_cost -- --sizes=1000,10000,60000
//
// A tenth of the CPs are supplying; every CP reports (is not DISCONNECTED).
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "central/registry.h"
#include "common/clock.h"

ABSL_FLAG(std::vector<std::string>, sizes, std::vector<std::string>({"1000", "10000", "60000"}),
          "fleet sizes to measure");
ABSL_FLAG(int, iterations, 50, "calls timed at each size");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  using namespace evnet;
  std::cout << "| CPs reporting | Reports(), ms per call | baseline: copying their ids, ms | "
               "CPU at one call a second, % of a core |\n|---|---|---|---|\n";
  for (const std::string& size : absl::GetFlag(FLAGS_sizes)) {
    const int n = std::stoi(size);
    FakeClock clock;
    Registry registry(clock, absl::Seconds(3));
    registry.FinishRestore();
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) {
      v1::ChargingPointInfo info;
      info.set_cp_id(absl::StrFormat("CP-%06d", i));
      registry.Register(info);
      v1::HealthReport report;
      report.set_engine_ok(true);
      report.set_engine_state(i % 10 == 0 ? v1::ENGINE_STATE_SUPPLYING : v1::ENGINE_STATE_IDLE);
      if (i % 10 == 0) report.mutable_supply()->set_session_id(absl::StrCat("s-req-", i));
      registry.Report(info.cp_id(), report);
      ids.push_back(info.cp_id());
    }
    const int iterations = absl::GetFlag(FLAGS_iterations);
    size_t seen = 0;
    absl::Time start = SystemClock::Get().Steady();
    for (int i = 0; i < iterations; ++i) seen += registry.Reports().size();
    const double reports_ms = absl::ToDoubleMilliseconds(SystemClock::Get().Steady() - start) / iterations;
    start = SystemClock::Get().Steady();
    for (int i = 0; i < iterations; ++i) seen += std::vector<std::string>(ids).size();
    const double baseline_ms = absl::ToDoubleMilliseconds(SystemClock::Get().Steady() - start) / iterations;
    if (seen != static_cast<size_t>(2 * n * iterations)) {
      std::cerr << "registry_cost: " << size << " CPs registered, not all report\n";
      return 1;
    }
    std::cout << absl::StrFormat("| %d | %.3f | %.3f | %.2f |\n", n, reports_ms, baseline_ms,
                                 reports_ms / 10);
  }
  return 0;
}
