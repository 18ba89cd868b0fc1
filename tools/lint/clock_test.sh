#!/usr/bin/env bash
# Every component reads time through common/clock.h (a Clock it is given, or
# SystemClock::Get()), so that tests can drive it with a FakeClock: no
# absl::Now() in the programs' sources outside common/clock, tests aside.
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
