// Start-up of every evnet program: flags with environment fallbacks (so one
// binary serves a terminal, a container and a Kubernetes pod), glog to
// stderr, and a clean wait for SIGINT / SIGTERM.
#ifndef EVNET_COMMON_FLAGS_H_
#define EVNET_COMMON_FLAGS_H_

#include <string>
#include <utility>
#include <vector>

namespace evnet {

struct EnvFallback {
  const char* flag;  // "cp_id"
  const char* env;   // "CP_ID"
};

// Sets each flag from its environment variable when that is set, then parses
// the command line, which wins. Sets up glog to write to stderr. A bad value
// in either place ends the program with a message naming it. Returns the
// positional arguments. Blocks SIGINT and SIGTERM in every thread started
// afterwards, so that WaitForShutdownSignal() receives them.
std::vector<char*> InitProgram(int argc, char** argv, const char* usage,
                               const std::vector<EnvFallback>& fallbacks);

// Blocks until SIGINT or SIGTERM arrives; returns its number.
int WaitForShutdownSignal();

}  // namespace evnet

#endif  // EVNET_COMMON_FLAGS_H_
