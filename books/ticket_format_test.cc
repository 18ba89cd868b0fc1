#include "books/ticket_format.h"

#include "common/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace evnet::books {
namespace {

using ::testing::HasSubstr;

TEST(TicketFormatTest, CsvIsExactAndHostileIdsStayData) {
  v1::Ticket ticket;
  ticket.set_session_id("s-1");
  ticket.set_request_id("r-1");
  ticket.set_driver_id("=HYPERLINK(\"http://x\",\"pay\")");
  ticket.set_cp_id("CP,007");
  *ticket.mutable_started_at() = ToProto(absl::FromUnixSeconds(1796083200));
  *ticket.mutable_ended_at() = ToProto(absl::FromUnixSeconds(1796086800));
  ticket.set_end_reason("SESSION_END_REASON_COMPLETED");
  ticket.set_energy_wh(12345);
  ticket.set_price_per_kwh_e4(3500);
  ticket.set_amount_cents(432);
  EXPECT_EQ(FormatTicket(ticket, true),
            "s-1,r-1,\"'=HYPERLINK(\"\"http://x\"\",\"\"pay\"\")\",\"CP,007\","
            "2026-12-01T00:00:00Z,2026-12-01T01:00:00Z,COMPLETED,12.345,0.3500,4.32");
  EXPECT_THAT(FormatTicket(ticket, false), HasSubstr("    12.345       4.32"));

  v1::TicketTotal total;
  total.set_key("driver-alice");
  total.set_period("2026-11");
  total.set_sessions(3);
  total.set_energy_wh(5);
  total.set_amount_cents(100007);
  EXPECT_EQ(FormatTotal(total, true), "driver-alice,2026-11,3,0.005,1000.07");
}

}  // namespace
}  // namespace evnet::books
