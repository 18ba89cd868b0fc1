#include "books/ticket_store.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/crash_point.h"
#include "common/proto_time.h"
#include "glog/logging.h"
#include "sqlite3.h"

namespace evnet::books {
namespace {

// The schema, one migration per version, never edited once released: a
// change is a new migration.
constexpr const char* kMigrations[] = {
    // 1: sessions with their tickets, and the ledger's offsets.
    R"sql(
      CREATE TABLE sessions (
        session_id TEXT PRIMARY KEY,
        request_id TEXT NOT NULL,
        driver_id TEXT NOT NULL,
        cp_id TEXT NOT NULL,
        accepted_at TEXT,
        started_at TEXT,
        ended_at TEXT,
        end_reason TEXT,
        energy_wh INTEGER,
        price_per_kwh_e4 INTEGER,
        amount_cents INTEGER
      );
      CREATE INDEX sessions_by_end ON sessions (ended_at, session_id);
      CREATE INDEX sessions_by_driver ON sessions (driver_id, ended_at);
      CREATE INDEX sessions_by_cp ON sessions (cp_id, ended_at);
      CREATE TABLE kafka_offsets (
        topic TEXT NOT NULL,
        kafka_partition INTEGER NOT NULL,
        next_offset INTEGER NOT NULL,
        PRIMARY KEY (topic, kafka_partition)
      );
    )sql",
};

// A figure of a ticket in whole units of `unit` (Wh of a kWh, 1/10,000 EUR
// of a EUR/kWh), as common/money.h takes them: anything not a finite
// positive figure is 0, and nothing passes a billion units.
int64_t Units(double value, double unit) {
  if (!std::isfinite(value) || value <= 0) return 0;
  return std::llround(std::min(value * unit, 1e9));
}

std::string TimeText(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

// A prepared statement; its values bound by position (1-based).
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) {
    status_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& Bind(int i, const std::string& text) {
    if (status_ == SQLITE_OK) {
      status_ = sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()),
                                  SQLITE_TRANSIENT);
    }
    return *this;
  }
  Statement& Bind(int i, int64_t value) {
    if (status_ == SQLITE_OK) status_ = sqlite3_bind_int64(stmt_, i, value);
    return *this;
  }
  Statement& BindNull(int i) {
    if (status_ == SQLITE_OK) status_ = sqlite3_bind_null(stmt_, i);
    return *this;
  }
  // Runs it to its end (no rows wanted).
  absl::Status Run() {
    absl::StatusOr<bool> row = Step();
    while (row.ok() && *row) row = Step();
    return row.status();
  }
  // The next row: true; done: false.
  absl::StatusOr<bool> Step() {
    if (status_ != SQLITE_OK) return Error();
    const int stepped = sqlite3_step(stmt_);
    if (stepped == SQLITE_ROW) return true;
    if (stepped == SQLITE_DONE) return false;
    status_ = stepped;
    return Error();
  }
  std::string Text(int column) const {
    const unsigned char* text = sqlite3_column_text(stmt_, column);
    return text == nullptr ? "" : reinterpret_cast<const char*>(text);
  }
  int64_t Int(int column) const { return sqlite3_column_int64(stmt_, column); }

 private:
  absl::Status Error() const {
    return absl::InternalError(
        absl::StrCat("the books' database: ", sqlite3_errstr(status_), ": ", sqlite3_errmsg(db_)));
  }

  sqlite3* const db_;
  sqlite3_stmt* stmt_ = nullptr;
  int status_ = SQLITE_OK;
};

constexpr const char* kSessionColumns =
    "session_id, request_id, driver_id, cp_id, COALESCE(accepted_at, ''), "
    "COALESCE(started_at, ''), COALESCE(ended_at, ''), COALESCE(end_reason, ''), "
    "COALESCE(energy_wh, 0), COALESCE(price_per_kwh_e4, 0), COALESCE(amount_cents, 0)";

BookedSession SessionOf(const Statement& row) {
  BookedSession s;
  s.session_id = row.Text(0);
  s.request_id = row.Text(1);
  s.driver_id = row.Text(2);
  s.cp_id = row.Text(3);
  s.accepted_at = row.Text(4);
  s.started_at = row.Text(5);
  s.ended_at = row.Text(6);
  s.end_reason = row.Text(7);
  s.energy_wh = row.Int(8);
  s.price_per_kwh_e4 = row.Int(9);
  s.amount_cents = row.Int(10);
  return s;
}

}  // namespace

int TicketStore::LatestSchemaVersion() {
  return static_cast<int>(sizeof(kMigrations) / sizeof(kMigrations[0]));
}

absl::StatusOr<std::unique_ptr<TicketStore>> TicketStore::Open(const std::string& path) {
  sqlite3* db = nullptr;
  const int opened = sqlite3_open_v2(path.c_str(), &db,
                                     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (opened != SQLITE_OK) {
    const std::string why = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(opened);
    sqlite3_close(db);
    return absl::UnavailableError(absl::StrCat("cannot open the books at ", path, ": ", why));
  }
  std::unique_ptr<TicketStore> store(new TicketStore(db));
  // Another process holding the database (a report) makes a write wait,
  // not fail. WAL: readers never block the sink. A commit cut by a crash
  // takes its offsets with it, so the ledger is read again from before it.
  sqlite3_busy_timeout(db, 5000);
  if (absl::Status set = store->Exec("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;");
      !set.ok()) {
    return set;
  }
  if (absl::Status migrated = store->Migrate(); !migrated.ok()) return migrated;
  return store;
}

TicketStore::~TicketStore() { sqlite3_close(db_); }

absl::Status TicketStore::Exec(const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    absl::Status status =
        absl::InternalError(absl::StrCat("the books' database: ", error ? error : "failed"));
    sqlite3_free(error);
    return status;
  }
  return absl::OkStatus();
}

absl::Status TicketStore::Migrate() {
  if (absl::Status made = Exec(
          "CREATE TABLE IF NOT EXISTS schema_migrations ("
          "  version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)");
      !made.ok()) {
    return made;
  }
  absl::StatusOr<int> version = Version();
  if (!version.ok()) return version.status();
  schema_version_ = *version;
  if (schema_version_ > LatestSchemaVersion()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the books' database is at schema version ", schema_version_,
        ", written by a newer evnet; this one knows up to ", LatestSchemaVersion()));
  }
  while (schema_version_ < LatestSchemaVersion()) {
    if (absl::Status begun = Exec("BEGIN IMMEDIATE"); !begun.ok()) return begun;
    // Another process may have migrated it since it was read: asked again
    // under the write lock.
    absl::StatusOr<int> now = Version();
    if (!now.ok() || *now != schema_version_) {
      (void)Exec("ROLLBACK");
      if (!now.ok()) return now.status();
      schema_version_ = *now;
      continue;
    }
    const int next = schema_version_ + 1;
    absl::Status done = Exec(kMigrations[next - 1]);
    if (done.ok()) {
      done = Statement(db_, "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)")
                 .Bind(1, int64_t{next})
                 .Bind(2, TimeText(absl::Now()))
                 .Run();
    }
    if (done.ok()) done = Exec("COMMIT");
    if (!done.ok()) {
      (void)Exec("ROLLBACK");
      return absl::InternalError(
          absl::StrCat("migrating the books to schema version ", next, ": ", done.message()));
    }
    LOG(INFO) << "Books | Schema migrated to version " << next;
    schema_version_ = next;
  }
  if (schema_version_ > LatestSchemaVersion()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the books' database is at schema version ", schema_version_,
        ", written by a newer evnet; this one knows up to ", LatestSchemaVersion()));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> TicketStore::Version() {
  Statement current(db_, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  absl::StatusOr<bool> row = current.Step();
  if (!row.ok()) return row.status();
  return static_cast<int>(current.Int(0));
}

absl::StatusOr<std::map<int32_t, int64_t>> TicketStore::NextOffsets(const std::string& topic) {
  Statement query(db_, "SELECT kafka_partition, next_offset FROM kafka_offsets WHERE topic = ?");
  query.Bind(1, topic);
  std::map<int32_t, int64_t> offsets;
  for (;;) {
    absl::StatusOr<bool> row = query.Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    offsets[static_cast<int32_t>(query.Int(0))] = query.Int(1);
  }
  return offsets;
}

absl::Status TicketStore::Book(const v1::DriverUpdate& update) {
  if (update.session_id().empty()) return absl::OkStatus();  // a refusal: no session
  if (update.kind() == v1::UPDATE_KIND_ACCEPTED) {
    return Statement(db_,
                     "INSERT INTO sessions (session_id, request_id, driver_id, cp_id, accepted_at) "
                     "VALUES (?, ?, ?, ?, ?) "
                     "ON CONFLICT (session_id) DO UPDATE SET "
                     "accepted_at = COALESCE(sessions.accepted_at, excluded.accepted_at)")
        .Bind(1, update.session_id())
        .Bind(2, update.request_id())
        .Bind(3, update.driver_id())
        .Bind(4, update.cp_id())
        .Bind(5, TimeText(FromProto(update.sent_at())))
        .Run();
  }
  if (update.kind() != v1::UPDATE_KIND_ENDED || !update.has_ticket()) return absl::OkStatus();
  const v1::SessionResult& ticket = update.ticket();
  // The ticket's own figures; its cents are central's, computed once.
  const int64_t energy_wh = Units(ticket.energy_kwh(), 1000);
  const int64_t price_e4 = Units(ticket.price_eur_per_kwh(), 10000);
  return Statement(db_,
                   "INSERT INTO sessions (session_id, request_id, driver_id, cp_id, started_at, "
                   "ended_at, end_reason, energy_wh, price_per_kwh_e4, amount_cents) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                   "ON CONFLICT (session_id) DO UPDATE SET "
                   "started_at = excluded.started_at, ended_at = excluded.ended_at, "
                   "end_reason = excluded.end_reason, energy_wh = excluded.energy_wh, "
                   "price_per_kwh_e4 = excluded.price_per_kwh_e4, "
                   "amount_cents = excluded.amount_cents "
                   "WHERE sessions.ended_at IS NULL")
      .Bind(1, update.session_id())
      .Bind(2, update.request_id())
      .Bind(3, update.driver_id())
      .Bind(4, update.cp_id())
      .Bind(5, TimeText(FromProto(ticket.started_at())))
      .Bind(6, TimeText(FromProto(ticket.ended_at())))
      .Bind(7, v1::SessionEndReason_Name(ticket.end_reason()))
      .Bind(8, energy_wh)
      .Bind(9, price_e4)
      .Bind(10, ticket.amount_cents())
      .Run();
}

absl::Status TicketStore::Apply(const std::string& topic,
                                const std::vector<LedgerRecord>& records) {
  if (records.empty()) return absl::OkStatus();
  if (absl::Status begun = Exec("BEGIN IMMEDIATE"); !begun.ok()) return begun;
  absl::Status done;
  absl::StatusOr<std::map<int32_t, int64_t>> next = NextOffsets(topic);
  if (!next.ok()) done = next.status();
  std::map<int32_t, int64_t> moved;
  for (const LedgerRecord& record : records) {
    if (!done.ok()) break;
    auto stored = next->find(record.partition);
    if (stored != next->end() && record.offset < stored->second) continue;  // booked before
    auto seen = moved.find(record.partition);
    if (seen != moved.end() && record.offset < seen->second) continue;  // twice in the batch
    done = Book(record.update);
    moved[record.partition] = record.offset + 1;
  }
  for (const auto& [partition, offset] : moved) {
    if (!done.ok()) break;
    done = Statement(db_,
                     "INSERT INTO kafka_offsets (topic, kafka_partition, next_offset) VALUES (?, ?, ?) "
                     "ON CONFLICT (topic, kafka_partition) DO UPDATE SET "
                     "next_offset = MAX(next_offset, excluded.next_offset)")
               .Bind(1, topic)
               .Bind(2, int64_t{partition})
               .Bind(3, offset)
               .Run();
  }
  if (done.ok()) {
    CrashPoint("books.booking");  // the batch and its offsets written, not committed
    done = Exec("COMMIT");
  }
  if (!done.ok()) (void)Exec("ROLLBACK");
  return done;
}

absl::StatusOr<TicketPage> TicketStore::Tickets(const TicketFilter& filter, int page_size,
                                                const std::string& page_token) {
  if (page_size < 1 || page_size > 1000) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size ", page_size, " is not between 1 and 1000"));
  }
  // The token is the last ticket's end and session id: the page after it.
  std::string after_end, after_session;
  if (!page_token.empty()) {
    std::vector<std::string> parts = absl::StrSplit(page_token, absl::MaxSplits('|', 1));
    if (parts.size() != 2) return absl::InvalidArgumentError("page_token is not one of ours");
    after_end = parts[0];
    after_session = parts[1];
  }
  // Only the filters given are in the query (its text is ours alone; the
  // values are bound), so that SQLite walks the driver's or the CP's index.
  std::vector<std::string> values;
  std::string where = "ended_at IS NOT NULL";
  if (!filter.driver_id.empty()) {
    absl::StrAppend(&where, " AND driver_id = ?");
    values.push_back(filter.driver_id);
  }
  if (!filter.cp_id.empty()) {
    absl::StrAppend(&where, " AND cp_id = ?");
    values.push_back(filter.cp_id);
  }
  if (filter.from != absl::InfinitePast()) {
    absl::StrAppend(&where, " AND ended_at >= ?");
    values.push_back(TimeText(filter.from));
  }
  if (filter.to != absl::InfiniteFuture()) {
    absl::StrAppend(&where, " AND ended_at < ?");
    values.push_back(TimeText(filter.to));
  }
  if (!page_token.empty()) {
    absl::StrAppend(&where, " AND (ended_at > ? OR (ended_at = ? AND session_id > ?))");
    values.insert(values.end(), {after_end, after_end, after_session});
  }
  Statement query(db_, absl::StrCat("SELECT ", kSessionColumns, " FROM sessions WHERE ", where,
                                    " ORDER BY ended_at, session_id LIMIT ?")
                           .c_str());
  int i = 1;
  for (const std::string& value : values) query.Bind(i++, value);
  query.Bind(i, int64_t{page_size} + 1);
  TicketPage page;
  for (;;) {
    absl::StatusOr<bool> row = query.Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    if (static_cast<int>(page.tickets.size()) == page_size) {
      const BookedSession& last = page.tickets.back();
      page.next_page_token = absl::StrCat(last.ended_at, "|", last.session_id);
      break;
    }
    page.tickets.push_back(SessionOf(query));
  }
  return page;
}

absl::StatusOr<std::vector<Total>> TicketStore::Totals(By by, Per per, absl::Time from,
                                                       absl::Time to, size_t limit) {
  // substr of the ISO time: its day (10 characters) or month (7).
  const char* key = by == By::kDriver ? "driver_id" : "cp_id";
  const int length = per == Per::kDay ? 10 : 7;
  Statement query(
      db_, absl::StrCat("SELECT ", key, ", substr(ended_at, 1, ", length,
                        ") AS period, COUNT(*), SUM(energy_wh), SUM(amount_cents)"
                        " FROM sessions WHERE ended_at IS NOT NULL"
                        " AND ended_at >= ? AND ended_at < ?"
                        " GROUP BY ", key, ", period ORDER BY ", key, ", period LIMIT ?")
               .c_str());
  query.Bind(1, from == absl::InfinitePast() ? std::string() : TimeText(from))
      .Bind(2, to == absl::InfiniteFuture() ? std::string("~") : TimeText(to))
      .Bind(3, static_cast<int64_t>(limit));
  std::vector<Total> totals;
  for (;;) {
    absl::StatusOr<bool> row = query.Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    totals.push_back({query.Text(0), query.Text(1), query.Int(2), query.Int(3), query.Int(4)});
  }
  return totals;
}

absl::StatusOr<BookedSession> TicketStore::Session(const std::string& session_id) {
  Statement query(db_, absl::StrCat("SELECT ", kSessionColumns,
                                    " FROM sessions WHERE session_id = ?")
                           .c_str());
  query.Bind(1, session_id);
  absl::StatusOr<bool> row = query.Step();
  if (!row.ok()) return row.status();
  if (!*row) return absl::NotFoundError(absl::StrCat("no session ", session_id, " in the books"));
  return SessionOf(query);
}

}  // namespace evnet::books
