"""cimscope.plugins: energy/area/latency models of CiM macros, CiM arrays, Associative Processors and GPU
parts, behind one interface (:mod:`cimscope.plugins.base`), with Accelergy v0.4 and hwcomponents adapters."""
from __future__ import annotations

import importlib

#: Model modules; each registers its Estimator classes on import.
MODEL_MODULES: tuple[str, ...] = ()

_loaded = False


def load_all() -> None:
    global _loaded
    if _loaded:
        return
    for name in MODEL_MODULES:
        importlib.import_module(f"cimscope.plugins.{name}")
    _loaded = True
