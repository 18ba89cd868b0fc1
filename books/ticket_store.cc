#include "books/ticket_store.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/clock.h"
#include "common/crash_point.h"
#include "common/proto_time.h"
#include "glog/logging.h"

namespace evnet::books {
namespace {

// The schema, one migration per version, never edited once released: a
// change is a new migration. In the SQL both databases take (BIGINT is an
// INTEGER to SQLite).
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
        energy_wh BIGINT,
        price_per_kwh_e4 BIGINT,
        amount_cents BIGINT
      );
      CREATE INDEX sessions_by_end ON sessions (ended_at, session_id);
      CREATE INDEX sessions_by_driver ON sessions (driver_id, ended_at);
      CREATE INDEX sessions_by_cp ON sessions (cp_id, ended_at);
      CREATE TABLE kafka_offsets (
        topic TEXT NOT NULL,
        kafka_partition INTEGER NOT NULL,
        next_offset BIGINT NOT NULL,
        PRIMARY KEY (topic, kafka_partition)
      );
    )sql",
    // 2: the reports' index: totals over a time range read it alone, not
    // the table (a month of 10,000 CPs per CP: see docs/performance.md).
    R"sql(
      CREATE INDEX sessions_for_reports
        ON sessions (ended_at, cp_id, driver_id, energy_wh, amount_cents);
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

constexpr const char* kSessionColumns =
    "session_id, request_id, driver_id, cp_id, COALESCE(accepted_at, ''), "
    "COALESCE(started_at, ''), COALESCE(ended_at, ''), COALESCE(end_reason, ''), "
    "COALESCE(energy_wh, 0), COALESCE(price_per_kwh_e4, 0), COALESCE(amount_cents, 0)";

// A whole number the database gave as text (a SUM of none: 0).
int64_t Int(const std::string& text) {
  int64_t n = 0;
  return absl::SimpleAtoi(text, &n) ? n : 0;
}

BookedSession SessionOf(const SqlRow& row) {
  BookedSession s;
  s.session_id = row[0];
  s.request_id = row[1];
  s.driver_id = row[2];
  s.cp_id = row[3];
  s.accepted_at = row[4];
  s.started_at = row[5];
  s.ended_at = row[6];
  s.end_reason = row[7];
  s.energy_wh = Int(row[8]);
  s.price_per_kwh_e4 = Int(row[9]);
  s.amount_cents = Int(row[10]);
  return s;
}

}  // namespace

std::string TicketStore::MigrationForTest(int version) {
  return version >= 1 && version <= LatestSchemaVersion() ? kMigrations[version - 1] : "";
}

int TicketStore::LatestSchemaVersion() {
  return static_cast<int>(sizeof(kMigrations) / sizeof(kMigrations[0]));
}

absl::StatusOr<std::unique_ptr<TicketStore>> TicketStore::Open(const std::string& where) {
  absl::StatusOr<std::unique_ptr<SqlConnection>> db = SqlConnection::Open(where);
  if (!db.ok()) return db.status();
  std::unique_ptr<TicketStore> store(new TicketStore(*std::move(db)));
  if (absl::Status migrated = store->Migrate(); !migrated.ok()) return migrated;
  return store;
}

TicketStore::~TicketStore() = default;

absl::Status TicketStore::Migrate() {
  // Under the write lock: two processes making a new database at once
  // (PostgreSQL's CREATE TABLE IF NOT EXISTS is not safe against that).
  absl::Status made = db_->BeginWrite();
  if (made.ok()) {
    made = db_->Exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "  version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)");
  }
  if (made.ok()) made = db_->Commit();
  if (!made.ok()) {
    db_->Rollback();
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
    if (absl::Status begun = db_->BeginWrite(); !begun.ok()) return begun;
    // Another process may have migrated it since it was read: asked again
    // under the write lock.
    absl::StatusOr<int> now = Version();
    if (!now.ok() || *now != schema_version_) {
      db_->Rollback();
      if (!now.ok()) return now.status();
      schema_version_ = *now;
      continue;
    }
    const int next = schema_version_ + 1;
    absl::Status done = db_->Exec(kMigrations[next - 1]);
    if (done.ok()) {
      done = db_->Query("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                        {int64_t{next}, TimeText(SystemClock::Get().Now())})
                 .status();
    }
    if (done.ok()) done = db_->Commit();
    if (!done.ok()) {
      db_->Rollback();
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
  absl::StatusOr<std::vector<SqlRow>> rows =
      db_->Query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", {});
  if (!rows.ok()) return rows.status();
  if (rows->size() != 1 || rows->front().size() != 1) {
    return absl::InternalError("the books' schema version did not read as one number");
  }
  return static_cast<int>(Int(rows->front()[0]));
}

absl::StatusOr<std::map<int32_t, int64_t>> TicketStore::NextOffsets(const std::string& topic) {
  absl::StatusOr<std::vector<SqlRow>> rows = db_->Query(
      "SELECT kafka_partition, next_offset FROM kafka_offsets WHERE topic = ?", {topic});
  if (!rows.ok()) return rows.status();
  std::map<int32_t, int64_t> offsets;
  for (const SqlRow& row : *rows) offsets[static_cast<int32_t>(Int(row[0]))] = Int(row[1]);
  return offsets;
}

absl::Status TicketStore::Book(const v1::DriverUpdate& update) {
  if (update.session_id().empty()) return absl::OkStatus();  // a refusal: no session
  if (update.kind() == v1::UPDATE_KIND_ACCEPTED) {
    return db_
        ->Query("INSERT INTO sessions (session_id, request_id, driver_id, cp_id, accepted_at) "
                "VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (session_id) DO UPDATE SET "
                "accepted_at = COALESCE(sessions.accepted_at, excluded.accepted_at)",
                {update.session_id(), update.request_id(), update.driver_id(), update.cp_id(),
                 TimeText(FromProto(update.sent_at()))})
        .status();
  }
  if (update.kind() != v1::UPDATE_KIND_ENDED || !update.has_ticket()) return absl::OkStatus();
  const v1::SessionResult& ticket = update.ticket();
  // The ticket's own figures; its cents are central's, computed once.
  const int64_t energy_wh = Units(ticket.energy_kwh(), 1000);
  const int64_t price_e4 = Units(ticket.price_eur_per_kwh(), 10000);
  return db_
      ->Query("INSERT INTO sessions (session_id, request_id, driver_id, cp_id, started_at, "
              "ended_at, end_reason, energy_wh, price_per_kwh_e4, amount_cents) "
              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
              "ON CONFLICT (session_id) DO UPDATE SET "
              "started_at = excluded.started_at, ended_at = excluded.ended_at, "
              "end_reason = excluded.end_reason, energy_wh = excluded.energy_wh, "
              "price_per_kwh_e4 = excluded.price_per_kwh_e4, "
              "amount_cents = excluded.amount_cents "
              "WHERE sessions.ended_at IS NULL",
              {update.session_id(), update.request_id(), update.driver_id(), update.cp_id(),
               TimeText(FromProto(ticket.started_at())), TimeText(FromProto(ticket.ended_at())),
               v1::SessionEndReason_Name(ticket.end_reason()), energy_wh, price_e4,
               int64_t{ticket.amount_cents()}})
      .status();
}

absl::Status TicketStore::Apply(const std::string& topic,
                                const std::vector<LedgerRecord>& records) {
  if (records.empty()) return absl::OkStatus();
  if (absl::Status begun = db_->BeginWrite(); !begun.ok()) return begun;
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
    done = db_->Query("INSERT INTO kafka_offsets (topic, kafka_partition, next_offset) "
                      "VALUES (?, ?, ?) "
                      "ON CONFLICT (topic, kafka_partition) DO UPDATE SET next_offset = "
                      "CASE WHEN excluded.next_offset > kafka_offsets.next_offset "
                      "THEN excluded.next_offset ELSE kafka_offsets.next_offset END",
                      {topic, int64_t{partition}, offset})
               .status();
  }
  if (done.ok()) {
    CrashPoint("books.booking");  // the batch and its offsets written, not committed
    done = db_->Commit();
  }
  if (!done.ok()) db_->Rollback();
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
  std::vector<SqlValue> values;
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
  values.push_back(int64_t{page_size} + 1);
  absl::StatusOr<std::vector<SqlRow>> rows =
      db_->Query(absl::StrCat("SELECT ", kSessionColumns, " FROM sessions WHERE ", where,
                              " ORDER BY ended_at, session_id LIMIT ?"),
                 values);
  if (!rows.ok()) return rows.status();
  TicketPage page;
  for (const SqlRow& row : *rows) {
    if (static_cast<int>(page.tickets.size()) == page_size) {
      const BookedSession& last = page.tickets.back();
      page.next_page_token = absl::StrCat(last.ended_at, "|", last.session_id);
      break;
    }
    page.tickets.push_back(SessionOf(row));
  }
  return page;
}

absl::StatusOr<std::vector<Total>> TicketStore::Totals(By by, Per per, absl::Time from,
                                                       absl::Time to, size_t limit) {
  // substr of the ISO time: its hour (13 characters), day (10) or month
  // (7). Grouped only by what is asked (the text is ours; values bound).
  const std::string key =
      by == By::kNetwork ? "'network'" : (by == By::kDriver ? "driver_id" : "cp_id");
  const int length = per == Per::kHour ? 13 : per == Per::kDay ? 10 : 7;
  const std::string period = per == Per::kAll ? "''" : absl::StrCat("substr(ended_at, 1, ", length, ")");
  std::vector<std::string> groups;
  if (by != By::kNetwork) groups.push_back(key);
  if (per != Per::kAll) groups.push_back("period");
  const std::string grouped =
      groups.empty() ? "" : absl::StrCat(" GROUP BY ", absl::StrJoin(groups, ", "), " ORDER BY ",
                                         absl::StrJoin(groups, ", "));
  // Unbounded ends as times no ticket has: the comparison is of text, in
  // whatever order the database's collation gives, and digits sort alike
  // in every one.
  absl::StatusOr<std::vector<SqlRow>> rows = db_->Query(
      absl::StrCat("SELECT ", key, ", ", period,
                   " AS period, COUNT(*), COALESCE(SUM(energy_wh), 0), "
                   "COALESCE(SUM(amount_cents), 0) FROM sessions WHERE ended_at IS NOT NULL"
                   " AND ended_at >= ? AND ended_at < ?",
                   grouped, " LIMIT ?"),
      {from == absl::InfinitePast() ? std::string("0000") : TimeText(from),
       to == absl::InfiniteFuture() ? std::string("9999") : TimeText(to),
       static_cast<int64_t>(limit)});
  if (!rows.ok()) return rows.status();
  std::vector<Total> totals;
  totals.reserve(rows->size());
  for (const SqlRow& row : *rows) {
    totals.push_back({row[0], row[1], Int(row[2]), Int(row[3]), Int(row[4])});
  }
  return totals;
}

absl::StatusOr<BookedSession> TicketStore::Session(const std::string& session_id) {
  absl::StatusOr<std::vector<SqlRow>> rows = db_->Query(
      absl::StrCat("SELECT ", kSessionColumns, " FROM sessions WHERE session_id = ?"),
      {session_id});
  if (!rows.ok()) return rows.status();
  if (rows->empty()) {
    return absl::NotFoundError(absl::StrCat("no session ", session_id, " in the books"));
  }
  return SessionOf(rows->front());
}

}  // namespace evnet::books
