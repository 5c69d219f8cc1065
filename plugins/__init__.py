"""cimscope.plugins: energy/area/latency models of CiM macros, CiM arrays, Associative Processors and GPU
parts, behind one interface (:mod:`cimscope.plugins.base`), with Accelergy v0.4 and hwcomponents adapters.

Plug-in model modules are discovered, not listed: every module of this package whose source defines a class
decorated with ``@register`` (:func:`cimscope.plugins.base.register`, at the start of a line) is imported by
:func:`load_all`, so a new model (e.g. a parametric CiM array ``<name>_cim_array``) is one file dropped in
this folder. Today: cim_macro (the four WWW CiM macros), cim_array (parametric analog/digital CiM arrays),
sram, dram, gpu_compute (GPU baseline parts), ap (Associative Processors, BF-IMNA).
"""
from __future__ import annotations

import importlib
import re
from pathlib import Path

#: What makes a module a plug-in model module: a top-level class decorated with ``@register``.
REGISTERS_A_MODEL = re.compile(rb"^@(?:base\.)?register\b", re.MULTILINE)

_loaded = False


def model_modules() -> tuple[str, ...]:
    """Names of the plug-in model modules in this package's folder(s) (sorted): those whose source registers
    a model class (:data:`REGISTERS_A_MODEL`). Read as bytes and matched; nothing is imported here."""
    found = set()
    for folder in __path__:
        for f in Path(folder).glob("*.py"):
            if f.stem != "__init__" and REGISTERS_A_MODEL.search(f.read_bytes()):
                found.add(f.stem)
    return tuple(sorted(found))


def load_all(rescan: bool = False) -> None:
    """Import every plug-in model module once (each registers its Estimator classes on import);
    ``rescan``: look for modules added since the first call."""
    global _loaded
    if _loaded and not rescan:
        return
    for name in model_modules():
        importlib.import_module(f"{__name__}.{name}")
    _loaded = True
