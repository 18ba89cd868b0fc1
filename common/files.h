// Reading a whole small file (a certificate, a key, a credentials file), and
// writing one so that it survives a crash: the old contents or the new, never
// a mix.
#ifndef EVNET_COMMON_FILES_H_
#define EVNET_COMMON_FILES_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace evnet {

// The contents of `path`; NOT_FOUND naming it when it cannot be read.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Writes `contents` to `path` through a synced temporary file renamed over it.
[[nodiscard]] absl::Status WriteFileDurably(const std::string& path, absl::string_view contents);

// Creates `dir` and its parents, as `mkdir -p`.
[[nodiscard]] absl::Status MakeDirs(const std::string& dir);

}  // namespace evnet

#endif  // EVNET_COMMON_FILES_H_
