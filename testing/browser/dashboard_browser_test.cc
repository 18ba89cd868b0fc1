// The dashboard in real headless Chromium (Debian's chromium, driven by
// playwright-core): a running network's CPs in the right colours, a supply's
// kWh growing live, Stop turning a CP orange and ending its session with a
// ticket, a killed engine turning its CP red, and its restart green again;
// an OCPP charger reset from its tile, the charger's answer on the page; the
// History of the books' tickets, filtered and downloaded as CSV.
#include <stdlib.h>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "testing/network.h"

namespace evnet::test {
namespace {

class DashboardBrowserTest : public ::testing::Test {
 protected:
  // Starts one step of dashboard_steps.js against the page.
  absl::StatusOr<std::unique_ptr<Process>> StartStep(const std::string& step) {
    const char* outputs = getenv("TEST_UNDECLARED_OUTPUTS_DIR");
    ProcessOptions options;
    options.argv = {"/usr/bin/node", "testing/browser/dashboard_steps.js",
                    net_->DashboardUrl() + "/", step,
                    outputs != nullptr ? outputs : ""};
    options.log_path = absl::StrCat(net_->dir(), "/browser-", step, ".log");
    options.env = {{"EVNET_OPERATOR", Network::kOperator},
                   {"EVNET_OPERATOR_PASSWORD", Network::kOperatorPassword}};
    return Process::Start(options);
  }

  // Runs one step to its end; true when it passed.
  ::testing::AssertionResult Step(const std::string& step) {
    absl::StatusOr<std::unique_ptr<Process>> node = StartStep(step);
    if (!node.ok()) return ::testing::AssertionFailure() << node.status();
    return Finished(step, **node);
  }

  static ::testing::AssertionResult Finished(const std::string& step, Process& node) {
    absl::StatusOr<int> exit = node.Wait(absl::Seconds(90));
    std::string log = node.LogTail();
    std::cout << log;
    if (!exit.ok() || *exit != 0) {
      return ::testing::AssertionFailure() << "step " << step << ":\n" << log;
    }
    return ::testing::AssertionSuccess();
  }

  std::unique_ptr<Network> net_;
};

TEST_F(DashboardBrowserTest, AnOperatorSeesAndStopsTheNetworkLive) {
  if (getenv("EVNET_NODE_MODULES") == nullptr) {
    FAIL() << "EVNET_NODE_MODULES is not set: run tools/ev setup (it installs playwright-core)";
  }
  auto net = Network::Start({CpSpec{22, 0.30, absl::Minutes(5)}, CpSpec{11, 0.45, absl::Seconds(3)}});
  ASSERT_TRUE(net.ok()) << net.status();
  net_ = *std::move(net);
  ASSERT_TRUE(net_->StartDriver("driver-alice", {"CP-001"}).ok());
  ASSERT_TRUE(net_->WaitForStatus("CP-001", v1::CP_STATUS_SUPPLYING, absl::Seconds(30)));

  ASSERT_TRUE(Step("live"));
  // An OCPP charger's Reset, clicked on its tile, reaches the charger.
  ASSERT_TRUE(net_->StartOcppGateway().ok());
  ASSERT_TRUE(net_->StartOcppCharger("OCPP-001", {}).ok());
  ASSERT_TRUE(net_->WaitForStatus("OCPP-001", v1::CP_STATUS_ACTIVE, absl::Seconds(30)));
  ASSERT_TRUE(Step("operate"));
  EXPECT_TRUE(net_->WaitForOcppEvent("OCPP-001", R"("event": "reset", "type": "Soft")",
                                     absl::Seconds(10)));
  ASSERT_TRUE(Step("stop"));
  EXPECT_EQ(net_->Status("CP-001"), v1::CP_STATUS_STOPPED);  // the same operator API
  ASSERT_TRUE(Step("history"));
  ASSERT_TRUE(Step("charts"));

  ASSERT_TRUE(net_->Kill("cp-e-2").ok());
  ASSERT_TRUE(Step("red"));
  ASSERT_TRUE(net_->Restart("cp-e-2").ok());
  ASSERT_TRUE(Step("green"));
  ASSERT_TRUE(Step("snapshot"));

  // A page left open follows central through a restart.
  auto watcher = StartStep("reconnect");
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  ASSERT_TRUE(WaitFor([&] { return (*watcher)->LogTail().find("page is live") != std::string::npos; },
                      absl::Seconds(30)))
      << (*watcher)->LogTail();
  ASSERT_TRUE(net_->Restart("central").ok());
  EXPECT_TRUE(Finished("reconnect", **watcher));
}

}  // namespace
}  // namespace evnet::test
