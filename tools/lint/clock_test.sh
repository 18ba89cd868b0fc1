#!/usr/bin/env bash
# The programs read the time through common/clock.h (a Clock they are given,
# or SystemClock::Get()), so that tests can drive them with a FakeClock: no
# absl::Now() in their sources outside common/clock, tests aside. (gRPC's
# deadlines are std::chrono::system_clock time points by its API; those are
# not looked for.)
set -euo pipefail

[[ $# -gt 0 ]] || { echo "no sources given" >&2; exit 2; }
found=0
for file in "$@"; do
  case "$file" in
    */common/clock.* | common/clock.* | *_test.cc) continue ;;
  esac
  if grep -n 'absl::Now()' "$file"; then
    echo "$file reads absl::Now(): take a Clock (common/clock.h) instead" >&2
    found=1
  fi
done
exit "$found"
