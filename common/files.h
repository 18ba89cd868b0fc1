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

// Writes `contents` to `path` through a synced temporary file renamed over
// it. The file is this user's alone (0600); the temporary file is made new
// (a stale one is removed first), never opened through a symbolic link.
[[nodiscard]] absl::Status WriteFileDurably(const std::string& path, absl::string_view contents);

// Creates `dir` and its parents, as `mkdir -p`.
[[nodiscard]] absl::Status MakeDirs(const std::string& dir);

// A folder for a program's state (journals, progress): created 0700 with
// its parents. An existing one must be a real folder (not a symbolic link)
// owned by this user, or FAILED_PRECONDITION says whose it is; one that
// others may read or write is made this user's alone again. One of root's
// that others cannot write to (a mounted volume) is taken as it is.
[[nodiscard]] absl::Status MakePrivateDir(const std::string& dir);

// Where a program keeps its state by default: $XDG_STATE_HOME/evnet/`name`,
// else $HOME/.local/state/evnet/`name` (never a folder others can write to).
std::string DefaultStateDir(const std::string& name);

}  // namespace evnet

#endif  // EVNET_COMMON_FILES_H_
