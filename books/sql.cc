#include "books/sql.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "postgresql/libpq-fe.h"  // Debian's libpq-dev
#include "sqlite3.h"

namespace evnet::books {
namespace {

// A lock number of the books' own: PostgreSQL's write transactions take it
// for as long as they last, as SQLite's BEGIN IMMEDIATE takes the file's.
constexpr int64_t kWriterLock = 0x65766e6574;  // "evnet"

std::string TextOf(const SqlValue& value) {
  if (const int64_t* n = std::get_if<int64_t>(&value)) return absl::StrCat(*n);
  return std::get<std::string>(value);
}

class SqliteConnection : public SqlConnection {
 public:
  explicit SqliteConnection(sqlite3* db) : db_(db) {}
  ~SqliteConnection() override { sqlite3_close(db_); }

  absl::Status Exec(const std::string& script) override {
    char* error = nullptr;
    if (sqlite3_exec(db_, script.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      absl::Status status =
          absl::InternalError(absl::StrCat("the books' database: ", error ? error : "failed"));
      sqlite3_free(error);
      return status;
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<SqlRow>> Query(const std::string& sql,
                                            const std::vector<SqlValue>& values) override {
    sqlite3_stmt* stmt = nullptr;
    int status = sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr);
    for (size_t i = 0; i < values.size() && status == SQLITE_OK; ++i) {
      const int at = static_cast<int>(i) + 1;
      if (const int64_t* n = std::get_if<int64_t>(&values[i])) {
        status = sqlite3_bind_int64(stmt, at, *n);
      } else {
        const std::string& text = std::get<std::string>(values[i]);
        status = sqlite3_bind_text(stmt, at, text.data(), static_cast<int>(text.size()),
                                   SQLITE_TRANSIENT);
      }
    }
    std::vector<SqlRow> rows;
    while (status == SQLITE_OK) {
      const int stepped = sqlite3_step(stmt);
      if (stepped == SQLITE_DONE) break;
      if (stepped != SQLITE_ROW) {
        status = stepped;
        break;
      }
      SqlRow& row = rows.emplace_back(sqlite3_column_count(stmt));
      for (size_t c = 0; c < row.size(); ++c) {
        const unsigned char* text = sqlite3_column_text(stmt, static_cast<int>(c));
        if (text != nullptr) row[c] = reinterpret_cast<const char*>(text);
      }
    }
    sqlite3_finalize(stmt);
    if (status != SQLITE_OK) {
      return absl::InternalError(absl::StrCat("the books' database: ", sqlite3_errstr(status),
                                              ": ", sqlite3_errmsg(db_)));
    }
    return rows;
  }

  absl::Status BeginWrite() override { return Exec("BEGIN IMMEDIATE"); }
  absl::Status Commit() override { return Exec("COMMIT"); }
  void Rollback() override { (void)Exec("ROLLBACK"); }

 private:
  sqlite3* const db_;
};

class PostgresConnection : public SqlConnection {
 public:
  explicit PostgresConnection(PGconn* conn) : conn_(conn) {}
  ~PostgresConnection() override { PQfinish(conn_); }

  absl::Status Exec(const std::string& script) override {
    return Run([&] { return PQexec(conn_, script.c_str()); }).status();
  }

  absl::StatusOr<std::vector<SqlRow>> Query(const std::string& sql,
                                            const std::vector<SqlValue>& values) override {
    // `?` -> `$1`, `$2`, ...: the books' SQL has no `?` of its own.
    std::string numbered;
    int n = 0;
    for (char c : sql) {
      if (c == '?') {
        absl::StrAppend(&numbered, "$", ++n);
      } else {
        numbered.push_back(c);
      }
    }
    if (n != static_cast<int>(values.size())) {
      return absl::InternalError(absl::StrCat("the books' statement takes ", n, " values, given ",
                                              values.size()));
    }
    std::vector<std::string> texts;
    texts.reserve(values.size());
    for (const SqlValue& value : values) texts.push_back(TextOf(value));
    std::vector<const char*> pointers;
    for (const std::string& text : texts) pointers.push_back(text.c_str());
    // Untyped text values: the server gives each the type its place asks.
    return Run([&] {
      return PQexecParams(conn_, numbered.c_str(), n, nullptr, pointers.data(), nullptr, nullptr,
                          /*resultFormat=*/0);
    });
  }

  absl::Status BeginWrite() override {
    const std::string begin = absl::StrCat("BEGIN; SELECT pg_advisory_xact_lock(", kWriterLock, ")");
    absl::Status begun = Run([&] { return PQexec(conn_, begin.c_str()); }).status();
    if (!begun.ok()) {
      Rollback();
      return begun;
    }
    in_transaction_ = true;
    return absl::OkStatus();
  }

  absl::Status Commit() override {
    absl::Status done = Check(PQexec(conn_, "COMMIT")).status();
    in_transaction_ = false;
    return done;
  }

  void Rollback() override {
    PQclear(PQexec(conn_, "ROLLBACK"));
    in_transaction_ = false;
  }

 private:
  // Runs a statement. Outside a transaction, on a connection found dropped
  // (a server restarted since: libpq only learns it from a statement that
  // fails), it is made again and the statement run once more; inside one,
  // what the transaction wrote is gone and the statement fails.
  template <typename Send>
  absl::StatusOr<std::vector<SqlRow>> Run(Send send) {
    if (absl::Status up = Connected(); !up.ok()) return up;
    absl::StatusOr<std::vector<SqlRow>> rows = Check(send());
    if (rows.ok() || in_transaction_ || PQstatus(conn_) == CONNECTION_OK) return rows;
    if (absl::Status up = Connected(); !up.ok()) return up;
    return Check(send());
  }

  // A connection that dropped is made again, outside a transaction only:
  // inside one, what it wrote is gone and the statement must fail.
  absl::Status Connected() {
    if (PQstatus(conn_) == CONNECTION_OK) return absl::OkStatus();
    if (!in_transaction_) PQreset(conn_);
    if (PQstatus(conn_) == CONNECTION_OK) return absl::OkStatus();
    return absl::UnavailableError(
        absl::StrCat("the books' database: ", absl::StripAsciiWhitespace(PQerrorMessage(conn_))));
  }

  absl::StatusOr<std::vector<SqlRow>> Check(PGresult* result) {
    const ExecStatusType status = result == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(result);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      const std::string why(absl::StripAsciiWhitespace(
          result != nullptr ? PQresultErrorMessage(result) : PQerrorMessage(conn_)));
      PQclear(result);
      if (PQstatus(conn_) != CONNECTION_OK) {
        return absl::UnavailableError(absl::StrCat("the books' database: ", why));
      }
      return absl::InternalError(absl::StrCat("the books' database: ", why));
    }
    std::vector<SqlRow> rows(PQntuples(result));
    for (int r = 0; r < static_cast<int>(rows.size()); ++r) {
      rows[r].resize(PQnfields(result));
      for (int c = 0; c < static_cast<int>(rows[r].size()); ++c) {
        rows[r][c].assign(PQgetvalue(result, r, c), PQgetlength(result, r, c));
      }
    }
    PQclear(result);
    return rows;
  }

  PGconn* const conn_;
  bool in_transaction_ = false;
};

absl::StatusOr<std::unique_ptr<SqlConnection>> OpenPostgres(const std::string& uri) {
  // Not for ever: a server that does not answer is said within seconds; a
  // peer gone mid-statement within a minute (keepalives, TCP's timeout);
  // no statement or lock waited for longer than a minute; and a
  // transaction whose client vanished is ended by the server, so that its
  // lock does not hold the next writer. The URI's values win over these.
  const char* keys[] = {"connect_timeout",    "application_name", "keepalives_idle",
                        "keepalives_interval", "keepalives_count", "tcp_user_timeout",
                        "options",            "dbname",           nullptr};
  const char* values[] = {"5",
                          "evnet-books",
                          "30",
                          "10",
                          "3",
                          "60000",
                          "-c statement_timeout=60s -c lock_timeout=60s "
                          "-c idle_in_transaction_session_timeout=60s",
                          uri.c_str(),
                          nullptr};
  PGconn* conn = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (conn == nullptr) return absl::ResourceExhaustedError("libpq could not allocate");
  if (PQstatus(conn) != CONNECTION_OK) {
    const std::string why(absl::StripAsciiWhitespace(PQerrorMessage(conn)));
    PQfinish(conn);
    return absl::UnavailableError(absl::StrCat("cannot reach the books at ",
                                               SqlConnection::Describe(uri), ": ", why));
  }
  // Warnings (a table that already exists) are not the log's business.
  PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);
  return std::unique_ptr<SqlConnection>(new PostgresConnection(conn));
}

absl::StatusOr<std::unique_ptr<SqlConnection>> OpenSqlite(const std::string& path) {
  sqlite3* db = nullptr;
  const int opened = sqlite3_open_v2(path.c_str(), &db,
                                     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (opened != SQLITE_OK) {
    const std::string why = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(opened);
    sqlite3_close(db);
    // Not a database that is away for a while: a path that is wrong.
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open the books at ", path, ": ", why));
  }
  auto connection = std::make_unique<SqliteConnection>(db);
  // Another process holding the database (a report) makes a write wait,
  // not fail. WAL: readers never block the sink. A commit cut by a crash
  // takes its offsets with it, so the ledger is read again from before it.
  sqlite3_busy_timeout(db, 5000);
  if (absl::Status set = connection->Exec("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;");
      !set.ok()) {
    return set;
  }
  return connection;
}

}  // namespace

bool SqlConnection::IsPostgres(const std::string& where) {
  return absl::StartsWith(where, "postgresql://") || absl::StartsWith(where, "postgres://");
}

std::string SqlConnection::Describe(const std::string& where) {
  if (!IsPostgres(where)) return where;
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(where.c_str(), &error);
  if (options == nullptr) {
    PQfreemem(error);
    return "a PostgreSQL URI that does not parse";
  }
  std::string user, host, port, dbname;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    const absl::string_view key = o->keyword;
    if (key == "user") user = o->val;
    if (key == "host") host = o->val;
    if (key == "port") port = o->val;
    if (key == "dbname") dbname = o->val;
  }
  PQconninfoFree(options);
  return absl::StrCat("postgresql://", user, user.empty() ? "" : "@", host,
                      port.empty() ? "" : ":", port, "/", dbname);
}

absl::StatusOr<std::unique_ptr<SqlConnection>> SqlConnection::Open(const std::string& where) {
  if (IsPostgres(where)) return OpenPostgres(where);
  return OpenSqlite(where);
}

}  // namespace evnet::books
