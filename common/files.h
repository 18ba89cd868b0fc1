// Reading a whole small file (a certificate, a key, a credentials file).
#ifndef EVNET_COMMON_FILES_H_
#define EVNET_COMMON_FILES_H_

#include <string>

#include "absl/status/statusor.h"

namespace evnet {

// The contents of `path`; NOT_FOUND naming it when it cannot be read.
absl::StatusOr<std::string> ReadFile(const std::string& path);

}  // namespace evnet

#endif  // EVNET_COMMON_FILES_H_
