// The books on a real database: a SQLite file in TEST_TMPDIR, or a real
// PostgreSQL server's (test_database.h), by the same tests.
#include "books/ticket_store.h"

#include <numeric>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "books/sql.h"
#include "books/test_database.h"
#include "common/proto_time.h"
#include "gtest/gtest.h"

namespace evnet::books {
namespace {

constexpr char kLedger[] = "evnet.central.ledger";
const absl::Time kDay1 = absl::FromCivil(absl::CivilSecond(2026, 11, 30, 22, 0, 0),
                                         absl::UTCTimeZone());

LedgerRecord Accepted(int32_t partition, int64_t offset, const std::string& session,
                      const std::string& driver, const std::string& cp, absl::Time at) {
  LedgerRecord r{partition, offset, {}};
  r.update.set_kind(v1::UPDATE_KIND_ACCEPTED);
  r.update.set_session_id(session);
  r.update.set_request_id(session.substr(2));
  r.update.set_driver_id(driver);
  r.update.set_cp_id(cp);
  *r.update.mutable_sent_at() = ToProto(at);
  return r;
}

LedgerRecord Ended(int32_t partition, int64_t offset, const std::string& session,
                   const std::string& driver, const std::string& cp, absl::Time end,
                   double kwh, int64_t cents) {
  LedgerRecord r{partition, offset, {}};
  r.update.set_kind(v1::UPDATE_KIND_ENDED);
  r.update.set_session_id(session);
  r.update.set_request_id(session.substr(2));
  r.update.set_driver_id(driver);
  r.update.set_cp_id(cp);
  v1::SessionResult* t = r.update.mutable_ticket();
  t->set_session_id(session);
  t->set_driver_id(driver);
  t->set_cp_id(cp);
  *t->mutable_started_at() = ToProto(end - absl::Minutes(30));
  *t->mutable_ended_at() = ToProto(end);
  t->set_energy_kwh(kwh);
  t->set_price_eur_per_kwh(0.29);
  t->set_amount_cents(cents);
  t->set_end_reason(v1::SESSION_END_REASON_DURATION_REACHED);
  return r;
}

class TicketStoreTest : public ::testing::Test {
 protected:
  // A new database for each test.
  const std::string db_ = NewTestDatabase(
      absl::AsciiStrToLower(::testing::UnitTest::GetInstance()->current_test_info()->name()));
};

TEST_F(TicketStoreTest, AnEmptyDatabaseGetsTheLatestSchemaAndOpeningItAgainChangesNothing) {
  {
    absl::StatusOr<std::unique_ptr<TicketStore>> store = TicketStore::Open(db_);
    ASSERT_TRUE(store.ok()) << store.status();
    EXPECT_EQ((*store)->schema_version(), TicketStore::LatestSchemaVersion());
    ASSERT_TRUE((*store)->Apply(kLedger, {Accepted(0, 0, "s-1", "driver-a", "CP-1", kDay1)}).ok());
  }
  absl::StatusOr<std::unique_ptr<TicketStore>> again = TicketStore::Open(db_);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)->schema_version(), TicketStore::LatestSchemaVersion());
  EXPECT_TRUE((*again)->Session("s-1").ok()) << "kept across opening";
}

// A database as the previous version left it, with its books: brought to
// this version at open, each ticket kept.
TEST_F(TicketStoreTest, ADatabaseOfThePreviousVersionIsMigratedWithItsBooks) {
  const int previous = TicketStore::LatestSchemaVersion() - 1;
  ASSERT_GE(previous, 1);
  {
    absl::StatusOr<std::unique_ptr<SqlConnection>> db = SqlConnection::Open(db_);
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE((*db)->Exec("CREATE TABLE schema_migrations ("
                            "  version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
                    .ok());
    for (int v = 1; v <= previous; ++v) {
      ASSERT_TRUE((*db)->Exec(TicketStore::MigrationForTest(v)).ok()) << v;
      ASSERT_TRUE((*db)->Exec(absl::StrCat("INSERT INTO schema_migrations VALUES (", v,
                                           ", 'before')"))
                      .ok());
    }
    ASSERT_TRUE((*db)->Exec("INSERT INTO sessions (session_id, request_id, driver_id, cp_id, "
                            "ended_at, energy_wh, amount_cents) VALUES ('s-old', 'old', "
                            "'driver-a', 'CP-1', '2026-11-30T22:30:00.000Z', 7500, 218)")
                    .ok());
  }
  absl::StatusOr<std::unique_ptr<TicketStore>> store = TicketStore::Open(db_);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->schema_version(), TicketStore::LatestSchemaVersion());
  EXPECT_EQ((*store)->Session("s-old")->amount_cents, 218);
  absl::StatusOr<std::vector<Total>> totals =
      (*store)->Totals(By::kDriver, Per::kMonth, absl::InfinitePast(), absl::InfiniteFuture());
  ASSERT_TRUE(totals.ok()) << totals.status();
  ASSERT_EQ(totals->size(), 1u);
  EXPECT_EQ((*totals)[0].amount_cents, 218);
}

TEST_F(TicketStoreTest, ADatabaseANewerVersionWroteIsRefused) {
  ASSERT_TRUE(TicketStore::Open(db_).ok());
  absl::StatusOr<std::unique_ptr<SqlConnection>> db = SqlConnection::Open(db_);
  ASSERT_TRUE(db.ok()) << db.status();
  ASSERT_TRUE((*db)->Exec("INSERT INTO schema_migrations VALUES (99, 'later')").ok());
  absl::StatusOr<std::unique_ptr<TicketStore>> store = TicketStore::Open(db_);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find("schema version 99"), std::string::npos);
}

TEST_F(TicketStoreTest, ABatchIsBookedWithItsOffsetsAndNothingOfItTwice) {
  absl::StatusOr<std::unique_ptr<TicketStore>> opened = TicketStore::Open(db_);
  ASSERT_TRUE(opened.ok()) << opened.status();
  TicketStore& store = **opened;
  EXPECT_TRUE(store.NextOffsets(kLedger)->empty()) << "a new database reads from the beginning";

  const std::vector<LedgerRecord> batch = {
      Accepted(0, 7, "s-1", "driver-a", "CP-1", kDay1),
      Ended(0, 8, "s-1", "driver-a", "CP-1", kDay1 + absl::Minutes(30), 7.5, 218),
      Accepted(3, 40, "s-2", "driver-b", "CP-2", kDay1),
  };
  ASSERT_TRUE(store.Apply(kLedger, batch).ok());
  EXPECT_EQ(*store.NextOffsets(kLedger), (std::map<int32_t, int64_t>{{0, 9}, {3, 41}}));
  absl::StatusOr<BookedSession> s1 = store.Session("s-1");
  ASSERT_TRUE(s1.ok()) << s1.status();
  EXPECT_EQ(s1->driver_id, "driver-a");
  EXPECT_EQ(s1->accepted_at, "2026-11-30T22:00:00.000Z");
  EXPECT_EQ(s1->ended_at, "2026-11-30T22:30:00.000Z");
  EXPECT_EQ(s1->energy_wh, 7500);
  EXPECT_EQ(s1->price_per_kwh_e4, 2900);
  EXPECT_EQ(s1->amount_cents, 218);
  EXPECT_EQ(s1->end_reason, "SESSION_END_REASON_DURATION_REACHED");
  EXPECT_TRUE(store.Session("s-2")->ended_at.empty()) << "still open";

  // Read again (a sink killed before it knew the batch was booked): the
  // records at offsets already stored change nothing, even if they differ.
  std::vector<LedgerRecord> again = batch;
  again[1].update.mutable_ticket()->set_amount_cents(999);
  ASSERT_TRUE(store.Apply(kLedger, again).ok());
  EXPECT_EQ(store.Session("s-1")->amount_cents, 218);
  // A record of another session at an offset already booked is not booked
  // (it can only be a re-read), nor one met twice in a batch.
  ASSERT_TRUE(store.Apply(kLedger, {Accepted(0, 8, "s-3", "driver-c", "CP-3", kDay1),
                                    Accepted(3, 41, "s-4", "driver-d", "CP-4", kDay1),
                                    Accepted(3, 41, "s-5", "driver-e", "CP-5", kDay1)})
                  .ok());
  EXPECT_EQ(store.Session("s-3").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(store.Session("s-4").ok());
  EXPECT_EQ(store.Session("s-5").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store.NextOffsets(kLedger)->at(3), 42);
  // A second ticket of a session at a later offset: the first one stands.
  ASSERT_TRUE(store.Apply(kLedger, {Ended(0, 9, "s-1", "driver-a", "CP-1",
                                          kDay1 + absl::Hours(2), 1.0, 29)})
                  .ok());
  EXPECT_EQ(store.Session("s-1")->amount_cents, 218);
  EXPECT_EQ(store.NextOffsets(kLedger)->at(0), 10);
}

TEST_F(TicketStoreTest, HostileIdsAreBookedAsTheyAreAndNeverRunAsSql) {
  absl::StatusOr<std::unique_ptr<TicketStore>> opened = TicketStore::Open(db_);
  ASSERT_TRUE(opened.ok()) << opened.status();
  TicketStore& store = **opened;
  const std::string driver = "x'); DROP TABLE sessions; --";
  const std::string cp = "CP' OR '1'='1";
  ASSERT_TRUE(store.Apply(kLedger, {Ended(0, 0, "s-h", driver, cp, kDay1, 1, 29),
                                    Ended(0, 1, "s-o", "driver-o", "CP-O", kDay1, 1, 29)})
                  .ok());
  TicketFilter by_driver;
  by_driver.driver_id = driver;
  absl::StatusOr<TicketPage> page = store.Tickets(by_driver, 10, "");
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->tickets.size(), 1u);
  EXPECT_EQ(page->tickets[0].driver_id, driver);
  TicketFilter by_cp;
  by_cp.cp_id = cp;
  EXPECT_EQ(store.Tickets(by_cp, 10, "")->tickets.size(), 1u) << "not every CP's";
  EXPECT_TRUE(store.Session("s-o").ok()) << "the table is still there";
}

TEST_F(TicketStoreTest, TicketsArePagedAndFilteredAndAStatementAddsUpToThemToTheCent) {
  absl::StatusOr<std::unique_ptr<TicketStore>> opened = TicketStore::Open(db_);
  ASSERT_TRUE(opened.ok()) << opened.status();
  TicketStore& store = **opened;
  std::vector<LedgerRecord> records;
  int64_t offset = 0;
  // driver-a: 3 tickets on Nov 30 (22:30 to 23:30) and 2 on Dec 1 (UTC);
  // driver-b: 1, on Dec 1.
  for (int i = 0; i < 5; ++i) {
    records.push_back(Ended(0, offset++, absl::StrCat("s-a", i), "driver-a", "CP-1",
                            kDay1 + absl::Minutes(30) * (i + 1), 1.234 * (i + 1),
                            36 * (i + 1) + i));
  }
  records.push_back(Ended(1, 0, "s-b0", "driver-b", "CP-2", kDay1 + absl::Hours(3), 10, 290));
  // Two tickets of hers ending in the same millisecond: paged by session id.
  records.push_back(Ended(1, 1, "s-a1b", "driver-a", "CP-3", kDay1 + absl::Minutes(60), 0.5, 15));
  ASSERT_TRUE(store.Apply(kLedger, records).ok());

  TicketFilter alice;
  alice.driver_id = "driver-a";
  std::vector<std::string> seen;
  int64_t cents = 0;
  std::string token;
  int pages = 0;
  do {
    absl::StatusOr<TicketPage> page = store.Tickets(alice, 2, token);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const BookedSession& t : page->tickets) {
      seen.push_back(t.session_id);
      cents += t.amount_cents;
    }
    token = page->next_page_token;
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, (std::vector<std::string>{"s-a0", "s-a1", "s-a1b", "s-a2", "s-a3", "s-a4"}));
  EXPECT_EQ(store.Tickets(alice, 2, "not a token").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store.Tickets(alice, 0, "").status().code(), absl::StatusCode::kInvalidArgument);

  // By time: ended on Dec 1 (UTC) only.
  TicketFilter december = alice;
  december.from = absl::FromCivil(absl::CivilDay(2026, 12, 1), absl::UTCTimeZone());
  EXPECT_EQ(store.Tickets(december, 10, "")->tickets.size(), 2u);
  // Figures as the ticket gave them, to the Wh and 1/10,000 EUR.
  EXPECT_EQ(store.Session("s-a1")->energy_wh, 2468);  // 1.234 * 2 kWh
  EXPECT_EQ(store.Session("s-a1")->price_per_kwh_e4, 2900);

  absl::StatusOr<std::vector<Total>> monthly =
      store.Totals(By::kDriver, Per::kMonth, absl::InfinitePast(), absl::InfiniteFuture());
  ASSERT_TRUE(monthly.ok()) << monthly.status();
  int64_t statement = 0;
  for (const Total& total : *monthly) {
    if (total.key == "driver-a") statement += total.amount_cents;
  }
  EXPECT_EQ(statement, cents) << "a driver's statement is the sum of their tickets";
  absl::StatusOr<std::vector<Total>> daily =
      store.Totals(By::kCp, Per::kDay, absl::InfinitePast(), absl::InfiniteFuture());
  ASSERT_TRUE(daily.ok());
  ASSERT_EQ(daily->size(), 4u);  // CP-1 on Nov 30 and Dec 1, CP-2 on Dec 1, CP-3 on Nov 30
  EXPECT_EQ((*daily)[0].key, "CP-1");
  EXPECT_EQ((*daily)[0].period, "2026-11-30");
  EXPECT_EQ((*daily)[0].sessions, 3);
  EXPECT_EQ((*daily)[1].period, "2026-12-01");
  EXPECT_EQ((*daily)[1].sessions, 2);
  EXPECT_EQ((*daily)[2].key, "CP-2");
  EXPECT_EQ((*daily)[2].energy_wh, 10000);
  EXPECT_EQ((*daily)[3].key, "CP-3");
  EXPECT_EQ((*daily)[3].amount_cents, 15);
  absl::StatusOr<std::vector<Total>> first_two =
      store.Totals(By::kCp, Per::kDay, absl::InfinitePast(), absl::InfiniteFuture(), 2);
  ASSERT_TRUE(first_two.ok());
  ASSERT_EQ(first_two->size(), 2u) << "at most the limit";
  EXPECT_EQ((*first_two)[1].period, "2026-12-01");

  // The network per hour, as the dashboard's chart asks, and each CP over
  // the whole range.
  absl::StatusOr<std::vector<Total>> hourly =
      store.Totals(By::kNetwork, Per::kHour, absl::InfinitePast(), absl::InfiniteFuture());
  ASSERT_TRUE(hourly.ok()) << hourly.status();
  std::vector<std::pair<std::string, int64_t>> hours;
  int64_t network_cents = 0;
  for (const Total& t : *hourly) {
    EXPECT_EQ(t.key, "network");
    hours.emplace_back(t.period, t.sessions);
    network_cents += t.amount_cents;
  }
  EXPECT_EQ(hours, (std::vector<std::pair<std::string, int64_t>>{{"2026-11-30T22", 1},
                                                                 {"2026-11-30T23", 3},
                                                                 {"2026-12-01T00", 2},
                                                                 {"2026-12-01T01", 1}}));
  EXPECT_EQ(network_cents, cents + 290);
  absl::StatusOr<std::vector<Total>> per_cp =
      store.Totals(By::kCp, Per::kAll, kDay1, kDay1 + absl::Hours(24));
  ASSERT_TRUE(per_cp.ok()) << per_cp.status();
  ASSERT_EQ(per_cp->size(), 3u);
  EXPECT_EQ((*per_cp)[0].key, "CP-1");
  EXPECT_EQ((*per_cp)[0].period, "");
  EXPECT_EQ((*per_cp)[0].sessions, 5);
  EXPECT_EQ((*per_cp)[1].energy_wh, 10000);
  absl::StatusOr<std::vector<Total>> none =
      store.Totals(By::kNetwork, Per::kAll, kDay1 + absl::Hours(48), absl::InfiniteFuture());
  ASSERT_TRUE(none.ok()) << none.status();
  ASSERT_EQ(none->size(), 1u);
  EXPECT_EQ((*none)[0].sessions, 0);
  EXPECT_EQ((*none)[0].amount_cents, 0);
}

}  // namespace
}  // namespace evnet::books
