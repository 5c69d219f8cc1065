"""Evaluate pass: score a batch of CiM candidates and keep the best.

With the builtin engine the candidates are scored by the vectorised model
(:func:`cimscope.model.fast.evaluate_many`: every mapping of one problem in one NumPy pass) with the CiM
latency formula on its arrays (:func:`cimscope.pipeline.cim_latency.cim_cycles`); the reducer keeps the
lowest EDP and the winner's result is read from the same arrays (:func:`fast_result`: energy, cycles,
energy per level, accesses). The vectorised model does not model link transfers between spatial
neighbours; the WWW CiM mappings have none (every array holds different weights, inputs are broadcast), and
``tests/test_cim_fast_scoring.py`` checks it against the exact model (the reference) on CiM architectures.

The exact model (the engine's ``evaluate``) scores every candidate instead when the engine is not the
builtin one (the real timeloop-model is the reference there) or when a pass must see each full result with
its typed per-level statistics before the comparison (resident weights remove traffic from each one), and
when ``$CIMSCOPE_CIM_SCORING=exact`` (the reference run of ``benchmarks/bench_compare.py``; same figures).
"""
from __future__ import annotations

import os
from typing import Callable, Optional

import numpy as np

from cimscope import ir
from cimscope.errors import UnknownNameError
from cimscope.model.fast import evaluate_many, make_static
from cimscope.pipeline.candidates import CimCandidate
from cimscope.pipeline.cim_latency import cim_cycles, postprocess
from cimscope.pipeline.reduce import best_index, edp


def fast_scores(cands: list[CimCandidate], arch: ir.Arch) -> tuple[np.ndarray, dict[int, tuple]]:
    """EDP (pJ x cycles, after the CiM latency) of every candidate by the vectorised model (inf where a
    mapping is invalid), and per candidate (its problem's static data, its model outputs, its row)."""
    out = np.full(len(cands), np.inf)
    rows: dict[int, tuple] = {}
    cim = arch.levels[-1]
    groups: dict[str, list[int]] = {}
    for i, c in enumerate(cands):
        groups.setdefault(repr(sorted(c.problem.dims.items())), []).append(i)
    for idx in groups.values():
        problem = cands[idx[0]].problem
        st = make_static(problem, arch)
        r = evaluate_many(problem, arch, [cands[i].mapping for i in idx], static=st)
        fills = r["fills"][:, 0, :].sum(axis=1)         # the CiM level is the innermost storage level
        for k, i in enumerate(idx):
            rows[i] = (st, r, k)
            if r["valid"][k]:
                cycles, _, _ = cim_cycles(float(r["cycles"][k]), float(fills[k]), cands[i].info, cim)
                out[i] = float(r["energy_pJ"][k]) * float(cycles)
    return out, rows


def fast_result(problem: ir.Problem, arch: ir.Arch, st, r: dict, k: int) -> ir.Result:
    """Row ``k`` of the vectorised model's outputs ``r`` as an engine result (before the CiM latency):
    energy, cycles, computes, energy per level (compute level first, then storage innermost first, as the
    exact model orders them) and accesses (totals over instances). Per-level statistics are the exact
    model's (:attr:`ir.Result.level_stats` stays empty here)."""
    e_lvl = r["energy_pJ_per_level"][k]
    per_level = {arch.compute.name: float(e_lvl[0])}
    accesses: dict[str, dict[str, ir.DataspaceAccesses]] = {}
    for s, lv in enumerate(st.levels):
        per_level[lv.name] = float(e_lvl[1 + s])
        accesses[lv.name] = {
            ds: ir.DataspaceAccesses(float(r["reads"][k, s, d]), float(r["fills"][k, s, d]),
                                     float(r["updates"][k, s, d]), float(r["tile_words"][k, s, d]))
            for d, ds in enumerate(st.ds_names)
            if r["reads"][k, s, d] or r["fills"][k, s, d] or r["updates"][k, s, d]}
    return ir.Result(energy_pJ=float(r["energy_pJ"][k]), cycles=float(r["cycles"][k]),
                     computes=float(r["computes"][k]), utilization=float(r["utilization"][k]),
                     energy_pJ_per_level=per_level, accesses=accesses, engine="builtin", op_name=problem.name,
                     cycle_seconds=arch.cycle_seconds, extra={"model": "vectorised (cimscope.model.fast)"})


def exact(c: CimCandidate, arch: ir.Arch, engine, post: Optional[Callable[[ir.Result], ir.Result]] = None
          ) -> ir.Result:
    """One candidate in full: the engine's result, ``post`` (e.g. residency), then the CiM latency."""
    raw = engine.evaluate(c.problem, arch, c.mapping)
    if post is not None:
        raw = post(raw)
    return postprocess(raw, arch, c.info)


#: Environment variable choosing how the builtin engine scores CiM candidates, and its values.
SCORING_ENV = "CIMSCOPE_CIM_SCORING"
SCORINGS = ("vectorised", "exact")


def scoring() -> str:
    """The scoring mode (:data:`SCORING_ENV`; default vectorised)."""
    mode = os.environ.get(SCORING_ENV, "vectorised")
    if mode not in SCORINGS:
        raise UnknownNameError(f"${SCORING_ENV} value", mode, SCORINGS)
    return mode


def choose(cands: list[CimCandidate], arch: ir.Arch, engine,
           post: Optional[Callable[[ir.Result], ir.Result]] = None) -> tuple[CimCandidate, ir.Result]:
    """The lowest-EDP candidate and its full result (see the module doc for which model scores)."""
    if engine.name == "builtin" and post is None and scoring() == "vectorised":
        scores, rows = fast_scores(cands, arch)
        i = best_index(scores)
        if i is not None:
            c = cands[i]
            return c, postprocess(fast_result(c.problem, arch, *rows[i]), arch, c.info)
    results = [exact(c, arch, engine, post) for c in cands]
    i = best_index(edp(r) for r in results)
    i = 0 if i is None else i
    return cands[i], results[i]
