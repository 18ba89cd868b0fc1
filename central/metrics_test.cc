#include "central/metrics.h"

#include <regex>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace evnet {
namespace {

using ::testing::HasSubstr;

// One line of the Prometheus text format: a comment, or name{labels} value.
bool ValidLine(const std::string& line) {
  static const std::regex comment(R"(^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$)");
  static const std::regex sample(
      R"(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*")*)?\})? -?[0-9.e+-]+$)");
  return std::regex_match(line, comment) || std::regex_match(line, sample);
}

TEST(MetricsTest, EveryLineIsValidExpositionFormatAndNumbersAddUp) {
  Metrics metrics;
  metrics.RequestAccepted(absl::Milliseconds(80));
  metrics.RequestAccepted(absl::Seconds(3));
  metrics.CommandAnswered("start_supply", absl::Milliseconds(12));
  metrics.CommandAnswered("start_supply", absl::Seconds(7));
  metrics.CommandAnswered("stop_supply", absl::Milliseconds(3));
  metrics.RequestRejected("unknown_cp");
  metrics.RequestRejected("unknown_cp");
  metrics.RequestRejected("expired");
  metrics.FaultDetected();
  metrics.SessionCompleted(v1::SESSION_END_REASON_UNPLUGGED);
  Metrics::Gauges gauges;
  gauges.cps_by_status = {{v1::CP_STATUS_ACTIVE, 2}, {v1::CP_STATUS_BROKEN, 1}};
  gauges.monitors_connected = 3;
  gauges.sessions_running = 1;
  gauges.kafka_consumer_lag = 0;
  std::string text = metrics.Render(gauges);

  std::istringstream lines(text);
  std::string line;
  int count = 0;
  while (std::getline(lines, line)) {
    EXPECT_TRUE(ValidLine(line)) << "'" << line << "'";
    ++count;
  }
  EXPECT_GT(count, 20);
  EXPECT_THAT(text, HasSubstr("evnet_charging_points{status=\"active\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("evnet_charging_points{status=\"broken\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("evnet_charging_points{status=\"stopped\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("evnet_monitors_connected 3\n"));
  EXPECT_THAT(text, HasSubstr("evnet_requests_total{outcome=\"accepted\",reason=\"\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("evnet_requests_total{outcome=\"rejected\",reason=\"unknown_cp\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("evnet_fault_detections_total 1\n"));
  EXPECT_THAT(text, HasSubstr("evnet_sessions_completed_total{reason=\"unplugged\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("evnet_request_accept_seconds_bucket{le=\"0.1\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("evnet_request_accept_seconds_bucket{le=\"+Inf\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("evnet_request_accept_seconds_count 2\n"));
  EXPECT_THAT(text, HasSubstr("evnet_command_answer_seconds_bucket{command=\"start_supply\","
                              "le=\"0.005\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("evnet_command_answer_seconds_bucket{command=\"start_supply\","
                              "le=\"0.025\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("evnet_command_answer_seconds_bucket{command=\"start_supply\","
                              "le=\"+Inf\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("evnet_command_answer_seconds_count{command=\"start_supply\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("evnet_command_answer_seconds_count{command=\"stop_supply\"} 1\n"));
}

}  // namespace
}  // namespace evnet
