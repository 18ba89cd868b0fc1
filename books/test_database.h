// Where a test of the books keeps them: a new, empty database for each
// name, in whichever database the test binary was linked with. The same
// tests run on both: test_database_sqlite.cc (a file in TEST_TMPDIR) for
// //books:ticket_store_test, and //testing:postgres_database (a real
// PostgreSQL server) for //testing:ticket_store_postgres_test.
#ifndef EVNET_BOOKS_TEST_DATABASE_H_
#define EVNET_BOOKS_TEST_DATABASE_H_

#include <string>

namespace evnet::books {

// What TicketStore::Open takes for a new database named `name`
// (lower-case letters, digits and '_').
std::string NewTestDatabase(const std::string& name);

}  // namespace evnet::books

#endif  // EVNET_BOOKS_TEST_DATABASE_H_
