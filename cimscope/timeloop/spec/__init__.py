"""timeloopfe v0.4 source files (Jinja2 top files, variables and expressions, !Container/!Component trees with
constraints) read the way timeloopfe reads them, into the processed v0.4 document Timeloop reads.
See docs/timeloopfe.md.

``is_source_spec`` is light (no Jinja2); ``load_sources`` and ``process_spec`` import the renderer on first use,
so a caller that only tells sources from processed documents (``cimscope model``'s fast path) does not pay for it.
"""
from __future__ import annotations

import importlib
from typing import Any

from cimscope.timeloop.spec.detect import is_source_spec

__all__ = ["is_source_spec", "load_sources", "process_spec"]


def __getattr__(name: str) -> Any:
    if name in ("load_sources", "process_spec"):
        return getattr(importlib.import_module("cimscope.timeloop.spec.frontend"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
