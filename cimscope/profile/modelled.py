"""The modelled side of ``cimscope profile``: what cimscope predicts for the same operators.

Two models, both on the exported graph of the profiled model:

* ``cimscope evaluate`` on ``a100_like`` with no CiM (placement ``none``): per-operator latency from the
  engine's mapping (GEMMs on the tensor cores, NonGEMMs streamed on the SIMT lanes), no launch or dispatch;
* the GPU execution model (:mod:`cimscope.gpu.execution`) in its two executions, ``eager`` (framework
  dispatch + kernel launch + kernel, NonGEMM Bench's measurement) and ``fused`` (a compiled graph:
  elementwise chains in their producer, attention as one flash-style kernel), at the profiled data type
  (fp16 or bf16; an fp32 measurement is set beside the fp16 model, NonGEMM Bench's GPU setting).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

from cimscope.errors import InputError
from cimscope.gpu.execution import EXECUTIONS, class_times, gpu_times
from cimscope.ir import OP_CLASSES
from cimscope.validation import FACTORY_TIMEOUT_S

DEFAULT_ARCH = "a100_like"
DEFAULT_PLACEMENT = "none"

#: Attribute names under which a NetworkResult-like object may hold its per-operator rows (ir.NetworkResult:
#: ``ops``).
ROW_ATTRS = ("ops", "rows")


# ---------------------------------------------------------------------------------------------------------
# The modelled side, read from a NetworkResult (or anything with the same per-operator fields)
# ---------------------------------------------------------------------------------------------------------

@dataclass
class ModelledOp:
    """One operator of the modelled network: the per-op fields of ``cimscope.evaluate.NetworkResult``."""

    name: str
    target: str
    module: str
    op_class: str
    latency_s: float                 # for all of this record's occurrences (latency of one x count)
    energy_pJ: float = 0.0
    cycles: float = 0.0


def row_field(row: Any, key: str, default: Any = None) -> Any:
    if isinstance(row, dict):
        return row.get(key, default)
    return getattr(row, key, default)


def modelled_ops(network_result: Any) -> list[ModelledOp]:
    """The per-operator rows of a :class:`cimscope.ir.NetworkResult` (``.ops``, each an
    :class:`cimscope.ir.OpEvaluation`), or of anything shaped like one (a list of rows; rows as objects or
    dicts with ``name``, ``target``, ``module``, ``op_class``, ``latency_s``, ``energy_pJ``, ``cycles`` and
    optionally ``count``). A row's figures are for one occurrence (as in OpEvaluation), so they are
    multiplied by ``count``."""
    rows = None
    if isinstance(network_result, (list, tuple)):
        rows = network_result
    else:
        for attr in ROW_ATTRS:
            rows = row_field(network_result, attr)
            if rows is not None:
                break
    if rows is None:
        raise InputError(f"modelled result {type(network_result).__name__} has no per-operator rows "
                         f"(looked for {', '.join(ROW_ATTRS)})")
    if isinstance(rows, dict):
        rows = list(rows.values())
    out = []
    for row in rows:
        op_class = row_field(row, "op_class")
        if op_class not in OP_CLASSES:
            raise InputError(f"modelled operator {row_field(row, 'name')!r} has class {op_class!r}, not one of "
                             f"{', '.join(OP_CLASSES)}")
        latency = row_field(row, "latency_s")
        if latency is None:
            raise InputError(f"modelled operator {row_field(row, 'name')!r} has no latency_s")
        scale = int(row_field(row, "count", 1) or 1)
        out.append(ModelledOp(name=str(row_field(row, "name", "")), target=str(row_field(row, "target", "")),
                              module=str(row_field(row, "module", "") or ""), op_class=op_class,
                              latency_s=float(latency) * scale,
                              energy_pJ=float(row_field(row, "energy_pJ", 0.0) or 0.0) * scale,
                              cycles=float(row_field(row, "cycles", 0.0) or 0.0) * scale))
    return out


def class_latency(ops: Iterable[ModelledOp]) -> dict[str, float]:
    """Modelled latency per class (s): the sum over operators, every class present."""
    out = {c: 0.0 for c in OP_CLASSES}
    for o in ops:
        out[o.op_class] += o.latency_s
    return out


@dataclass
class Modelled:
    """The modelled side of one model: its exported workload and the evaluated per-operator rows."""

    arch: str
    placement: str
    primitive: Optional[str]
    engine: str
    workload: Any                    # ir.Workload
    ops: list[ModelledOp]
    gpu_dtype: str = "fp16"
    gpu_class_s: dict[str, dict[str, float]] = field(default_factory=dict)   # execution -> class -> s

    @property
    def class_latency_s(self) -> dict[str, float]:
        return class_latency(self.ops)

    @property
    def total_s(self) -> float:
        return sum(o.latency_s for o in self.ops)


def model_network(name: str, *, batch: int = 1, image_size: int = 224, seq_len: int = 128,
                  arch: str = DEFAULT_ARCH, placement: str = DEFAULT_PLACEMENT, primitive: Optional[str] = None,
                  engine: str = "builtin", cache: Any = None, dtype: str = "fp16",
                  timeout_s: Optional[float] = FACTORY_TIMEOUT_S) -> Modelled:
    """Export ``name`` (:func:`cimscope.workloads.export_model`) and evaluate it with
    :func:`cimscope.evaluate.evaluate_network` (placement ``none``: the GPU baseline, GEMMs on the tensor
    cores with the engine's mapper, NonGEMMs on the SIMT lanes). ``cache``: a per-operator GEMM result cache
    (:class:`cimscope.sweep.ResultCache`), passed through. The GPU execution model runs at
    :func:`gpu_dtype_for` ``dtype``."""
    from cimscope.workloads import export_model
    try:
        from cimscope.evaluate import evaluate_network
    except ImportError as exc:
        raise InputError(f"the modelled side needs cimscope.evaluate, which is not available here ({exc}); "
                         f"run with --no-model") from None
    workload = export_model(name, batch=batch, image_size=image_size, seq_len=seq_len, timeout_s=timeout_s)
    result = evaluate_network(workload, arch, placement, primitive, engine=engine, cache=cache)
    gpu_dtype = gpu_dtype_for(dtype)
    return Modelled(arch=arch, placement=placement, primitive=getattr(result, "primitive", primitive),
                    engine=engine, workload=workload, ops=modelled_ops(result), gpu_dtype=gpu_dtype,
                    gpu_class_s=gpu_class_times(workload, gpu_dtype))


def gpu_dtype_for(measured_dtype: str) -> str:
    """The GPU execution model's data type for a measurement in ``measured_dtype`` (fp32 -> fp16)."""
    return measured_dtype if measured_dtype in ("fp16", "bf16") else "fp16"


def gpu_class_times(workload: Any, dtype: str) -> dict[str, dict[str, float]]:
    """Seconds per class of the GPU execution model, per execution (``eager``, ``fused``)."""
    return {ex: class_times(gpu_times(workload, dtype, ex)) for ex in EXECUTIONS}

