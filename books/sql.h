// One connection to the books' database, SQLite or PostgreSQL, as the
// books use it: statements with `?` for their values, which are always
// bound (never spliced into the text), and rows read back as text.
//
// Which database: a PostgreSQL connection URI ("postgresql://..." or
// "postgres://...", as libpq takes them) or else the path of a SQLite file,
// made if absent.
//
// Both speak the SQL the books write (ticket_store.cc keeps to what both
// take). Where they differ is here: a write transaction is one writer at a
// time across processes (SQLite's BEGIN IMMEDIATE; PostgreSQL's transaction
// advisory lock), and a PostgreSQL connection that dropped is made again
// before the next statement outside a transaction (inside one, the
// statement fails: the transaction is gone with the connection).
//
// Threading: not thread-safe; one owner at a time.
#ifndef EVNET_BOOKS_SQL_H_
#define EVNET_BOOKS_SQL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace evnet::books {

using SqlValue = std::variant<std::string, int64_t>;
using SqlRow = std::vector<std::string>;  // NULL reads as ""

class SqlConnection {
 public:
  // Connects to `where` (above): Unavailable if a PostgreSQL server cannot
  // be reached (it may be on its way), FailedPrecondition if a SQLite file
  // cannot be opened.
  static absl::StatusOr<std::unique_ptr<SqlConnection>> Open(const std::string& where);
  // Whether `where` names a PostgreSQL database.
  static bool IsPostgres(const std::string& where);
  // `where` fit for a log: a PostgreSQL URI without its password.
  static std::string Describe(const std::string& where);

  virtual ~SqlConnection() = default;

  // Statements without values (a migration: several at once).
  virtual absl::Status Exec(const std::string& script) = 0;
  // One statement, `values` bound to its `?` in order; its rows.
  virtual absl::StatusOr<std::vector<SqlRow>> Query(const std::string& sql,
                                                    const std::vector<SqlValue>& values) = 0;
  // A transaction that will write, the only one of the database's writers
  // until Commit or Rollback.
  virtual absl::Status BeginWrite() = 0;
  virtual absl::Status Commit() = 0;
  virtual void Rollback() = 0;
};

}  // namespace evnet::books

#endif  // EVNET_BOOKS_SQL_H_
