// The books' figures on this machine, run on purpose (not a test):
//
//   bazel run -c opt //books:books_bench -- [--cps=10000] [--per_day=4] [--days=30]
//       [--databases=sqlite,postgres]
//
// Generates a month of tickets of `cps` CPs (`per_day` sessions each a day,
// 3 drivers per CP), books their ledger records into a fresh database in
// batches of 500 as the sink does, and prints records and tickets per
// second; the baseline, in the same run, books the first 20,000 records one
// per transaction. Then times the reports people ask for on the full month:
// totals per CP and per driver per month and per day, one driver's month
// paged through, one CP's month, and the first page of everything. Each
// database in turn: a SQLite file, and a PostgreSQL server of the bench's
// own (testing/postgres_server.h, Debian's postgresql with its defaults).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/strings/str_split.h"
#include "books/ticket_store.h"
#include "common/clock.h"
#include "common/proto_time.h"
#include "testing/postgres_server.h"

ABSL_FLAG(int, cps, 10000, "charging points");
ABSL_FLAG(int, per_day, 4, "sessions of each CP a day");
ABSL_FLAG(int, days, 30, "days of tickets");
ABSL_FLAG(std::string, dir, "/tmp", "where the SQLite databases are made (and removed after)");
ABSL_FLAG(std::string, databases, "sqlite,postgres", "which databases, in turn");

namespace evnet::books {
namespace {

constexpr char kLedger[] = "evnet.central.ledger";
constexpr int kPartitions = 6;
constexpr size_t kBatch = 500;
const absl::Time kMonth = absl::FromCivil(absl::CivilDay(2026, 11, 1), absl::UTCTimeZone());

std::string Cp(int i) { return absl::StrFormat("CP-%05d", i); }
std::string Driver(int i) { return absl::StrFormat("driver-%06d", i); }

// The ledger of the month: each session's ACCEPTED, then its ENDED, on the
// partition of its request, offsets counting up per partition.
std::vector<LedgerRecord> Month(int cps, int per_day, int days) {
  std::vector<LedgerRecord> records;
  records.reserve(static_cast<size_t>(cps) * per_day * days * 2);
  std::vector<int64_t> next(kPartitions, 0);
  int64_t n = 0;
  for (int day = 0; day < days; ++day) {
    for (int k = 0; k < per_day; ++k) {
      for (int cp = 0; cp < cps; ++cp, ++n) {
        const std::string session = absl::StrCat("s-", n);
        const std::string driver = Driver((cp * 3 + k) % (cps * 3));
        const absl::Time start =
            kMonth + absl::Hours(24 * day) + absl::Minutes(k * 300 + cp % 240);
        const int32_t p = static_cast<int32_t>(n % kPartitions);
        LedgerRecord accepted{p, next[p]++, {}};
        accepted.update.set_kind(v1::UPDATE_KIND_ACCEPTED);
        accepted.update.set_session_id(session);
        accepted.update.set_request_id(absl::StrCat("r-", n));
        accepted.update.set_driver_id(driver);
        accepted.update.set_cp_id(Cp(cp));
        *accepted.update.mutable_sent_at() = ToProto(start);
        LedgerRecord ended = accepted;
        ended.offset = next[p]++;
        ended.update.set_kind(v1::UPDATE_KIND_ENDED);
        v1::SessionResult* t = ended.update.mutable_ticket();
        t->set_session_id(session);
        *t->mutable_started_at() = ToProto(start);
        *t->mutable_ended_at() = ToProto(start + absl::Minutes(45));
        const int64_t wh = 5000 + (n * 7919) % 40000;
        t->set_energy_kwh(wh / 1000.0);
        t->set_price_eur_per_kwh(0.35);
        t->set_amount_cents((wh * 35 + 500) / 1000);
        t->set_end_reason(v1::SESSION_END_REASON_UNPLUGGED);
        records.push_back(std::move(accepted));
        records.push_back(std::move(ended));
      }
    }
  }
  return records;
}

void RemoveSqlite(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm"}) unlink((path + suffix).c_str());
}

std::unique_ptr<TicketStore> Fresh(const std::string& where) {
  absl::StatusOr<std::unique_ptr<TicketStore>> store = TicketStore::Open(where);
  if (!store.ok()) {
    std::cerr << "books_bench: " << store.status() << "\n";
    std::exit(1);
  }
  return *std::move(store);
}

void Check(const absl::Status& status) {
  if (!status.ok()) {
    std::cerr << "books_bench: " << status << "\n";
    std::exit(1);
  }
}

template <typename F>
double Seconds(F f) {
  const absl::Time start = SystemClock::Get().Steady();
  f();
  return absl::ToDoubleSeconds(SystemClock::Get().Steady() - start);
}

// The bench on one database; `fresh(name)` names a new, empty one.
void Bench(const std::vector<LedgerRecord>& records, int days,
           const std::function<std::string(const std::string&)>& fresh) {
  const size_t tickets = records.size() / 2;
  // Baseline: one record per transaction, the first 20,000.
  {
    std::unique_ptr<TicketStore> store = Fresh(fresh("books_bench_baseline"));
    const size_t n = std::min<size_t>(records.size(), 20000);
    const double s = Seconds([&] {
      for (size_t i = 0; i < n; ++i) Check(store->Apply(kLedger, {records[i]}));
    });
    std::printf("  baseline, 1 record per transaction: %zu records in %.2f s = %.0f records/s\n",
                n, s, n / s);
  }
  std::unique_ptr<TicketStore> store = Fresh(fresh("books_bench"));
  const double booked = Seconds([&] {
    std::vector<LedgerRecord> batch;
    batch.reserve(kBatch);
    for (size_t i = 0; i < records.size(); i += kBatch) {
      batch.assign(records.begin() + i, records.begin() + std::min(records.size(), i + kBatch));
      Check(store->Apply(kLedger, batch));
    }
  });
  std::printf("  batches of %zu (the sink's): %zu records in %.1f s = %.0f records/s, %.0f "
              "tickets/s\n",
              kBatch, records.size(), booked, records.size() / booked, tickets / booked);
  const absl::Time to = kMonth + absl::Hours(24 * days);
  auto report = [&](const char* what, By by, Per per) {
    size_t rows = 0;
    const double s = Seconds([&] {
      absl::StatusOr<std::vector<Total>> totals = store->Totals(by, per, kMonth, to, 1000000);
      Check(totals.status());
      rows = totals->size();
    });
    std::printf("  report: %-28s %8zu rows in %.2f s\n", what, rows, s);
  };
  report("totals per CP per month", By::kCp, Per::kMonth);
  report("totals per driver per month", By::kDriver, Per::kMonth);
  report("totals per CP per day", By::kCp, Per::kDay);
  auto list = [&](const char* what, TicketFilter filter, bool all_pages) {
    size_t rows = 0, pages = 0;
    const double s = Seconds([&] {
      std::string token;
      do {
        absl::StatusOr<TicketPage> page = store->Tickets(filter, 1000, token);
        Check(page.status());
        rows += page->tickets.size();
        ++pages;
        token = page->next_page_token;
      } while (all_pages && !token.empty());
    });
    std::printf("  report: %-28s %8zu rows, %zu page(s) in %.3f s\n", what, rows, pages, s);
  };
  TicketFilter month;
  month.from = kMonth;
  month.to = to;
  list("first page of the month", month, false);
  TicketFilter driver = month;
  driver.driver_id = Driver(7);
  list("one driver's month", driver, true);
  TicketFilter cp = month;
  cp.cp_id = Cp(7);
  list("one CP's month", cp, true);
}

int Run() {
  const int cps = absl::GetFlag(FLAGS_cps), per_day = absl::GetFlag(FLAGS_per_day),
            days = absl::GetFlag(FLAGS_days);
  const std::string dir = absl::GetFlag(FLAGS_dir);
  std::vector<LedgerRecord> records;
  const double generated = Seconds([&] { records = Month(cps, per_day, days); });
  std::printf("books_bench: %d CPs x %d sessions a day x %d days = %zu tickets, %zu ledger "
              "records (generated in %.1f s)\n",
              cps, per_day, days, records.size() / 2, records.size(), generated);
  for (absl::string_view database : absl::StrSplit(absl::GetFlag(FLAGS_databases), ',')) {
    if (database == "sqlite") {
      std::printf("SQLite (a file in %s):\n", dir.c_str());
      std::vector<std::string> made;
      Bench(records, days, [&](const std::string& name) {
        made.push_back(absl::StrCat(dir, "/", name, ".sqlite"));
        RemoveSqlite(made.back());
        return made.back();
      });
      for (const std::string& path : made) RemoveSqlite(path);
    } else if (database == "postgres") {
      absl::StatusOr<std::unique_ptr<test::PostgresServer>> server = test::PostgresServer::Start();
      Check(server.status());
      std::printf("PostgreSQL (a server of its own on loopback):\n");
      Bench(records, days, [&](const std::string& name) {
        absl::StatusOr<std::string> uri = (*server)->CreateDatabase(name);
        Check(uri.status());
        return *uri;
      });
    } else {
      std::cerr << "books_bench: --databases takes sqlite and postgres, not " << database << "\n";
      return 2;
    }
  }
  return 0;
}

}  // namespace
}  // namespace evnet::books

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // each figure as it comes, into a file too
  return evnet::books::Run();
}
