#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "books/test_database.h"

namespace evnet::books {

std::string NewTestDatabase(const std::string& name) {
  return absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name, ".db");
}

}  // namespace evnet::books
