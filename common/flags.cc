#include "common/flags.h"

#include "absl/synchronization/mutex.h"

#include <signal.h>
#include <stdlib.h>

#include <cstdio>

#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/synchronization/mutex.h"
#include "glog/logging.h"

namespace evnet {
namespace {

sigset_t ShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

std::vector<char*> InitProgram(int argc, char** argv, const char* usage,
                               const std::vector<EnvFallback>& fallbacks) {
  absl::SetProgramUsageMessage(usage);
  // Debian's Abseil checks every lock order for cycles (a debugging aid the
  // unit tests keep): with a mutex per stream it took a third of the CPU of
  // a process holding 10,000 links.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // A peer that closes its connection while we write to it (a browser tab
  // closed during the dashboard's event stream) is an error on that write,
  // not a reason for the whole program to die of SIGPIPE. cpp-httplib writes
  // without MSG_NOSIGNAL; say so here rather than count on a library to.
  signal(SIGPIPE, SIG_IGN);
  for (const EnvFallback& fallback : fallbacks) {
    const char* value = getenv(fallback.env);
    if (value == nullptr || *value == '\0') continue;
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(fallback.flag);
    if (flag == nullptr) {
      fprintf(stderr, "internal error: no flag --%s for %s\n", fallback.flag, fallback.env);
      exit(2);
    }
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      fprintf(stderr, "%s=%s is not a valid value for --%s: %s\n", fallback.env, value,
              fallback.flag, error.c_str());
      exit(2);
    }
  }
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);

  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);

  sigset_t set = ShutdownSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return positional;
}

int WaitForShutdownSignal() {
  sigset_t set = ShutdownSignals();
  int signal = 0;
  sigwait(&set, &signal);
  return signal;
}

}  // namespace evnet
