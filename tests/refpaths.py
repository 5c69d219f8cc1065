"""Where the published reference figures and real timeloop-model runs live for the tests.

The project's checkout has ``shared/`` beside it (``<repo>/../shared/reference``); ``$CIMSCOPE_REFERENCE``
overrides. Tests that need these files fail (never skip) when they are missing: the reference runs are the
acceptance test of the Timeloop-compatible engine.
"""
from __future__ import annotations

import os
from pathlib import Path

_CANDIDATES = [
    os.environ.get("CIMSCOPE_REFERENCE", ""),
    str(Path(__file__).resolve().parents[1].parent / "shared" / "reference"),
    "/work/shared/reference",
]


def _find() -> Path:
    for c in _CANDIDATES:
        if c and (Path(c) / "timeloop_cases").is_dir():
            return Path(c)
    raise RuntimeError("reference figures not found; looked in " + ", ".join(c for c in _CANDIDATES if c)
                       + " (set CIMSCOPE_REFERENCE to the folder holding timeloop_cases/)")


REFERENCE = _find()
