"""Per-operator dispatch (``Study.dispatch == "best"``): each GEMM runs in CiM or on the tensor cores,
whichever wins the objective; then the network result of the mix.

* The two candidates of a GEMM are the records every placement already computes: the CiM record of the
  study (weights' writes into the arrays included, :mod:`cimscope.pipeline.cim_latency`) and the baseline's
  record (placement ``none``: the tensor cores) of the same operator on the same arch preset.
* Objective: EDP (energy x latency), the objective of the one reducer (:mod:`cimscope.pipeline.reduce`);
  ties go to the tensor cores (no CiM needed). A GEMM that CiM cannot run (``--no-weight-reload`` and its
  weights exceed the CiM capacity) goes to the tensor cores.
* NonGEMM operators run on the SIMT lanes of the chip with CiM (the study's rows).
* Network: if a pure placement (every GEMM in CiM, or the baseline chip without CiM) has a lower network EDP
  than the per-operator mix (EDP of sums is not the sum of EDPs), that pure placement is the result, and
  ``meta["dispatch"]["chosen"]`` says so. The result is never worse than either pure placement.
* The reason reported per operator: its reuse (MACs per weight byte) against the reuse from which CiM pays
  in this network (:func:`reuse_threshold`, the rule the gains table of ``compare`` uses).
"""
from __future__ import annotations

import math
from dataclasses import replace
from typing import Iterable, Optional

from cimscope import ir

DISPATCHES = ("all", "best")
CIM, TENSOR_CORE = "cim", "tensor_core"


def reuse_threshold(points: Iterable[tuple[float, bool]]) -> tuple[Optional[float], int, int]:
    """(r, wrong, n) for (reuse, CiM gains) points: the reuse r that best separates them by the rule "CiM
    gains iff reuse >= r" (fewest points on the wrong side, ties to the lowest r; None: the rule "never"),
    the points the rule gets wrong, and the number of points."""
    pts = list(points)
    best: Optional[tuple[int, float]] = None
    for thr in sorted({r for r, _ in pts}) + [math.inf]:
        wrong = sum(1 for r, g in pts if (r >= thr) != g)
        if best is None or wrong < best[0]:
            best = (wrong, thr)
    if best is None:
        return None, 0, 0
    return (None if best[1] == math.inf else best[1]), best[0], len(pts)


def edp_of(row: ir.OpEvaluation) -> float:
    return row.energy_pJ * row.latency_s


def network_edp(rows: Iterable[ir.OpEvaluation]) -> float:
    e = lat = 0.0
    for r in rows:
        e += r.energy_pJ * r.count
        lat += r.latency_s * r.count
    return e * 1e-12 * lat


def reason(row: ir.OpEvaluation, cim: Optional[ir.OpEvaluation], base: ir.OpEvaluation,
           thr: Optional[float], error: str = "") -> str:
    """Why ``row`` runs where it does (one line)."""
    if cim is None:
        return f"dispatch: tensor cores (CiM cannot run it: {error})"
    x = edp_of(cim) / edp_of(base) if edp_of(base) > 0 else math.inf
    where = "CiM" if row.unit == CIM else "tensor cores"
    r = row.reuse_macs_per_weight_byte
    if thr is None:
        rule, agrees = "CiM pays for no GEMM of this network", row.unit != CIM
    else:
        rule = f"reuse {r:.4g} MACs/B {'>=' if r >= thr else '<'} {thr:.4g} MACs/B (CiM pays from)"
        agrees = (r >= thr) == (row.unit == CIM)
    return (f"dispatch: {where}; {rule}; CiM EDP {x:.4g}x tensor cores"
            + ("" if agrees else " (exception to the reuse rule)"))


def annotate(row: ir.OpEvaluation, text: str, choice: str, **more) -> ir.OpEvaluation:
    note = (row.note + "; " if row.note else "") + text
    return replace(row, note=note, extra={**row.extra, "dispatch": choice, **more})


def mix(cim_rows: list[Optional[ir.OpEvaluation]], base_rows: list[ir.OpEvaluation],
        errors: Optional[list[str]] = None) -> tuple[list[ir.OpEvaluation], dict]:
    """Per operator (parallel lists over a workload's operators; a GEMM's CiM row is None when CiM cannot
    run it, ``errors`` saying why): the GEMM on the unit of lower EDP, NonGEMM rows from ``cim_rows``.
    Returns the rows (note and ``extra["dispatch"]`` give the reason) and a summary."""
    errors = errors or [""] * len(base_rows)
    gemm = [(c, b) for c, b in zip(cim_rows, base_rows) if b.op_class == ir.GEMM and c is not None]
    thr, wrong, n = reuse_threshold((b.reuse_macs_per_weight_byte, edp_of(c) < edp_of(b)) for c, b in gemm)
    rows = []
    for c, b, err in zip(cim_rows, base_rows, errors):
        if b.op_class != ir.GEMM:
            rows.append(c)
            continue
        row = c if (c is not None and edp_of(c) < edp_of(b)) else b
        x = edp_of(c) / edp_of(b) if (c is not None and edp_of(b) > 0) else None
        rows.append(annotate(row, reason(row, c, b, thr, err), CIM if row is c else TENSOR_CORE,
                             dispatch_cim_edp_x=x))
    to_cim = [r.name for r in rows if r.op_class == ir.GEMM and r.unit == CIM]
    summary = {"rule": "per-operator EDP", "gemm_ops": sum(1 for b in base_rows if b.op_class == ir.GEMM),
               "cim_ops": len(to_cim), "cim_op_names": to_cim, "pays_from_reuse_macs_per_weight_byte": thr,
               "rule_agreement": 1.0 - wrong / n if n else 1.0}
    return rows, summary


def pick_network(mixed: ir.NetworkResult, all_cim: Optional[ir.NetworkResult], baseline: ir.NetworkResult,
                 summary: dict) -> ir.NetworkResult:
    """The network of lowest EDP among the mix and the two pure placements (the mix on ties);
    ``meta["dispatch"]`` records the summary and which one was chosen."""
    options = [("per-operator mix", mixed), ("all GEMMs in CiM", all_cim), ("baseline (no CiM)", baseline)]
    chosen, nr = min(((k, v) for k, v in options if v is not None), key=lambda kv: kv[1].edp_Js)
    if nr is not mixed:
        text = f"dispatch: {chosen} has a lower network EDP than the per-operator mix"
        ops = [annotate(o, text, o.unit) if o.op_class == ir.GEMM else o for o in nr.ops]
        nr = replace(nr, ops=ops, placement=mixed.placement, primitive=mixed.primitive, options=mixed.options,
                     cim=mixed.cim, meta=dict(nr.meta))
        summary = {**summary, "cim_ops": sum(1 for o in ops if o.op_class == ir.GEMM and o.unit == CIM),
                   "cim_op_names": [o.name for o in ops if o.op_class == ir.GEMM and o.unit == CIM]}
    nr.meta["dispatch"] = {**summary, "chosen": chosen, "mix_edp_Js": mixed.edp_Js,
                           "all_cim_edp_Js": all_cim.edp_Js if all_cim is not None else None,
                           "baseline_edp_Js": baseline.edp_Js}
    return nr


__all__ = ["DISPATCHES", "reuse_threshold", "mix", "pick_network", "network_edp", "CIM", "TENSOR_CORE"]
