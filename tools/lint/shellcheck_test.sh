#!/usr/bin/env bash
# Every shell script of the project passes Debian's shellcheck (installed by
# tools/ev setup), warnings included.
set -euo pipefail
command -v shellcheck >/dev/null 2>&1 ||
  { echo "shellcheck is not installed: run tools/ev setup" >&2; exit 1; }
[[ $# -gt 0 ]] || { echo "no scripts given" >&2; exit 1; }
shellcheck --severity=warning --external-sources "$@"
echo "shellcheck: $# scripts clean"
