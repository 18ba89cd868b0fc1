#include "tools/evctl/tickets_command.h"

#include "common/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace evnet {
namespace {

using ::testing::HasSubstr;

TEST(TicketsCommandTest, FiltersAndTimesBecomeTheRequest) {
  absl::StatusOr<TicketsCommand> command = ParseTicketsCommand(
      {"--driver", "driver-alice", "--cp", "CP-007", "--from", "2026-11-01T00:00:00Z", "--to",
       "2026-12-01T00:00:00Z", "--csv"});
  ASSERT_TRUE(command.ok()) << command.status();
  EXPECT_TRUE(command->csv);
  EXPECT_EQ(command->request.driver_id(), "driver-alice");
  EXPECT_EQ(command->request.cp_id(), "CP-007");
  EXPECT_EQ(FromProto(command->request.start_time()), absl::FromUnixSeconds(1793491200));
  EXPECT_EQ(FromProto(command->request.end_time()), absl::FromUnixSeconds(1796083200));

  absl::StatusOr<TicketsCommand> all = ParseTicketsCommand({});
  ASSERT_TRUE(all.ok());
  EXPECT_FALSE(all->csv);
  EXPECT_FALSE(all->request.has_start_time());
}

TEST(TicketsCommandTest, BadWordsAreRefusedWithTheUsage) {
  EXPECT_THAT(ParseTicketsCommand({"--from", "last tuesday"}).status().message(),
              HasSubstr("is not an RFC 3339 time"));
  EXPECT_THAT(ParseTicketsCommand({"--colour", "red"}).status().message(),
              HasSubstr("unknown option --colour; evctl tickets"));
  EXPECT_THAT(ParseTicketsCommand({"--driver"}).status().message(), HasSubstr("unknown option"));
  EXPECT_THAT(ParseTotalsCommand({"driver"}).status().message(), HasSubstr("evctl totals"));
  EXPECT_THAT(ParseTotalsCommand({"site", "day"}).status().message(),
              HasSubstr("per driver or cp, not site"));
  EXPECT_THAT(ParseTotalsCommand({"cp", "week"}).status().message(),
              HasSubstr("per day or month, not week"));
  absl::StatusOr<TotalsCommand> totals = ParseTotalsCommand({"cp", "day", "--csv"});
  ASSERT_TRUE(totals.ok());
  EXPECT_EQ(totals->request.group_by(), v1::SummarizeTicketsRequest::GROUP_CP);
  EXPECT_EQ(totals->request.period(), v1::SummarizeTicketsRequest::PERIOD_DAY);
}

}  // namespace
}  // namespace evnet
