"""One GEMM operator under one Study: candidates -> map -> evaluate -> CiM latency -> residency -> reduce.

* Baseline (placement ``none``, GEMMs on the tensor cores, in the A100 format of the operands' widths:
  :func:`tensor_core_arch`): the engine's mapper (objective EDP) maps the
  problem and each padded candidate of it; the lowest EDP wins, the unpadded problem on ties. With resident
  weights the weights are kept in the baseline's largest single-instance on-chip level (Timeloop keep
  constraint) and the preload is removed from each candidate before they are compared.
* CiM: the WWW mapping variants of the problem and its padded versions, scored by
  :func:`cimscope.pipeline.score.choose` (resident weights: no weight traffic above the arrays and no array
  writes, so ``W x t_w = 0`` in the CiM latency; no duplication into idle arrays).

Awkward dimensions are padded when that maps better (:mod:`cimscope.padding`): the padded problem's MACs and
tensor elements are computed and moved like real ones, ``computes`` counts them, ``utilization`` counts only
the real MACs, ``extra["padding"]`` and the note say what was padded. The result is the JSON-able record the
result cache stores (:func:`evaluate_gemm`).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, Optional

from cimscope import ir
from cimscope.engine import get_engine
from cimscope.errors import MappingError
from cimscope.gpu.roofline import operand_bits
from cimscope.padding import padding_info, padding_note
from cimscope.pipeline import residency
from cimscope.pipeline.candidates import padded_cim_mappings, padded_problems_tried, problems
from cimscope.pipeline.cim_map import CimOptions
from cimscope.pipeline.reduce import best_index, edp
from cimscope.pipeline.score import choose
from cimscope.plugins.gpu_compute import tensor_core_format
from cimscope.study import Study, cim_bits, op_bits, placed

Post = Optional[Callable[[ir.Result], ir.Result]]


def map_baseline(problem: ir.Problem, arch: ir.Arch, study: Study) -> tuple[ir.Mapping, ir.Result]:
    """The engine's mapper on the baseline (objective EDP; the builtin mapper caches by shape). On the timeloop
    engine, the better of timeloop-mapper's and the builtin mapper's mappings as the real timeloop-model scores
    them (:meth:`cimscope.engine.TimeloopEngine.map_best_known`)."""
    kwargs: dict[str, Any] = {"objective": "edp"}
    if study.mapper_budget_s is not None:
        kwargs["budget_s"] = study.mapper_budget_s
    if study.mapper_max_evaluations is not None:
        kwargs["max_evaluations"] = study.mapper_max_evaluations
    if study.engine == "builtin":
        return get_engine("builtin", progress=False).map(problem, arch, **kwargs)
    # the timeloop engine: timeloop-mapper's mapping or the builtin mapper's, whichever timeloop-model scores better
    return get_engine(study.engine).map_best_known(problem, arch, **kwargs)


def best_baseline(problem: ir.Problem, arch: ir.Arch, study: Study, post: Post = None
                  ) -> tuple[ir.Problem, ir.Result, int]:
    """(problem mapped, its result, padded candidates mapped): the mapper on ``problem`` and each padded
    candidate, ``post`` applied to every result before the reducer compares them."""
    cands = problems(problem, arch)
    results: list[Optional[ir.Result]] = []
    first_error = None
    for p in cands:
        try:
            _, r = map_baseline(p, arch, study)
        except MappingError as exc:
            if p is problem and len(cands) == 1:
                raise
            first_error = first_error or exc
            results.append(None)
            continue
        results.append(post(r) if post else r)
    i = best_index(edp(r) if r is not None else float("inf") for r in results)
    if i is None:
        raise first_error
    return cands[i], results[i], len(cands) - 1


def tensor_core_arch(op: ir.Op, study: Study, bits: int) -> tuple[ir.Arch, str]:
    """The baseline chip for ``op`` and the tensor-core format it runs: storage words at ``bits`` (the widest
    tensor: one word width per Timeloop level), the tensor cores in the format of the operands (input and
    weight bits, :func:`cimscope.gpu.roofline.operand_bits`): a W4A4 layer with an 8-bit output runs int4 MMAs
    (MAC count and MAC energy of the chip placed at 4 bits)."""
    arch = placed(study, bits).gemm
    ob = operand_bits(op)
    fmt = tensor_core_format(ob)
    if fmt != tensor_core_format(bits):
        arch = replace(arch, compute=placed(study, ob).gemm.compute)
    return arch, fmt.name


def baseline_gemm(op: ir.Op, study: Study, bits: int) -> tuple[ir.Result, Optional[dict], int, str, dict]:
    """(result, padding, padded candidates, bound, extra) on the tensor cores."""
    arch, fmt = tensor_core_arch(op, study, bits)
    problem = op.to_problem()
    extra: dict[str, Any] = {"unit": "tensor_core", "tensor_core_format": fmt}
    post = None
    if residency.is_resident(op, study):
        # the weights reside in the baseline's largest single-instance on-chip level: the mapper keeps them
        # there (Timeloop keep constraint); the preload (levels above it, its fills) is removed afterwards
        wname = residency.weights_name(problem)
        level = residency.baseline_level(arch).name
        arch = residency.keep_weights_arch(arch, level, wname)
        removal = residency.baseline_removal(arch, level)
        post = lambda r: residency.remove_weight_traffic(r, arch, wname, removal)  # noqa: E731
    chosen, result, tried = best_baseline(problem, arch, study, post)
    if post is not None:
        extra["resident"] = {"level": level, **result.extra["resident"]}
    ideal = result.computes / max(1, arch.compute.instances)
    bound = "compute" if result.cycles <= ideal * 1.0001 + 1 else "bandwidth/mapping"
    return result, padding_info(problem, chosen), tried, bound, extra


def cim_gemm(op: ir.Op, study: Study, bits: int) -> tuple[ir.Result, Optional[dict], int, str, dict]:
    """(result, padding, padded candidates, bound, extra) on the CiM arrays (input passes at the input
    tensor's bits, weight cells at the weight tensor's bits, :func:`cimscope.study.cim_bits`)."""
    pa = placed(study, bits, cim_bits(op))
    problem = op.to_problem()
    resident = residency.is_resident(op, study)
    # resident weights: the arrays hold every weight of the network once, so no copies into idle arrays
    opts = CimOptions(interleave=study.interleave, duplicate=study.duplicate and not resident,
                      weight_reload=study.weight_reload)
    post = None
    if resident:               # no weight traffic, no array writes: W x t_w = 0 in the post-processing
        wname = residency.weights_name(problem)
        removal = residency.cim_removal(pa.gemm)
        post = lambda r: residency.remove_weight_traffic(r, pa.gemm, wname, removal)  # noqa: E731
    cands = padded_cim_mappings(problem, pa.gemm, opts)
    best, result = choose(cands, pa.gemm, get_engine(study.engine), post)
    bound = "cim waves" if result.extra["cim"]["bound"] == "cim" else "bandwidth"
    extra: dict[str, Any] = {"unit": "cim", "cim": result.extra["cim"], "cim_bits": list(cim_bits(op))}
    if resident:
        extra["resident"] = {"level": pa.cim_level.name, **result.extra["resident"]}
    return result, best.padding, padded_problems_tried(cands), bound, extra


def evaluate_gemm(op: ir.Op, study: Study) -> dict:
    """One occurrence of GEMM ``op`` under ``study``: a JSON-able record (energy_pJ, cycles, cycle_seconds,
    computes, utilization, energy_pJ_per_level, bound, engine, extra, note)."""
    bits = op_bits(op)
    pa = placed(study, bits)
    run = baseline_gemm if pa.cim is None else cim_gemm
    result, pad, tried, bound, extra = run(op, study, bits)
    util = float(result.utilization)
    extra["padding_candidates"] = int(tried)
    if pad is not None:
        extra["padding"] = pad
        util *= pad["utilization"]             # real MACs only
    out = {
        "energy_pJ": float(result.energy_pJ),
        "cycles": float(result.cycles),
        "cycle_seconds": float(pa.gemm.cycle_seconds),
        "computes": float(result.computes),
        "utilization": util,
        "energy_pJ_per_level": {k: float(v) for k, v in result.energy_pJ_per_level.items()},
        "bound": bound,
        "engine": result.engine,
        "extra": extra,
    }
    if pad is not None:
        out["note"] = padding_note(pad)
    return out
