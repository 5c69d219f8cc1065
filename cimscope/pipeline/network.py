"""Network assembly: every operator of a workload under one Study, then the totals.

GEMM records go through a result cache keyed on (Study, operator shape) (:func:`cimscope.study.result_key`;
:class:`cimscope.sweep.ResultCache` on disk, or this call's memory); NonGEMM operators are costed directly
(microseconds). Operators run one after another: the network latency is the sum of the operators'
latencies, each occurrence counted (``Op.count``).
"""
from __future__ import annotations


from dataclasses import replace
from typing import Optional

from tqdm import tqdm

from cimscope import ir
from cimscope.errors import CimscopeError
from cimscope.gpu.roofline import roofline_s
from cimscope.pipeline import residency
from cimscope.pipeline.dispatch import mix, pick_network
from cimscope.pipeline.gemm import evaluate_gemm
from cimscope.pipeline.nongemm import evaluate_nongemm
from cimscope.study import Study, op_bits, placed, result_key


class MemoryCache(dict):
    """Per-operator GEMM records of one call (the interface of :class:`cimscope.sweep.ResultCache`)."""

    def put(self, key: str, value: dict) -> None:
        self[key] = value


def op_note(op: ir.Op, r: dict) -> str:
    """The row's note: the record's, plus dynamic weights and weight tiling."""
    note = r.get("note", "")
    if op.is_gemm and op.attrs.get("dynamic_weight"):
        note = (note + "; " if note else "") + "weight operand is an activation (written per inference)"
    cim = (r.get("extra") or {}).get("cim")
    if cim and cim["mapping"]["weight_tiles"] > 1:
        m = cim["mapping"]
        wbits = op.tensor("weight").bits if op.tensor("weight") else 8
        need, have = m["weight_words"] * wbits / 8, m["weight_capacity_words"] * wbits / 8
        missing = f"missing {need - have:,.0f} B" if need > have else "not in whole array tiles"
        what = "padded weights" if (r.get("extra") or {}).get("padding") else "weights"
        note = (note + "; " if note else "") + (f"{what} {need:,.0f} B > CiM weight capacity {have:,.0f} B "
                                                f"({missing}): rewritten in {m['weight_tiles']} tiles")
    return note


def op_evaluation(op: ir.Op, r: dict, arch_name: str) -> ir.OpEvaluation:
    """Wrap a per-operator record into an :class:`ir.OpEvaluation` row."""
    wb = residency.weight_bytes(op) if op.is_gemm else 0.0
    cycles = float(r["cycles"])
    return ir.OpEvaluation(
        name=op.name, target=op.target, module=op.module, op_class=op.op_class, kind=op.kind, count=op.count,
        unit=r["extra"].get("unit", ""), energy_pJ=float(r["energy_pJ"]), cycles=cycles,
        latency_s=cycles * float(r["cycle_seconds"]), macs=int(op.macs), elem_ops=int(op.elem_ops),
        weight_bytes=wb, reuse_macs_per_weight_byte=(op.macs / wb) if wb else 0.0,
        energy_pJ_per_level=dict(r["energy_pJ_per_level"]), bound=r.get("bound", ""),
        roofline_s=roofline_s(op) if (op.is_gemm and arch_name == "a100_like") else 0.0,
        note=op_note(op, r), extra=dict(r.get("extra") or {}))


def evaluate_op(op: ir.Op, study: Study, cache=None) -> ir.OpEvaluation:
    """One operator row (GEMM records go through ``cache`` when given)."""
    if not op.is_gemm:
        return op_evaluation(op, evaluate_nongemm(op, study), study.arch)
    key = result_key(op, study) if cache is not None else None
    r = cache.get(key) if cache is not None else None
    if r is None:
        try:
            r = evaluate_gemm(op, study)
        except CimscopeError as exc:
            raise type(exc)(f"operator {op.name} ({op.module or op.target}): {exc}") from None
        if cache is not None:
            cache.put(key, r)
    return op_evaluation(op, r, study.arch)


def assemble(workload: ir.Workload, study: Study, rows: list[ir.OpEvaluation]) -> ir.NetworkResult:
    """Network totals from per-operator rows (each row's figures x its count)."""
    per_level: dict[str, float] = {}
    e = lat = cyc = ge = gl = ne = nl = 0.0
    for r in rows:
        k = r.count
        e += r.energy_pJ * k
        lat += r.latency_s * k
        cyc += r.cycles * k
        if r.op_class == ir.GEMM:
            ge += r.energy_pJ * k
            gl += r.latency_s * k
        else:
            ne += r.energy_pJ * k
            nl += r.latency_s * k
        for lv, v in r.energy_pJ_per_level.items():
            per_level[lv] = per_level.get(lv, 0.0) + v * k
    pa = placed(study, max((op_bits(o) for o in workload.gemm_ops()), default=8))
    meta = {"batch": workload.batch, **{k: v for k, v in workload.meta.items() if isinstance(v, (int, float, str))}}
    if study.resident_weights:
        res = residency.check_capacity(workload, study)
        meta.update(resident_level=res["level"], resident_weight_bytes=res["weight_bytes"],
                    resident_capacity_bytes=res["capacity_bytes"])
    return ir.NetworkResult(
        model=workload.model, arch=study.arch, placement=study.placement, primitive=study.primitive,
        engine=study.engine, ops=rows, energy_pJ=e, latency_s=lat, cycles=cyc, energy_pJ_per_level=per_level,
        gemm_energy_pJ=ge, gemm_latency_s=gl, nongemm_energy_pJ=ne, nongemm_latency_s=nl,
        cycle_seconds=pa.base.cycle_seconds, options=study.options(),
        cim=None if pa.cim is None else pa.cim.to_dict(), meta=meta)


def baseline_of(study: Study) -> Study:
    """The study's baseline: the same arch preset and engine with no CiM (the tensor cores' records)."""
    return replace(study, placement="none", primitive=None, dispatch="all")


def dispatched(workload: ir.Workload, study: Study, cim_rows: list[Optional[ir.OpEvaluation]],
               errors: list[str], base_rows: list[ir.OpEvaluation]) -> ir.NetworkResult:
    """The network of ``study.dispatch == "best"`` (:mod:`cimscope.pipeline.dispatch`) from the study's rows
    (None: a GEMM CiM cannot run, ``errors`` saying why) and its baseline's rows."""
    baseline = assemble(workload, baseline_of(study), base_rows)
    all_cim = None if any(r is None for r in cim_rows) else assemble(workload, study, cim_rows)
    rows, summary = mix(cim_rows, base_rows, errors)
    return pick_network(assemble(workload, study, rows), all_cim, baseline, summary)


def evaluate_best(workload: ir.Workload, study: Study, cache, bar=None) -> ir.NetworkResult:
    """Every operator under ``study`` and under its baseline, then the per-operator dispatch."""
    base = baseline_of(study)
    cim_rows: list[Optional[ir.OpEvaluation]] = []
    errors, base_rows = [], []
    for op in workload.ops:
        try:
            cim_rows.append(evaluate_op(op, study, cache))
            errors.append("")
        except CimscopeError as exc:
            if not op.is_gemm:
                raise
            cim_rows.append(None)
            errors.append(str(exc))
        base_rows.append(evaluate_op(op, base, cache))
        if bar is not None:
            bar.update(1)
    return dispatched(workload, study, cim_rows, errors, base_rows)


def evaluate(workload: ir.Workload, study: Study, *, cache=None, progress: bool = False) -> ir.NetworkResult:
    """Every operator of ``workload`` under ``study`` (the one API call of ``cimscope evaluate``).

    ``cache``: a :class:`cimscope.sweep.ResultCache` (or any object with ``get``/``put``) for the GEMM
    records; without one, equal GEMM shapes (12 identical encoder layers ...) are computed once per call.
    Resident weights: InputError naming the missing bytes, before any work, when they do not fit."""
    if study.resident_weights:
        residency.check_capacity(workload, study)
    cache = MemoryCache() if cache is None else cache
    bar = None
    if progress:
        bar = tqdm(total=len(workload.ops), desc=f"{workload.model} {study.label()}", unit="op", leave=False)
    if study.dispatch == "best":
        nr = evaluate_best(workload, study, cache, bar)
        if bar is not None:
            bar.close()
        return nr
    rows = []
    for op in workload.ops:
        rows.append(evaluate_op(op, study, cache))
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return assemble(workload, study, rows)


__all__ = ["evaluate", "evaluate_op", "op_evaluation", "assemble", "MemoryCache", "baseline_of", "dispatched"]
