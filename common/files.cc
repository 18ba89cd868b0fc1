#include "common/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
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
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno(absl::StrCat("cannot write ", tmp));
  bool ok = write(fd, contents.data(), contents.size()) ==
                static_cast<ssize_t>(contents.size()) &&
            fsync(fd) == 0;
  ok = (close(fd) == 0) && ok;
  if (!ok) return Errno(absl::StrCat("cannot write ", tmp));
  if (rename(tmp.c_str(), path.c_str()) != 0) return Errno(absl::StrCat("cannot replace ", path));
  return absl::OkStatus();
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
