#include "testing/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace evnet::test {

absl::StatusOr<std::unique_ptr<Process>> Process::Start(ProcessOptions options) {
  if (options.argv.empty()) return absl::InvalidArgumentError("empty argv");
  std::unique_ptr<Process> process(new Process(std::move(options)));
  const ProcessOptions& o = process->options_;

  // Everything the child needs, prepared before fork.
  std::vector<char*> argv;
  for (const std::string& arg : o.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  // The child of a threaded parent may only make async-signal-safe calls
  // before exec: its environment is built here, not with setenv there.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    std::string name = entry.substr(0, entry.find('='));
    if (o.env.count(name) == 0) env_strings.push_back(std::move(entry));
  }
  for (const auto& [name, value] : o.env) env_strings.push_back(name + "=" + value);
  std::vector<char*> envp;
  for (std::string& entry : env_strings) envp.push_back(entry.data());
  envp.push_back(nullptr);
  int log_fd = -1;
  if (!o.log_path.empty()) {
    log_fd = open(o.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) {
      return absl::InternalError(absl::StrCat("open ", o.log_path, ": ", strerror(errno)));
    }
  }
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    if (log_fd >= 0) close(log_fd);
    return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  }
  if (pid == 0) {
    // Die with the test, however it ends.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    setpgid(0, 0);
    if (log_fd >= 0) {
      dup2(log_fd, STDOUT_FILENO);
      dup2(log_fd, STDERR_FILENO);
    }
    int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
    execve(argv[0], argv.data(), envp.data());
    dprintf(STDERR_FILENO, "exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  if (log_fd >= 0) close(log_fd);
  process->pid_ = pid;
  return process;
}

Process::~Process() { Kill(); }

bool Process::Running() {
  if (reaped_) return false;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }
  return true;
}

absl::Status Process::Signal(int signal) {
  if (!Running()) return absl::FailedPreconditionError("the process has ended");
  if (kill(pid_, signal) != 0) {
    return absl::InternalError(absl::StrCat("kill ", pid_, ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> Process::Wait(absl::Duration timeout) {
  if (!WaitFor([this] { return !Running(); }, timeout, absl::Milliseconds(10))) {
    return absl::DeadlineExceededError(absl::StrCat(
        options_.argv[0], " (pid ", pid_, ") still runs after ", absl::FormatDuration(timeout)));
  }
  return exit_code_;
}

void Process::Kill() {
  if (pid_ <= 0 || !Running()) return;
  // The process, and its group so that a wrapper script's children die too.
  kill(pid_, SIGKILL);
  kill(-pid_, SIGKILL);
  int status = 0;
  if (waitpid(pid_, &status, 0) == pid_) {
    reaped_ = true;
    exit_code_ = 128 + SIGKILL;
  }
}

std::string Process::LogTail(size_t max_bytes) const {
  std::ifstream in(options_.log_path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  return text.size() > max_bytes ? text.substr(text.size() - max_bytes) : text;
}

namespace {

// Binds 127.0.0.1:`port` (0: the kernel's pick) and lets it go at once.
// Returns the port bound, or -1 when it could not be (somebody has it).
int BindAndRelease(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  socklen_t len = sizeof(addr);
  int bound = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    bound = ntohs(addr.sin_port);
  }
  close(fd);
  return bound;
}

// The first port of the kernel's ephemeral range (outgoing connections and
// bind(0) take their ports from it).
int EphemeralLow() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 0;
  int high = 0;
  return in >> low >> high ? low : 0;
}

}  // namespace

int PickFreePort() {
  // Ports are picked below the kernel's ephemeral range: one picked inside
  // it could be taken, before our server binds it, by any outgoing
  // connection on the machine (a Kafka client of another test). Test
  // processes running side by side share the range, so each port is
  // claimed with a lock file that this process holds until it exits (the
  // kernel lets it go even after a SIGKILL). Within the process, a port is
  // given once: gRPC and cpp-httplib set SO_REUSEPORT, so two servers on one
  // port would both start, and share its connections.
  constexpr int kLowest = 15000;
  static absl::Mutex mu(absl::kConstInit);
  static auto* given = new std::set<int>();
  static const int ephemeral_low = EphemeralLow();
  static const std::string lock_dir = [] {
    const std::string dir = "/tmp/evnet-test-ports";
    mkdir(dir.c_str(), 0700);
    return dir;
  }();
  absl::MutexLock lock(&mu);
  if (ephemeral_low > kLowest + 1000) {
    static std::mt19937 random(std::random_device{}() ^ static_cast<unsigned>(getpid()));
    std::uniform_int_distribution<int> in_range(kLowest, ephemeral_low - 1);
    for (int attempt = 0; attempt < 1000; ++attempt) {
      const int port = in_range(random);
      if (given->count(port) > 0) continue;
      const std::string path = absl::StrCat(lock_dir, "/", port);
      const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
      if (fd < 0) break;  // no shared place to claim ports in: as below
      if (flock(fd, LOCK_EX | LOCK_NB) != 0 || BindAndRelease(port) != port) {
        close(fd);
        continue;
      }
      given->insert(port);  // and fd stays open: the claim lasts as long as this process
      return port;
    }
  }
  // The kernel's pick, inside the ephemeral range.
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int port = BindAndRelease(0);
    if (port > 0 && given->insert(port).second) return port;
  }
  return -1;
}

bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout,
             absl::Duration interval) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (condition()) return true;
    if (absl::Now() >= deadline) return false;
    // The condition lives in another process: nothing can notify us, so poll.
    absl::SleepFor(std::min(interval, deadline - absl::Now()));
  }
}

std::string MakeTempDir(const std::string& name) {
  const char* root = getenv("TEST_TMPDIR");
  std::string base = absl::StrCat(root != nullptr ? root : "/tmp", "/", name, ".XXXXXX");
  std::vector<char> path(base.begin(), base.end());
  path.push_back('\0');
  if (mkdtemp(path.data()) == nullptr) return "";
  return path.data();
}

}  // namespace evnet::test
