"""The builtin engine: Timeloop's analytical model for dense tensors, in Python.

``evaluate(problem, arch, mapping) -> ir.Result`` reproduces timeloop-model's counts, energy and cycles for
the same inputs (see ``analysis.py`` for the semantics and ``tests/test_model_reference.py`` for the
check against real timeloop-model runs). ``evaluate_many(problem, arch, mappings)`` scores many
candidate mappings at once with NumPy (used by the mapper).
"""
from __future__ import annotations

import math
from typing import Sequence

from cimscope import ir
from cimscope.errors import MappingError
from cimscope.model import fast
from cimscope.model.analysis import analyse
from cimscope.model.cost import build_result
from cimscope.model.nest import build_nest, min_utilization
from cimscope.model.tiling import collapse


def check_capacity(nest, stats) -> None:
    """Raise MappingError when the kept tiles of a level overflow its capacity, fill less of it than its
    ``min_utilization`` attribute asks (Timeloop, model/buffer.cpp: "mapped tile size ... is less than
    constrained minimum utilization"), or when the mapping uses more instances than a level has."""
    for s, lv in enumerate(nest.storage):
        tiles = stats.levels[s]
        if tiles.replication > lv.instances:
            raise MappingError(f"level {lv.name}: the mapping uses {tiles.replication} instances of {lv.name} but "
                               f"the architecture has {lv.instances}")
        if lv.depth is None:
            continue
        size_words = lv.depth * lv.block_size
        eff = int(math.floor(size_words / max(lv.multiple_buffering, 1e-12)))
        kept = {nest.ds_names[d]: tiles.size[d] for d in range(len(nest.ds_names)) if nest.keep[s][d]}
        need = sum(kept.values())
        if need > eff:
            parts = ", ".join(f"{k} {v}" for k, v in sorted(kept.items(), key=lambda kv: -kv[1]))
            worst = max(kept, key=kept.get)
            raise MappingError(f"level {lv.name}: data space {worst} overflows it: the kept tiles need {need} "
                               f"words ({parts}) but {lv.name} holds {eff} words per instance")
        mu = min_utilization(lv)
        if need < eff * mu:
            raise MappingError(f"level {lv.name}: the kept tiles use {need} words but its min_utilization {mu:g} "
                               f"asks for at least {eff * mu:g} of its {eff} words per instance")
    if stats.compute_instances > nest.arch.compute.instances:
        raise MappingError(f"compute level {nest.arch.compute.name}: the mapping uses {stats.compute_instances} "
                           f"instances but the architecture has {nest.arch.compute.instances}")


def evaluate(problem: ir.Problem, arch: ir.Arch, mapping: ir.Mapping, *, link_transfers: bool = True,
             check: bool = True) -> ir.Result:
    """Evaluate one mapping with Timeloop's semantics; raises MappingError for invalid mappings."""

    nest = build_nest(problem, arch, mapping)
    stats = analyse(nest, link_transfers=link_transfers)
    if check:
        check_capacity(nest, stats)
    counts = collapse(nest, stats)
    return build_result(nest, stats, counts)


def evaluate_many(problem: ir.Problem, arch: ir.Arch, mappings: Sequence[ir.Mapping], **kw):
    """Vectorised evaluation of many mappings; see :func:`cimscope.model.fast.evaluate_many`."""
    return fast.evaluate_many(problem, arch, mappings, **kw)


__all__ = ["evaluate", "evaluate_many", "check_capacity"]
