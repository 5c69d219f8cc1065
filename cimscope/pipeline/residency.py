"""Residency pass: steady-state inference with resident weights (``Study.resident_weights``).

In repeated inference the network's static weights (GEMM operators whose ``attrs["dynamic_weight"]`` is
false; attention QK^T / AV multiply two activations and still stream) are preloaded once into the on-chip
level that holds them and stay there, so the one-time load is amortised to zero per inference:

* CiM placements: the weights live in the CiM arrays. Their capacity is the placement's total CiM weight
  capacity (:attr:`cimscope.arch.placements.CimPlacement.weight_capacity_bytes`). Per inference there are
  no HBM/DRAM (or intermediate level) accesses of the weights and no weight writes into the arrays: neither
  their write energy nor the write latency ``W x t_w`` of :mod:`cimscope.pipeline.cim_latency`. The arrays'
  compute reads of their weights (0 pJ, part of the MAC) stay. Weight duplication into idle arrays is
  off (the arrays hold each weight of the network once; operators run one after another on the cells
  that hold their weights).
* Baseline (placement ``none``): the weights live in the largest on-chip level with one instance (a level
  every compute unit reaches: L2 on ``a100_like``, the SM's SMEM on ``a100_sm``). The mapper runs on the
  architecture with that level constrained to keep the weights (Timeloop ``keep`` constraint,
  :attr:`ir.Level.keep`), so the engine counts the weights' reads from that level and below; the
  levels above it and the level's own fills of the weights are the one-time preload and are removed.

If the network's static weight bytes exceed the level's capacity, :func:`check_capacity` raises InputError
naming the missing bytes.

How the removal is done (:func:`remove_weight_traffic`): a post-processing of the engine's typed per-level,
per-dataspace counts (:attr:`ir.Result.level_stats`: the builtin model fills them, and they are read from
real Timeloop stats alike). Timeloop cannot express "resident" directly: the outermost level must keep every
dataspace, so the weights cannot bypass DRAM, and a fill of a level cannot be suppressed by a constraint.
Per removed (level, dataspace, action), with the level's ERT and block size as the engine used them
(Timeloop model/buffer.cpp):

    energy removed = utilized instances x ceil(scalar accesses per instance / block size) x ERT energy

and the cycles are recomputed from the remaining transfers as the engine computes them
(:mod:`cimscope.model.cost`): per level, slowdown = min(1, read bandwidth / reads per cycle, write
bandwidth / (fills + updates) per cycle, shared bandwidth / all per cycle; demands per data space, summed in
Timeloop's double arithmetic), level cycles = ceil(compute cycles / slowdown) (``cost.level_cycles``), cycles =
max(compute cycles, level cycles). Leakage (ERT ``leak``,
pJ per instance per cycle) follows the new cycles.
"""
from __future__ import annotations

import copy
from dataclasses import replace
from typing import Optional

from cimscope import ir
from cimscope.errors import CimscopeError, InputError
from cimscope.model.cost import (FILL_ACTIONS, READ_ACTIONS, UPDATE_ACTIONS, action_energy, bandwidth_slowdown,
                                 level_cycles, vector_accesses)
from cimscope.pipeline.factors import tile_words
from cimscope.study import Study, op_bits, placed

ACTIONS = ("reads", "fills", "updates")


def weight_bytes(op: ir.Op) -> float:
    """Bytes of the operator's weight tensor (0 without one)."""
    w = op.tensor("weight")
    if w is None:
        return 0.0
    return tile_words(w, dict(op.dims), op.coefficients) * w.bits / 8


def weights_name(problem: ir.Problem) -> str:
    for t in problem.dataspaces:
        if t.role == "weight":
            return t.name
    raise CimscopeError(f"problem {problem.name!r} has no weight dataspace")


def is_resident(op: ir.Op, study: Study) -> bool:
    """The operator's weights reside on chip under ``study`` (static weights, resident mode)."""
    return study.resident_weights and not op.attrs.get("dynamic_weight") and op.tensor("weight") is not None


def static_weight_bytes(workload: ir.Workload) -> float:
    """Bytes of the network's static GEMM weights, each occurrence counted (``Op.count``); operators of the
    same module with the same weight shape share one copy (a module called twice reuses its weights)."""
    seen: set = set()
    total = 0.0
    for op in workload.gemm_ops():
        if op.attrs.get("dynamic_weight") or op.tensor("weight") is None:
            continue
        w = op.tensor("weight")
        key = (op.module, repr(w.projection), repr(sorted(op.dims.items()))) if op.module else None
        if key is not None:
            if key in seen:
                continue
            seen.add(key)
        total += weight_bytes(op) * (1 if key is not None else op.count)
    return total


def level_bytes(lv: ir.Level) -> Optional[int]:
    """Capacity of all instances of a storage level in bytes (depth x width bits x instances / 8)."""
    if lv.depth is None:
        return None
    return lv.instances * lv.depth * lv.width // 8


def baseline_level(arch: ir.Arch) -> ir.Level:
    """The largest on-chip (not outermost) single-instance storage level of ``arch``."""
    cands = [lv for lv in arch.levels[1:] if lv.instances == 1 and lv.depth is not None and not lv.is_dummy]
    if not cands:
        raise InputError(f"arch {arch.name}: no single-instance on-chip level can hold resident weights")
    return max(cands, key=lambda lv: level_bytes(lv) or 0)


def check_capacity(workload: ir.Workload, study: Study) -> dict:
    """Where the network's static weights reside under ``study``; InputError naming the missing bytes if
    they do not fit. Returns {level, weight_bytes, capacity_bytes}."""
    need = static_weight_bytes(workload)
    pa = placed(study, max((op_bits(o) for o in workload.gemm_ops()), default=8))
    if pa.cim is None:
        lv = baseline_level(pa.gemm)
        name, have = lv.name, float(level_bytes(lv))
        what = f"on-chip level {name}"
    else:
        name, have = pa.cim_level.name, float(pa.cim.weight_capacity_bytes)
        what = (f"CiM arrays at {study.placement} ({pa.cim.arrays} {pa.cim.primitive.name} arrays, level {name})")
    if need > have:
        raise InputError(f"resident weights: {workload.model} has {need:,.0f} B of static weights but the "
                         f"{what} of {study.arch} holds {have:,.0f} B: missing {need - have:,.0f} B")
    return {"level": name, "weight_bytes": need, "capacity_bytes": have}


def keep_weights_arch(arch: ir.Arch, level: str, weights: str) -> ir.Arch:
    """A copy of ``arch`` whose ``level`` is constrained to keep dataspace ``weights`` (Timeloop keep)."""
    a = copy.deepcopy(arch)
    lv = a.level(level)
    lv.keep = sorted(set(lv.keep or []) | {weights})
    if lv.bypass and weights in lv.bypass:
        lv.bypass = [d for d in lv.bypass if d != weights]
    return a


def removed_level(lv: ir.Level, stats: ir.LevelStats, weights: str, actions: tuple[str, ...]
                  ) -> tuple[ir.LevelStats, float, dict[str, float], list[float], list[float]]:
    """One buffer level without ``actions`` of dataspace ``weights``: (its new stats, energy removed, words
    removed per action that had any, remaining reads and writes per data space, in order, as the bandwidth
    check counts them: :func:`cimscope.model.cost.demand`)."""
    e = lv.action_energy_pJ or {}
    ert = {"reads": action_energy(e, READ_ACTIONS) or 0.0, "fills": action_energy(e, FILL_ACTIONS) or 0.0,
           "updates": action_energy(e, UPDATE_ACTIONS) or 0.0}
    removed, words = 0.0, {}
    rd: list[float] = []
    wr: list[float] = []
    new_ds = {}
    for ds, d in stats.dataspaces.items():
        cnt = {k: float(getattr(d, k)) for k in ACTIONS}
        if ds == weights:
            for act in actions:
                if cnt[act] > 0:
                    removed += d.instances * vector_accesses(cnt[act], lv.block_size) * ert[act]
                    words[act] = cnt[act] * d.instances
                    cnt[act] = 0.0
        new_ds[ds] = replace(d, **cnt)
        rd.append(cnt["reads"])
        wr.append(cnt["fills"] + cnt["updates"])
    return replace(stats, dataspaces=new_ds), removed, words, rd, wr


def remove_weight_traffic(result: ir.Result, arch: ir.Arch, weights: str,
                          remove: dict[str, tuple[str, ...]]) -> ir.Result:
    """``result`` without the accesses ``remove[level] = (actions ...)`` ("reads", "fills", "updates") of
    dataspace ``weights`` (see the module doc for the energy and cycle formulas)."""
    if not any(s.kind == "arithmetic" for s in result.level_stats.values()):
        raise InputError(f"{result.op_name or 'result'}: the engine result has no per-level statistics; "
                         f"cannot remove the resident weights' traffic")
    compute_cycles = result.compute_cycles
    accesses = {lv: {ds: ir.DataspaceAccesses(**vars(a)) for ds, a in per.items()}
                for lv, per in result.accesses.items()}
    per_level = dict(result.energy_pJ_per_level)
    level_stats = dict(result.level_stats)
    removed_pJ: dict[str, float] = {}
    removed_words: dict[str, float] = {}
    cycles_per_level = []
    for lv in arch.levels:
        st = level_stats.get(lv.name)
        if st is None or st.kind != "buffer":
            continue
        level_stats[lv.name], de, words, rd, wr = removed_level(lv, st, weights, remove.get(lv.name, ()))
        if words:
            removed_pJ[lv.name] = de
            per_level[lv.name] = per_level.get(lv.name, 0.0) - de
            for act, n in words.items():
                removed_words[f"{lv.name}.{act}"] = n
                if weights in accesses.get(lv.name, {}):
                    setattr(accesses[lv.name][weights], act, 0.0)
        cycles_per_level.append(level_cycles(compute_cycles, bandwidth_slowdown(lv, rd, wr, compute_cycles)))
    cycles = float(max([compute_cycles] + cycles_per_level))
    # leakage follows the cycles (pJ per instance per cycle)
    dc = cycles - float(result.cycles)
    leak_delta = 0.0
    for lv in list(arch.levels) + [arch.compute]:
        leak = float((lv.action_energy_pJ or {}).get("leak", 0.0)) * lv.instances * dc
        if leak and lv.name in per_level:
            per_level[lv.name] += leak
            leak_delta += leak
    energy = float(result.energy_pJ) - sum(removed_pJ.values()) + leak_delta
    extra = dict(result.extra)
    extra["resident"] = {"dataspace": weights, "removed_pJ": removed_pJ, "removed_words": removed_words,
                         "leak_delta_pJ": leak_delta, "engine_cycles_streaming": float(result.cycles),
                         "engine_cycles_resident": cycles}
    util = result.computes / (cycles * arch.compute.instances) if cycles > 0 else 0.0
    return ir.Result(energy_pJ=energy, cycles=cycles, computes=result.computes, utilization=util,
                     energy_pJ_per_level=per_level, accesses=accesses, engine=result.engine,
                     op_name=result.op_name, cycle_seconds=result.cycle_seconds, extra=extra,
                     level_stats=level_stats)


def cim_removal(arch: ir.Arch) -> dict[str, tuple[str, ...]]:
    """CiM hierarchy: every access of the weights above the arrays, and the fills of the CiM cells."""
    out = {lv.name: ACTIONS for lv in arch.levels[:-1]}
    out[arch.levels[-1].name] = ("fills",)
    return out


def baseline_removal(arch: ir.Arch, level: str) -> dict[str, tuple[str, ...]]:
    """Baseline: every access of the weights above the resident ``level``, and that level's fills."""
    out = {}
    for lv in arch.levels:
        if lv.name == level:
            out[lv.name] = ("fills",)
            break
        out[lv.name] = ACTIONS
    return out
