#!/usr/bin/env bash
# Run the real timeloop-model on every problem of a cimscope folder (see run_timeloop_model.py --help).
#   scripts/run_timeloop_model.sh DIR [--arch ARCH.yaml] [--ert ERT.yaml] [--art ART.yaml]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
py="${CIMSCOPE_PYTHON:-}"
if [[ -z "$py" ]]; then
  if [[ -x "$here/../.venv/bin/python" ]]; then py="$here/../.venv/bin/python"; else py="python3"; fi
fi
if [[ $# -lt 1 ]]; then
  echo "usage: $0 DIR [--arch ARCH.yaml] [--ert ERT.yaml] [--art ART.yaml] [--objective edp|energy|delay]" >&2
  exit 2
fi
exec "$py" "$here/run_timeloop_model.py" "$@"
