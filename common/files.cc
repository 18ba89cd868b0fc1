#include "common/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace evnet {
namespace {

absl::Status Errno(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", strerror(errno)));
}

}  // namespace

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::Status WriteFileDurably(const std::string& path, absl::string_view contents) {
  const std::string tmp = path + ".tmp";
  // Left by a crash (or planted): removed, not written through.
  if (unlink(tmp.c_str()) != 0 && errno != ENOENT) {
    return Errno(absl::StrCat("cannot remove the stale ", tmp));
  }
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return Errno(absl::StrCat("cannot write ", tmp));
  bool ok = write(fd, contents.data(), contents.size()) ==
                static_cast<ssize_t>(contents.size()) &&
            fsync(fd) == 0;
  ok = (close(fd) == 0) && ok;
  if (!ok) return Errno(absl::StrCat("cannot write ", tmp));
  if (rename(tmp.c_str(), path.c_str()) != 0) return Errno(absl::StrCat("cannot replace ", path));
  // The rename itself survives a crash once its folder is synced.
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, std::max<size_t>(slash, 1));
  if (int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return absl::OkStatus();
}

absl::Status MakePrivateDir(const std::string& dir) {
  if (dir.empty()) return absl::InvalidArgumentError("no state folder given");
  const size_t slash = dir.find_last_of('/', dir.size() - 2);
  if (slash != std::string::npos && slash > 0) {
    if (absl::Status parents = MakeDirs(dir.substr(0, slash)); !parents.ok()) return parents;
  }
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Errno(absl::StrCat("cannot create the folder ", dir));
  }
  struct stat st;
  if (lstat(dir.c_str(), &st) != 0) return Errno(absl::StrCat("cannot read ", dir));
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(
        dir, " is not a folder (a symbolic link or a file): refusing to keep state there"));
  }
  // A folder root made for this program (a Kubernetes volume: root's, group
  // fsGroup) is trusted as long as others cannot write to it (not /tmp).
  if (st.st_uid == 0 && st.st_uid != geteuid()) {
    if ((st.st_mode & S_IWOTH) != 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          dir, " may be written to by every user: refusing to keep state there; give a "
               "folder of this user's (--state_dir)"));
    }
    return absl::OkStatus();
  }
  if (st.st_uid != geteuid()) {
    return absl::FailedPreconditionError(absl::StrCat(
        dir, " belongs to user ", st.st_uid, ", not to this one (", geteuid(),
        "): refusing to keep state there; give a folder of this user's (--state_dir)"));
  }
  if ((st.st_mode & 077) != 0 && chmod(dir.c_str(), 0700) != 0) {
    return Errno(absl::StrCat("cannot make ", dir, " this user's alone"));
  }
  return absl::OkStatus();
}

std::string DefaultStateDir(const std::string& name) {
  const char* state = getenv("XDG_STATE_HOME");
  if (state != nullptr && state[0] == '/') return absl::StrCat(state, "/evnet/", name);
  const char* home = getenv("HOME");
  if (home != nullptr && home[0] == '/') return absl::StrCat(home, "/.local/state/evnet/", name);
  return absl::StrCat("/var/lib/evnet/", name);
}

absl::Status MakeDirs(const std::string& dir) {
  for (size_t pos = 1; pos != std::string::npos;) {
    pos = dir.find('/', pos + 1);
    const std::string prefix = dir.substr(0, pos);
    if (mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
      return Errno(absl::StrCat("cannot create the folder ", prefix));
    }
  }
  return absl::OkStatus();
}

}  // namespace evnet
