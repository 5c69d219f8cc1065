#!/usr/bin/env bash
# Run the real timeloop-model on every problem of a cimscope folder (see run_timeloop_model.py --help).
#   scripts/run_timeloop_model.sh DIR [--arch ARCH.yaml | --preset NAME] [--ert ERT.yaml] [--art ART.yaml]
# Without --arch and DIR/arch.yaml, the a100_sm preset is written as DIR/arch.yaml. A failing problem is
# reported and skipped; the exit status is 1 when any failed (2: bad input, 3: timeloop-model not found).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
py="${CIMSCOPE_PYTHON:-}"
if [[ -z "$py" ]]; then
  if [[ -x "$here/../.venv/bin/python" ]]; then py="$here/../.venv/bin/python"; else py="python3"; fi
fi
if [[ $# -lt 1 ]]; then
  echo "usage: $0 DIR [--arch ARCH.yaml | --preset NAME] [--ert ERT.yaml] [--art ART.yaml] [--objective edp|energy|delay] [--max-evaluations N]" >&2
  exit 2
fi
exec "$py" "$here/run_timeloop_model.py" "$@"
