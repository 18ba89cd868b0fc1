// The books' tests on a real PostgreSQL server: one server for the test
// binary, started at the first database asked for, and a database per test.
#include <cstdlib>
#include <memory>

#include "absl/strings/str_cat.h"
#include "books/test_database.h"
#include "glog/logging.h"
#include "testing/postgres_server.h"

namespace evnet::books {

std::string NewTestDatabase(const std::string& name) {
  static test::PostgresServer* const server = [] {
    absl::StatusOr<std::unique_ptr<test::PostgresServer>> started = test::PostgresServer::Start();
    CHECK(started.ok()) << started.status();
    // Stopped with the binary: its files go with it.
    static std::unique_ptr<test::PostgresServer> owned = *std::move(started);
    return owned.get();
  }();
  // PostgreSQL cuts names at 63 characters: a short one, numbered.
  static int made = 0;
  absl::StatusOr<std::string> uri =
      server->CreateDatabase(absl::StrCat(name.substr(0, 40), "_", ++made));
  CHECK(uri.ok()) << uri.status();
  return *uri;
}

}  // namespace evnet::books
