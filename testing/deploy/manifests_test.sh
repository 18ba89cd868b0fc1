#!/usr/bin/env bash
# Runs manifests_test.py with the Python that tools/ev setup prepared
# (PyYAML, kubernetes-validate).
set -euo pipefail
python="${EVNET_PYTHON:-}"
[[ -x "$python" ]] || { echo "EVNET_PYTHON is not set: run tools/ev setup" >&2; exit 1; }
exec "$python" "$(dirname "$0")/manifests_test.py"
