// The operator's books on a running network: central follows its ledger
// into SQL (books/) through a crash with a batch written but not committed
// and a kill -9, and `evctl tickets` / `evctl totals` answer from them with
// every ticket once, to the Wh and the cent. In SQLite (the default) and in
// a real PostgreSQL server, which is also stopped a while: the books wait
// for it, say so, and book what came meanwhile once it is back.
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "testing/network.h"
#include "testing/postgres_server.h"

namespace evnet::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::Duration kWait = absl::Seconds(60);

// The data lines of evctl's CSV, by their first field.
std::map<std::string, std::vector<std::string>> Rows(const std::string& csv) {
  std::map<std::string, std::vector<std::string>> rows;
  for (absl::string_view line : absl::StrSplit(csv, '\n', absl::SkipEmpty())) {
    if (absl::StartsWith(line, "session_id,") || absl::StartsWith(line, "key,")) continue;
    std::vector<std::string> fields = absl::StrSplit(line, ',');
    const std::string key = fields[0];
    if (!rows.emplace(key, std::move(fields)).second) {
      ADD_FAILURE() << key << " twice in:\n" << csv;
    }
  }
  return rows;
}

std::string Cents(int64_t cents) { return absl::StrFormat("%d.%02d", cents / 100, cents % 100); }

std::string Wh(double kwh) {
  const int64_t wh = std::llround(kwh * 1000);
  return absl::StrFormat("%d.%03d", wh / 1000, wh % 1000);
}

enum class Database { kSqlite, kPostgres };

class BooksTest : public ::testing::TestWithParam<Database> {};

TEST_P(BooksTest, EveryTicketIsBookedOnceThroughCrashesAndAddsUpPerDriver) {
  std::unique_ptr<PostgresServer> postgres;
  std::vector<std::string> central_flags;  // SQLite: books.sqlite in its --state_dir
  if (GetParam() == Database::kPostgres) {
    absl::StatusOr<std::unique_ptr<PostgresServer>> server = PostgresServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    postgres = *std::move(server);
    absl::StatusOr<std::string> uri = postgres->CreateDatabase("books");
    ASSERT_TRUE(uri.ok()) << uri.status();
    central_flags = {"--books", *uri};
  }
  auto started = Network::Start({CpSpec{22, 0.30, absl::Seconds(3)},
                                 CpSpec{11, 0.45, absl::Seconds(3)}},
                                central_flags);
  ASSERT_TRUE(started.ok()) << started.status();
  Network& n = **started;
  std::unique_ptr<httplib::Client> probes = n.Probes();
  auto ready_says = [&](const std::string& what) {
    return WaitFor([&] {
      auto readyz = probes->Get("/readyz");
      return readyz && readyz->status == 200 && absl::StrContains(readyz->body, what);
    }, kWait);
  };
  ASSERT_TRUE(ready_says("books: following the ledger")) << n.LogOf("central");

  // Central dies the first time it books: the batch and its offsets
  // written, not committed.
  ASSERT_TRUE(n.Restart("central", {{"EVNET_CRASH_AT", "books.booking:1"}}).ok());
  ASSERT_TRUE(n.WaitForStatus("CP-001", v1::CP_STATUS_ACTIVE, kWait));
  ASSERT_TRUE(n.WaitForStatus("CP-002", v1::CP_STATUS_ACTIVE, kWait));
  ASSERT_TRUE(n.StartDriver("driver-alice", {"CP-001", "CP-001"}).ok());
  ASSERT_TRUE(n.StartDriver("driver-bob", {"CP-002"}).ok());
  Process* armed = n.process("central");
  ASSERT_TRUE(WaitFor([&] { return !armed->Running(); }, kWait)) << n.LogOf("central");
  EXPECT_THAT(n.LogOf("central"), HasSubstr("CRASH POINT books.booking reached"));
  ASSERT_TRUE(n.Restart("central").ok());

  std::vector<v1::DriverUpdate> tickets =
      n.updates().WaitFor("driver-alice", v1::UPDATE_KIND_ENDED, 2, absl::Seconds(120));
  auto logs = [&] {
    return absl::StrCat("central:\n", n.FullLogOf("central"), "\ndriver-bob:\n",
                        n.LogOf("driver-bob"), "\ncp-e-2:\n", n.LogOf("cp-e-2"), "\ncp-m-2:\n",
                        n.LogOf("cp-m-2"));
  };
  ASSERT_EQ(tickets.size(), 2u) << logs();
  std::vector<v1::DriverUpdate> bobs =
      n.updates().WaitFor("driver-bob", v1::UPDATE_KIND_ENDED, 1, absl::Seconds(60));
  ASSERT_EQ(bobs.size(), 1u) << logs();
  int64_t alice_cents = 0;
  for (const v1::DriverUpdate& t : tickets) alice_cents += t.ticket().amount_cents();
  tickets.push_back(bobs[0]);

  // And killed outright after, which must repeat nothing.
  ASSERT_TRUE(n.Kill("central").ok());
  ASSERT_TRUE(n.Restart("central").ok());

  std::string csv;
  ASSERT_TRUE(WaitFor([&] {
    absl::StatusOr<std::string> out = n.Evctl({"tickets", "--csv"});
    csv = out.ok() ? *out : std::string(out.status().message());
    return out.ok() && Rows(csv).size() >= tickets.size();
  }, kWait)) << csv << n.LogOf("central");
  std::map<std::string, std::vector<std::string>> rows = Rows(csv);
  EXPECT_EQ(rows.size(), tickets.size()) << csv;
  for (const v1::DriverUpdate& update : tickets) {
    const v1::SessionResult& t = update.ticket();
    ASSERT_EQ(rows.count(t.session_id()), 1u) << t.session_id() << " not booked:\n" << csv;
    const std::vector<std::string>& row = rows[t.session_id()];
    ASSERT_EQ(row.size(), 10u) << csv;
    EXPECT_EQ(row[2], update.driver_id());
    EXPECT_EQ(row[3], t.cp_id());
    EXPECT_EQ(row[7], Wh(t.energy_kwh())) << csv;
    EXPECT_EQ(row[9], Cents(t.amount_cents())) << csv;
  }

  // Filtered: only alice's, and her month adds up to her tickets.
  absl::StatusOr<std::string> hers = n.Evctl({"tickets", "--driver", "driver-alice", "--csv"});
  ASSERT_TRUE(hers.ok()) << hers.status();
  EXPECT_EQ(Rows(*hers).size(), 2u) << *hers;
  EXPECT_THAT(*hers, Not(HasSubstr("driver-bob")));
  absl::StatusOr<std::string> totals = n.Evctl({"totals", "driver", "month", "--csv"});
  ASSERT_TRUE(totals.ok()) << totals.status();
  std::map<std::string, std::vector<std::string>> per_driver = Rows(*totals);
  ASSERT_EQ(per_driver.count("driver-alice"), 1u) << *totals;
  EXPECT_EQ(per_driver["driver-alice"][2], "2") << *totals;
  EXPECT_EQ(per_driver["driver-alice"][4], Cents(alice_cents)) << *totals;
  EXPECT_THAT(n.Evctl({"tickets", "--from", "yesterday"}).status().message(),
              HasSubstr("is not an RFC 3339 time"));

  // Said on /readyz and /metrics; every query on the audit log.
  EXPECT_TRUE(ready_says("books: following the ledger"));
  auto metrics = probes->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body, HasSubstr("evnet_books_database_up 1"));
  EXPECT_THAT(metrics->body, HasSubstr("evnet_books_ledger_up 1"));
  EXPECT_TRUE(WaitFor([&] {
    for (const v1::AuditRecord& record : n.Audit()) {
      if (record.action() == "tickets.summarize" && record.result() == "done" &&
          absl::StartsWith(record.actor(), "operator ")) {
        return true;
      }
    }
    return false;
  }, kWait));
  if (GetParam() != Database::kPostgres) return;

  // The database down a while: central goes on, the books wait and say so,
  // and book what came meanwhile once it is back, once.
  ASSERT_TRUE(postgres->Stop().ok());
  ASSERT_TRUE(n.StartDriver("driver-carol", {"CP-002"}).ok());
  std::vector<v1::DriverUpdate> carols =
      n.updates().WaitFor("driver-carol", v1::UPDATE_KIND_ENDED, 1, absl::Seconds(60));
  ASSERT_EQ(carols.size(), 1u) << logs();
  EXPECT_TRUE(ready_says("books: behind (the database, retried)")) << n.LogOf("central");
  EXPECT_TRUE(WaitFor([&] {
    auto m = probes->Get("/metrics");
    return m && absl::StrContains(m->body, "evnet_books_database_up 0");
  }, kWait));
  EXPECT_FALSE(n.Evctl({"tickets"}).ok()) << "asked of a database that is down";
  ASSERT_TRUE(postgres->Restart().ok());
  tickets.push_back(carols[0]);
  ASSERT_TRUE(WaitFor([&] {
    absl::StatusOr<std::string> out = n.Evctl({"tickets", "--csv"});
    csv = out.ok() ? *out : std::string(out.status().message());
    return out.ok() && Rows(csv).size() >= tickets.size();
  }, kWait)) << csv << n.LogOf("central");
  EXPECT_EQ(Rows(csv).size(), tickets.size()) << csv;
  EXPECT_EQ(Rows(csv).count(carols[0].session_id()), 1u) << csv;
  EXPECT_TRUE(ready_says("books: following the ledger"));
}

INSTANTIATE_TEST_SUITE_P(Databases, BooksTest,
                         ::testing::Values(Database::kSqlite, Database::kPostgres),
                         [](const ::testing::TestParamInfo<Database>& info) {
                           return info.param == Database::kSqlite ? "Sqlite" : "Postgres";
                         });

}  // namespace
}  // namespace evnet::test
