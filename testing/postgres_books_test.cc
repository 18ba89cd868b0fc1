// The books on a real PostgreSQL server, where PostgreSQL differs from
// SQLite: a server restarted under open connections, and one not there.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "books/ticket_store.h"
#include "common/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/postgres_server.h"

namespace evnet::books {
namespace {

constexpr char kLedger[] = "evnet.central.ledger";

LedgerRecord Ended(int64_t offset, const std::string& session, int64_t cents) {
  LedgerRecord r{0, offset, {}};
  r.update.set_kind(v1::UPDATE_KIND_ENDED);
  r.update.set_session_id(session);
  r.update.set_request_id(session.substr(2));
  r.update.set_driver_id("driver-a");
  r.update.set_cp_id("CP-1");
  v1::SessionResult* t = r.update.mutable_ticket();
  t->set_session_id(session);
  *t->mutable_started_at() = ToProto(absl::FromUnixSeconds(1800000000));
  *t->mutable_ended_at() = ToProto(absl::FromUnixSeconds(1800000000 + offset));
  t->set_energy_kwh(1);
  t->set_price_eur_per_kwh(0.29);
  t->set_amount_cents(cents);
  return r;
}

TEST(PostgresBooksTest, ConnectionsOutliveARestartOfTheServer) {
  absl::StatusOr<std::unique_ptr<test::PostgresServer>> server = test::PostgresServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  absl::StatusOr<std::string> uri = (*server)->CreateDatabase("books");
  ASSERT_TRUE(uri.ok()) << uri.status();
  absl::StatusOr<std::unique_ptr<TicketStore>> writer = TicketStore::Open(*uri);
  ASSERT_TRUE(writer.ok()) << writer.status();
  absl::StatusOr<std::unique_ptr<TicketStore>> reader = TicketStore::Open(*uri);
  ASSERT_TRUE(reader.ok()) << reader.status();
  ASSERT_TRUE((*writer)->Apply(kLedger, {Ended(0, "s-1", 29)}).ok());

  // Down: both say so, as Unavailable.
  ASSERT_TRUE((*server)->Stop().ok());
  EXPECT_EQ((*writer)->Apply(kLedger, {Ended(1, "s-2", 58)}).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ((*reader)->Tickets({}, 10, "").status().code(), absl::StatusCode::kUnavailable);

  // Up again: the same connections work at their first statement, and
  // the batch refused while it was down is booked once.
  ASSERT_TRUE((*server)->Restart().ok());
  ASSERT_TRUE((*writer)->Apply(kLedger, {Ended(1, "s-2", 58)}).ok());
  absl::StatusOr<TicketPage> page = (*reader)->Tickets({}, 10, "");
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->tickets.size(), 2u);
  EXPECT_EQ(page->tickets[1].amount_cents, 58);
  EXPECT_EQ((*reader)->NextOffsets(kLedger)->at(0), 2);

  // And a server restarted while they idled (not seen stopped): the
  // first statement still takes.
  ASSERT_TRUE((*server)->Restart().ok());
  EXPECT_TRUE((*reader)->Tickets({}, 10, "").ok());
  EXPECT_TRUE((*writer)->Apply(kLedger, {Ended(2, "s-3", 87)}).ok());
}

TEST(PostgresBooksTest, AServerNotThereIsUnavailableAndItsPasswordIsNotSaid) {
  const std::string uri =
      absl::StrCat("postgresql://evnet:hunter2@127.0.0.1:", test::PickFreePort(), "/books");
  absl::StatusOr<std::unique_ptr<TicketStore>> store = TicketStore::Open(uri);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(store.status().message()), ::testing::HasSubstr("cannot reach the books"));
  EXPECT_THAT(std::string(store.status().message()), ::testing::Not(::testing::HasSubstr("hunter2")));
  EXPECT_EQ(SqlConnection::Describe(uri).find("hunter2"), std::string::npos);
}

}  // namespace
}  // namespace evnet::books
