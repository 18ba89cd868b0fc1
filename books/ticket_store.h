// The operator's books in SQL: every session central accepted and every
// ticket it closed one with, as its ledger (evnet.central.ledger) says, in
// SQL: a SQLite file (the embedded default) or a PostgreSQL database
// (books/sql.h; the README's "The operator's books").
//
// Exactly once, as sinks do it: each batch of ledger records is written in
// one SQL transaction together with the Kafka offset that follows it, per
// partition. Whoever reads the ledger on after a kill starts from the
// stored offsets, so no record is lost or booked twice; a record at an
// offset already stored is skipped, and a session's ticket, once booked,
// is never overwritten.
//
// Money is exact: energy in whole Wh, the price in 1/10,000 EUR per kWh and
// amounts in cents, all integers (common/money.h). Times are UTC, ISO 8601
// with milliseconds ("2026-12-07T05:04:47.123Z"), which sort as they read.
// Every statement binds its values: no id reaches SQL as text of a query.
//
// Threading: not thread-safe; one owner (the sink's thread) uses it.
#ifndef EVNET_BOOKS_TICKET_STORE_H_
#define EVNET_BOOKS_TICKET_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "books/sql.h"
#include "evnet/v1/events.pb.h"

namespace evnet::books {

// One record of the ledger, where Kafka kept it.
struct LedgerRecord {
  int32_t partition = 0;
  int64_t offset = 0;
  v1::DriverUpdate update;
};

// A session as the books hold it.
struct BookedSession {
  std::string session_id;
  std::string request_id;
  std::string driver_id;
  std::string cp_id;
  std::string accepted_at;  // empty if the ledger never said (a card's, say)
  // Once ended (its ticket): otherwise empty / 0.
  std::string started_at;
  std::string ended_at;
  std::string end_reason;  // SessionEndReason's name
  int64_t energy_wh = 0;
  int64_t price_per_kwh_e4 = 0;  // 1/10,000 EUR per kWh
  int64_t amount_cents = 0;
};

// Which tickets; what is empty is not filtered on. Times compare with the
// ticket's end: from <= ended_at < to.
struct TicketFilter {
  std::string driver_id;
  std::string cp_id;
  absl::Time from = absl::InfinitePast();
  absl::Time to = absl::InfiniteFuture();
};

struct TicketPage {
  std::vector<BookedSession> tickets;  // by end, then session id
  std::string next_page_token;         // empty on the last page
};

// Totals per driver, CP or the whole network, and per hour, day or month
// (UTC) or over the whole range asked.
enum class By { kDriver, kCp, kNetwork };
enum class Per { kHour, kDay, kMonth, kAll };
struct Total {
  std::string key;     // the driver or the CP; "network"
  std::string period;  // "2026-12-07T05", "2026-12-07" or "2026-12"; "" for kAll
  int64_t sessions = 0;
  int64_t energy_wh = 0;
  int64_t amount_cents = 0;
};

class TicketStore {
 public:
  // Opens the database `where` names (SqlConnection::Open; a SQLite file is
  // made if absent) and brings its schema to this version's, applying each
  // migration it lacks in order, each in a transaction of its own. A
  // database a newer version wrote is refused; one that cannot be reached
  // is Unavailable (SqlConnection::Open).
  static absl::StatusOr<std::unique_ptr<TicketStore>> Open(const std::string& where);
  ~TicketStore();
  TicketStore(const TicketStore&) = delete;
  TicketStore& operator=(const TicketStore&) = delete;

  // The schema version the database is at, and the latest this code knows.
  int schema_version() const { return schema_version_; }
  static int LatestSchemaVersion();
  // Migration `version`'s SQL, for the tests that make a database as an
  // earlier version left it.
  static std::string MigrationForTest(int version);

  // Where to read `topic` on from: partition -> the next offset. A
  // partition not there is read from its beginning.
  absl::StatusOr<std::map<int32_t, int64_t>> NextOffsets(const std::string& topic);

  // Books `records` of `topic` and moves its stored offsets past them, in
  // one transaction: all of it or, with an error, nothing. ACCEPTED opens
  // a session, ENDED books its ticket (the first ticket of a session wins);
  // the other kinds change nothing but the offsets.
  absl::Status Apply(const std::string& topic, const std::vector<LedgerRecord>& records);

  // Tickets (ended sessions) matching `filter`, `page_size` at a time
  // (1 to 1,000), from `page_token` (empty: the first page).
  absl::StatusOr<TicketPage> Tickets(const TicketFilter& filter, int page_size,
                                     const std::string& page_token);
  // The tickets of [from, to) summed per driver or CP and day or month,
  // at most `limit` of them (the first by key and period).
  absl::StatusOr<std::vector<Total>> Totals(By by, Per per, absl::Time from, absl::Time to,
                                            size_t limit = 100000);
  // One session, open or ended; NotFound if the books do not hold it.
  absl::StatusOr<BookedSession> Session(const std::string& session_id);

 private:
  explicit TicketStore(std::unique_ptr<SqlConnection> db) : db_(std::move(db)) {}
  absl::Status Migrate();
  absl::StatusOr<int> Version();  // the highest migration applied
  absl::Status Book(const v1::DriverUpdate& update);

  const std::unique_ptr<SqlConnection> db_;
  int schema_version_ = 0;
};

}  // namespace evnet::books

#endif  // EVNET_BOOKS_TICKET_STORE_H_
