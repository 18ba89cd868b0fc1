// Ids for requests, sessions, updates and commands: a prefix and 16 random
// hex digits, unique enough for a network's lifetime and readable in logs.
#ifndef EVNET_COMMON_IDS_H_
#define EVNET_COMMON_IDS_H_

#include <string>

#include "absl/random/random.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace evnet {

inline std::string NewId(absl::string_view prefix) {
  thread_local absl::BitGen gen;
  return absl::StrFormat("%s-%016x", prefix, absl::Uniform<uint64_t>(gen));
}

}  // namespace evnet

#endif  // EVNET_COMMON_IDS_H_
