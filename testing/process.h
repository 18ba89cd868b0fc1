// Real processes for system tests: start one with its output in a log file,
// signal it (SIGKILL for fault tests), wait for it, and never leave it behind:
// the destructor kills what is still running, and a child dies with the test.
#ifndef EVNET_TESTING_PROCESS_H_
#define EVNET_TESTING_PROCESS_H_

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace evnet::test {

struct ProcessOptions {
  std::vector<std::string> argv;            // argv[0] is the program's path
  std::map<std::string, std::string> env;   // added to the test's environment
  std::string log_path;                     // stdout and stderr, appended
};

class Process {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Process>> Start(
      ProcessOptions options);
  ~Process();

  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return options_.log_path; }
  bool Running();
  // How it ended: its exit code, or 128 + signal; -1 while it runs.
  int exit_code() const { return exit_code_; }

  [[nodiscard]] absl::Status Signal(int signal);
  // Waits for the process to end; its exit code, or 128 + signal number.
  [[nodiscard]] absl::StatusOr<int> Wait(absl::Duration timeout);
  // SIGKILL and reap.
  void Kill();
  // The tail of the log, for failure messages.
  std::string LogTail(size_t max_bytes = 4000) const;

 private:
  explicit Process(ProcessOptions options) : options_(std::move(options)) {}

  ProcessOptions options_;
  pid_t pid_ = -1;
  bool reaped_ = false;
  int exit_code_ = -1;
};

// A TCP port on 127.0.0.1 that was free a moment ago, below the ephemeral
// range, and given to no other caller in this or another test process.
int PickFreePort();

// Checks `condition` every `interval` until it holds or `timeout` passes;
// returns whether it held. For waiting on other processes in system tests.
bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout,
             absl::Duration interval = absl::Milliseconds(50));

// A fresh folder under TEST_TMPDIR (or /tmp outside Bazel).
std::string MakeTempDir(const std::string& name);

}  // namespace evnet::test

#endif  // EVNET_TESTING_PROCESS_H_
