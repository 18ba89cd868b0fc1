#!/usr/bin/env bash
# Runs monitoring_test.py with the Python that tools/ev setup prepared
# (PyYAML); promtool is Debian's prometheus package.
set -euo pipefail
python="${EVNET_PYTHON:-}"
[[ -x "$python" ]] || { echo "EVNET_PYTHON is not set: run tools/ev setup" >&2; exit 1; }
exec "$python" "$(dirname "$0")/monitoring_test.py"
