// Fault injection for the fault tests: with EVNET_CRASH_AT="name:n" in its
// environment, a program dies (as SIGKILL would leave it: no flush, no
// cleanup) the n-th time it passes CrashPoint("name"). The tests use it to
// kill at the instants a random kill rarely hits: between a CP's answer and
// central's acceptance, inside a decision's transaction. Unset, a point
// costs one relaxed load.
#ifndef EVNET_COMMON_CRASH_POINT_H_
#define EVNET_COMMON_CRASH_POINT_H_

namespace evnet {

void CrashPoint(const char* name);

}  // namespace evnet

#endif  // EVNET_COMMON_CRASH_POINT_H_
