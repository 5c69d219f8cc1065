"""cimscope.plugins: energy/area/latency models of CiM macros, CiM arrays, Associative Processors and GPU
parts, behind one interface (:mod:`cimscope.plugins.base`), with Accelergy v0.4 and hwcomponents adapters."""
from __future__ import annotations

import importlib

#: Model modules; each registers its Estimator classes on import.
#: cim_macro: the four WWW CiM macros; cim_array: parametric analog/digital CiM arrays; sram, dram,
#: gpu_compute: GPU baseline parts; ap: Associative Processors (BF-IMNA).
MODEL_MODULES: tuple[str, ...] = ("cim_macro", "cim_array", "sram", "dram", "gpu_compute", "ap")

_loaded = False


def load_all() -> None:
    global _loaded
    if _loaded:
        return
    for name in MODEL_MODULES:
        importlib.import_module(f"cimscope.plugins.{name}")
    _loaded = True
