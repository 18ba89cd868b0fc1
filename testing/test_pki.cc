#include "testing/test_pki.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/files.h"

namespace evnet::test {

absl::StatusOr<std::string> Evpki(const std::string& command, const std::string& dir,
                                  const std::string& args) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string out = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/evpki.out");
  const std::string line =
      absl::StrCat("tools/pki/evpki ", command, " ", dir, " ", args, " >", out, " 2>&1");
  const int rc = std::system(line.c_str());
  std::string output(absl::StripTrailingAsciiWhitespace(ReadFile(out).value_or("")));
  if (rc != 0) return absl::InternalError(absl::StrCat("`", line, "` failed: ", output));
  return output;
}

absl::StatusOr<std::string> MakeTestPki(const std::string& name,
                                        const std::vector<std::string>& holders) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/", name);
  if (absl::StatusOr<std::string> made = Evpki("init", dir); !made.ok()) return made.status();
  for (const std::string& holder : holders) {
    if (absl::StatusOr<std::string> issued = Evpki("issue", dir, holder); !issued.ok()) {
      return issued.status();
    }
  }
  return dir;
}

}  // namespace evnet::test
