"""End-to-end evaluation of a network on a GPU hierarchy with (or without) CiM: every operator, GEMM and
NonGEMM, with energy (pJ), latency (cycles and s), EDP (J*s), energy per level and the GEMM/NonGEMM split.

The work is done by :mod:`cimscope.pipeline` under a :class:`cimscope.study.Study`; this module keeps the
names other code calls: :func:`evaluate_network` (keyword arguments -> Study -> :func:`cimscope.pipeline.
network.evaluate`), ``EvalConfig`` (the former name of Study), and :func:`gemm_op`.
"""
from __future__ import annotations

from typing import Optional

from cimscope import ir
from cimscope.engine import ENGINES
from cimscope.pipeline.gemm import evaluate_gemm
from cimscope.pipeline.network import assemble, evaluate, evaluate_op, op_evaluation
from cimscope.pipeline.nongemm import evaluate_nongemm
from cimscope.pipeline.residency import weight_bytes
from cimscope.study import DEFAULT_PRIMITIVE, RESULT_VERSION, Study, op_bits, placed, result_key

#: The former name of :class:`cimscope.study.Study` (scripts and other modules construct it).
EvalConfig = Study
#: The former names of :func:`cimscope.study.result_key` and :func:`cimscope.study.placed`.
gemm_key = result_key
placed_arch = placed


def validate(arch: str, placement: str, primitive: Optional[str], engine: str = "builtin") -> None:
    """Raise UnknownNameError (listing the valid names) for a bad arch, placement, primitive or engine."""
    Study(arch=arch, placement=placement, primitive=primitive, engine=engine)


def evaluate_network(workload: ir.Workload, arch_name: str = "a100_like", placement: str = "none",
                     primitive: Optional[str] = None, engine: str = "builtin", *, interleave: bool = True,
                     duplicate: bool = True, weight_reload: bool = True, rounding: str = "www",
                     mapper_budget_s: Optional[float] = None, mapper_max_evaluations: Optional[int] = None,
                     cache=None, progress: bool = False, resident_weights: bool = False,
                     dispatch: str = "all") -> ir.NetworkResult:
    """Evaluate every operator of ``workload`` on ``arch_name`` with CiM ``primitive`` at ``placement``.

    ``primitive`` is ignored for placement "none". ``cache``: a :class:`cimscope.sweep.ResultCache` (or any
    object with ``get(key)``/``put(key, value)``) for per-operator GEMM results; without one, results are
    kept in memory for this call only. ``resident_weights``: the steady state of repeated inference
    (:mod:`cimscope.pipeline.residency`); InputError naming the missing bytes when they do not fit.
    ``dispatch``: ``all`` (every GEMM in CiM) or ``best`` (each GEMM in CiM or on the tensor cores,
    :mod:`cimscope.pipeline.dispatch`).
    """
    study = Study(arch=arch_name, placement=placement, primitive=primitive, engine=engine, interleave=interleave,
                  duplicate=duplicate, weight_reload=weight_reload, rounding=rounding,
                  mapper_budget_s=mapper_budget_s, mapper_max_evaluations=mapper_max_evaluations,
                  resident_weights=bool(resident_weights), dispatch=dispatch)
    return evaluate(workload, study, cache=cache, progress=progress)


def gemm_op(M: int, N: int, K: int, *, bits: int = 8, name: Optional[str] = None, module: str = "") -> ir.Op:
    """A plain GEMM Z[M,N] = sum_K A[M,K] B[K,N] (B: the weights) as an operator, e.g. the WWW GEMM shapes
    (M x N x K as the WWW workload tables write them)."""
    return ir.Op(
        name=name or f"gemm_{M}x{N}x{K}", target="aten.mm.default", module=module, op_class=ir.GEMM, kind="gemm",
        dims={"M": M, "N": N, "K": K},
        tensors=[ir.Tensor("Inputs", "input", [[("M", 1)], [("K", 1)]], bits),
                 ir.Tensor("Weights", "weight", [[("K", 1)], [("N", 1)]], bits),
                 ir.Tensor("Outputs", "output", [[("M", 1)], [("N", 1)]], bits, read_write=True)],
        macs=M * N * K, bytes_read=(M * K + K * N) * bits // 8, bytes_written=M * N * bits // 8)


__all__ = ["evaluate_network", "EvalConfig", "Study", "validate", "gemm_op", "evaluate_gemm", "evaluate_nongemm",
           "evaluate_op", "op_evaluation", "assemble", "weight_bytes", "op_bits", "gemm_key", "placed_arch",
           "DEFAULT_PRIMITIVE", "RESULT_VERSION", "ENGINES"]
