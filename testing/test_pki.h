// Certificates for tests, made the way an operator makes them: by
// tools/pki/evpki (a data dependency of this library), in the test's temp dir.
#ifndef EVNET_TESTING_TEST_PKI_H_
#define EVNET_TESTING_TEST_PKI_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace evnet::test {

// Runs `tools/pki/evpki COMMAND DIR ARGS`; its output, or an error with it.
absl::StatusOr<std::string> Evpki(const std::string& command, const std::string& dir,
                                  const std::string& args = "");

// A CA in TEST_TMPDIR/`name` (made once) and a certificate for each holder,
// "ROLE NAME" or "ROLE NAME DAYS" ("driver driver-old 0": already expired).
// Returns the CA's folder.
absl::StatusOr<std::string> MakeTestPki(const std::string& name,
                                        const std::vector<std::string>& holders);

}  // namespace evnet::test

#endif  // EVNET_TESTING_TEST_PKI_H_
