"""GPU execution model of the baseline: kernel time, kernel launch and framework dispatch, eager or fused.

NonGEMM Bench (Karami et al., arXiv 2404.11788, ISPASS 2025; artifact UCI-ISA-Lab/NonGEMM-Bench-ISPASS25,
``torch_flow/eval.py``) times each top-level operator of an eager fp16 PyTorch model as its host time plus
its CUDA kernel time (``cpu_time + cuda_time``), and reports GPT2-XL 47 % and Swin-B 58 % NonGEMM on GPU
(11.3-73.6 % across platforms, 15-48 % after fusion). This module models the same sum for an exported
:class:`~cimscope.ir.Workload`:

    eager:  t(call)   = dispatch_us + sum over its kernels (launch_us + t_kernel)       (views: dispatch only)
    fused:  t(kernel) = launch_us + t_kernel                   (compiled graph: no per-operator dispatch)
    t_kernel = max(2 x MACs / tensor-core peak(dtype), SIMT ops / SIMT peak, HBM bytes(dtype) / HBM bandwidth)

Which ops form a call and a kernel: :mod:`cimscope.gpu.fusion` (``execution='eager'`` one kernel per call;
``'fused'`` elementwise chains folded into their producer, attention as one flash-style kernel).

Parameters (:class:`GpuParams`, every field overridable with :func:`gpu_params`):

* ``launch_us = 5.0``: host time of one CUDA kernel launch. Meta's Holistic Trace Analysis documentation
  (facebookresearch/HolisticTraceAnalysis, docs "CUDA kernel launch statistics"): "the launch time on the CPU
  side is between 5-20 microseconds"; the low end is taken.
* ``dispatch_us = 3.4``: host time of one eager PyTorch operator call that launches no kernel: PyTorch's
  operator micro-benchmark of ``split`` on CUDA tensors, 3.33-3.42 us per call (pytorch/pytorch pull
  request 32194, commit bab87e4b, "reimplement __torch_function__ overrides for torch.functional": the
  timings on master quoted there).
  Check: dispatch + launch = 8.4 us per kernel-launching call, against 8 us per ``add`` call submitted
  back to back on an A100 (flagos-ai/Torch-FL pull request 27, "cuda_sub" column).
* Rates from the A100 whitepaper as packaged in ``plugins/data/a100.yaml``: dense tensor-core peak
  312 TFLOPS (fp16, bf16) and 624 TOPS (int8); 19.5 TFLOPS on the FP32 CUDA cores for NonGEMM arithmetic
  (elementwise kernels on the A100 are bandwidth-bound at any of these rates); HBM2 1555 GB/s.

Bytes are the exporter's per-operator counts (``Op.bytes_read`` / ``bytes_written``) rescaled from the
op's tensor bit width to the data type's (fp16/bf16: 16 bit, int8: 8 bit). Kernel time is the roofline at
peak rates: no kernel efficiency factor, no L2 reuse between kernels, no host/device overlap (NonGEMM
Bench's sum counts both sides serially). A kernel's time is shared among its calls in proportion to each
call's own roofline time inside it (its compute on its unit, its HBM bytes); the launch and dispatch of a
kernel go to its first call, whose class owns the kernel (the producer of a chain, QK^T of an attention).
The per-operator roofline (each op as its own kernel, no overhead) is reported beside every op.
"""
from __future__ import annotations

import dataclasses
import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Optional, Sequence

import yaml

from cimscope.errors import InputError, UnknownNameError
from cimscope.gpu.fusion import Kernel, calls, eager_kernels, fused_kernels
from cimscope.ir import GEMM, NONGEMM_CLASSES, OP_CLASSES, Op, Workload
from cimscope.validation import named_number

DTYPES = ("fp16", "bf16", "int8")
EXECUTIONS = ("eager", "fused")
DTYPE_BITS = {"fp16": 16, "bf16": 16, "int8": 8}


def a100_file() -> Path:
    """The packaged A100 whitepaper figures (``cimscope.plugins`` data: plugins/data/a100.yaml)."""
    spec = importlib.util.find_spec("cimscope.plugins")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "a100.yaml"


@dataclass(frozen=True)
class GpuParams:
    """Overheads (microseconds) and peak rates of the GPU execution model (sources: module doc)."""

    launch_us: float
    dispatch_us: float
    tensor_fp16_ops_per_s: float
    tensor_int8_ops_per_s: float
    simt_ops_per_s: float
    hbm_bytes_per_s: float

    def tensor_ops_per_s(self, dtype: str) -> float:
        return self.tensor_int8_ops_per_s if dtype == "int8" else self.tensor_fp16_ops_per_s


@functools.lru_cache(maxsize=1)
def a100_params() -> GpuParams:
    """The default parameters: cited overheads and the A100 whitepaper rates (a100.yaml)."""
    with open(a100_file(), encoding="utf-8") as f:
        a = yaml.safe_load(f)["a100_sxm4_40gb"]
    return GpuParams(launch_us=5.0, dispatch_us=3.4,
                     tensor_fp16_ops_per_s=float(a["peak_dense_fp16_tflops"]) * 1e12,
                     tensor_int8_ops_per_s=float(a["peak_dense_int8_tops"]) * 1e12,
                     simt_ops_per_s=float(a["peak_fp32_tflops"]) * 1e12,
                     hbm_bytes_per_s=float(a["hbm2_bandwidth_GBps"]) * 1e9)


def gpu_params(overrides: Optional[Mapping[str, float]] = None, base: Optional[GpuParams] = None) -> GpuParams:
    """``base`` (default :func:`a100_params`) with fields replaced; unknown names or negative values raise
    :class:`InputError` naming the valid fields."""
    base = base or a100_params()
    names = [f.name for f in dataclasses.fields(GpuParams)]
    clean = {}
    for k, v in (overrides or {}).items():
        x = named_number("GPU parameter", k, v, names)
        if x < 0 or (x == 0 and not k.endswith("_us")):
            raise InputError(f"GPU parameter {k} must be {'>= 0' if k.endswith('_us') else '> 0'}, got {v!r}")
        clean[k] = x
    return dataclasses.replace(base, **clean)


@dataclass
class OpTime:
    """Modelled time of one exported op (seconds per inference, ``Op.count`` occurrences included)."""

    name: str
    target: str
    op_class: str
    kernel: int                      # index of the kernel it runs in (-1: a view, no kernel)
    kernel_kind: str                 # "single" | "chain" | "attention" | "view"
    kernel_s: float                  # its share of the kernel's time
    launch_s: float
    dispatch_s: float
    roofline_s: float                # the op alone as a kernel at this dtype, no overhead
    bound: str                       # what bounds its kernel: "tensor" | "simt" | "hbm" | "overhead"

    @property
    def total_s(self) -> float:
        return self.kernel_s + self.launch_s + self.dispatch_s


def _check(dtype: str, execution: str) -> None:
    if dtype not in DTYPES:
        raise UnknownNameError("dtype", dtype, DTYPES)
    if execution not in EXECUTIONS:
        raise UnknownNameError("execution", execution, EXECUTIONS)


def _byte_scale(op: Op, dtype: str) -> float:
    bits = max((t.bits for t in op.tensors), default=DTYPE_BITS[dtype])
    return DTYPE_BITS[dtype] / bits


def _unit_times(op: Op, dtype: str, p: GpuParams) -> tuple[float, float]:
    """(tensor-core seconds, SIMT seconds) of one occurrence of ``op``."""
    tc = 2.0 * op.macs / p.tensor_ops_per_s(dtype) if op.is_gemm else 0.0
    simt = (0.0 if op.is_gemm else float(op.elem_ops)) / p.simt_ops_per_s
    return tc, simt


def op_roofline_s(op: Op, dtype: str, p: Optional[GpuParams] = None) -> float:
    """One occurrence of ``op`` as its own kernel at ``dtype``: max(tensor, SIMT, HBM) time, no overhead."""
    p = p or a100_params()
    tc, simt = _unit_times(op, dtype, p)
    hbm = (op.bytes_read + op.bytes_written) * _byte_scale(op, dtype) / p.hbm_bytes_per_s
    return max(tc, simt, hbm)


def _kernel_times(k: Kernel, dtype: str, p: GpuParams) -> tuple[float, list[float], str]:
    """Kernel time, each call's share of it, and the bound (module doc)."""
    tc_total = simt_total = 0.0
    own: list[float] = []
    for call, b in zip(k.calls, k.ext_bytes):
        tc = simt = 0.0
        for op in call.ops:
            t, s = _unit_times(op, dtype, p)
            tc, simt = tc + t, simt + s
        hbm = b * _byte_scale(call.first, dtype) / p.hbm_bytes_per_s
        tc_total, simt_total = tc_total + tc, simt_total + simt
        own.append(max(tc, simt, hbm))
    hbm_total = sum(b * _byte_scale(c.first, dtype) for c, b in zip(k.calls, k.ext_bytes)) / p.hbm_bytes_per_s
    t = max(tc_total, simt_total, hbm_total)
    bound = "tensor" if t == tc_total and t > 0 else "simt" if t == simt_total and t > 0 else "hbm"
    weight = sum(own)
    shares = [t * w / weight for w in own] if weight > 0 else [t] + [0.0] * (len(own) - 1)
    return t, shares, bound


def gpu_times(workload: Workload, dtype: str = "fp16", execution: str = "eager",
              params: Optional[GpuParams] = None) -> list[OpTime]:
    """Modelled time of every op of ``workload`` on the GPU baseline (module doc), in workload order."""
    _check(dtype, execution)
    p = params or a100_params()
    call_list = calls(workload.ops)
    kernels = eager_kernels(call_list) if execution == "eager" else fused_kernels(call_list)
    times: dict[int, OpTime] = {}
    for ki, k in enumerate(kernels):
        t, shares, bound = _kernel_times(k, dtype, p)
        for ci, (call, share) in enumerate(zip(k.calls, shares)):
            roof = [op_roofline_s(o, dtype, p) for o in call.ops]
            weights = roof if sum(roof) > 0 else [1.0] + [0.0] * (len(roof) - 1)
            for oi, op in enumerate(call.ops):
                w = weights[oi] / sum(weights)
                first = ci == 0 and oi == 0
                launch = p.launch_us * 1e-6 if first else 0.0
                disp = p.dispatch_us * 1e-6 if (execution == "eager" and oi == 0) else 0.0
                times[id(op)] = OpTime(name=op.name, target=op.target, op_class=op.op_class, kernel=ki,
                                       kernel_kind=k.kind, kernel_s=share * w * op.count,
                                       launch_s=launch * op.count, dispatch_s=disp * op.count,
                                       roofline_s=roof[oi] * op.count, bound=bound)
    out = []
    for c in call_list:
        for oi, op in enumerate(c.ops):
            if id(op) in times:
                out.append(times[id(op)])
                continue
            disp = p.dispatch_us * 1e-6 if (execution == "eager" and oi == 0) else 0.0   # a view call
            out.append(OpTime(name=op.name, target=op.target, op_class=op.op_class, kernel=-1,
                              kernel_kind="view", kernel_s=0.0, launch_s=0.0, dispatch_s=disp * op.count,
                              roofline_s=0.0, bound="overhead"))
    return out


def class_times(times: Iterable[OpTime], field: str = "total_s") -> dict[str, float]:
    """Seconds per class (GEMM first, then NonGEMM Bench's classes), summed over ``times``."""
    out = {c: 0.0 for c in OP_CLASSES}
    for t in times:
        out[t.op_class] += float(getattr(t, field))
    return out


def class_shares(times: Sequence[OpTime], field: str = "total_s") -> dict[str, float]:
    """Share of the total (percent) per class, plus ``"NonGEMM"``: the sum over NonGEMM Bench's classes."""
    ct = class_times(times, field)
    total = sum(ct.values())
    shares = {c: (100.0 * v / total if total > 0 else 0.0) for c, v in ct.items()}
    shares["NonGEMM"] = sum(shares[c] for c in NONGEMM_CLASSES)
    return shares


def nongemm_shares(workload: Workload, dtype: str = "fp16", execution: str = "eager",
                   params: Optional[GpuParams] = None) -> dict[str, float]:
    """:func:`class_shares` of :func:`gpu_times`: per-class and total NonGEMM share (percent)."""
    return class_shares(gpu_times(workload, dtype, execution, params))


def summary(workload: Workload, dtype: str = "fp16", params: Optional[GpuParams] = None) -> dict:
    """Eager and fused totals and shares, and the per-operator roofline's, for one workload (seconds, %)."""
    p = params or a100_params()
    out: dict = {"dtype": dtype, "params": dataclasses.asdict(p)}
    for execution in EXECUTIONS:
        ts = gpu_times(workload, dtype, execution, p)
        out[execution] = {"total_s": sum(t.total_s for t in ts), "kernels": len({t.kernel for t in ts} - {-1}),
                          "shares_pct": class_shares(ts),
                          "overhead_s": sum(t.launch_s + t.dispatch_s for t in ts)}
        if execution == "eager":
            out["roofline"] = {"total_s": sum(t.roofline_s for t in ts),
                               "shares_pct": class_shares(ts, "roofline_s")}
    return out


def shares_text(s: dict) -> str:
    """Human lines for a :func:`summary`: NonGEMM share and the classes above 0.5 %, per execution."""
    lines = [f"NonGEMM share by NonGEMM Bench class (GPU execution model, A100, {s['dtype']}; % of modelled time):"]
    for key, what in (("eager", "eager (dispatch + launch + kernel)"), ("fused", "fused (compiled graph)"),
                      ("roofline", "per-operator roofline (no overhead)")):
        sh = s[key]["shares_pct"]
        parts = ", ".join(f"{c} {v:.1f}" for c, v in sorted(sh.items(), key=lambda kv: -kv[1])
                          if c not in ("NonGEMM", GEMM) and v >= 0.5)
        lines.append(f"  {what}: {s[key]['total_s'] * 1e3:.3f} ms, NonGEMM {sh['NonGEMM']:.1f} %"
                     + (f" ({parts})" if parts else ""))
    return "\n".join(lines)


__all__ = ["DTYPES", "EXECUTIONS", "GpuParams", "OpTime", "a100_params", "gpu_params", "gpu_times",
           "class_times", "class_shares", "nongemm_shares", "op_roofline_s", "summary", "shares_text"]
