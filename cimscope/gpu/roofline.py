"""The A100 roofline: a lower bound of one GEMM occurrence on the NVIDIA A100,
max(2 x MACs / peak ops/s, unique bytes / HBM bandwidth), with the A100's published peaks (NVIDIA A100
whitepaper) read from the one packaged source, plugins/data/a100.yaml (a copy of
/work/shared/reference/a100.yaml), through :mod:`cimscope.gpu.execution` (the GPU execution model reads the
same figures).
"""
from __future__ import annotations

from cimscope import ir
from cimscope.gpu.execution import a100_params
from cimscope.plugins.gpu_compute import tensor_core_format, tensor_core_formats


def peak_ops_per_s() -> dict[int, float]:
    """Dense tensor-core peak ops/s by operand width in bits (int4, int8, fp16), from plugins/data/a100.yaml
    (the tensor-core formats of :func:`cimscope.plugins.gpu_compute.tensor_core_formats`)."""
    return {f.max_bits: f.dense_ops_per_s for f in tensor_core_formats() if f.max_bits <= 16}


def distinct_words(t: ir.Tensor, extent: dict[str, int], coefficients: dict[str, int]) -> int:
    """Elements of dataspace ``t`` the operator actually touches: per rank, the number of distinct values of
    sum_j c_j*d_j (a stride-2 1x1 convolution reads every other input pixel, not the whole window)."""
    words = 1
    for rank in t.projection:
        terms = []
        for d, c in rank:
            coef = coefficients.get(c, 1) if isinstance(c, str) else int(c)
            n = int(extent.get(d, 1))
            if coef != 0 and n > 1:
                terms.append((coef, n))
        if len(terms) <= 1:
            words *= terms[0][1] if terms else 1
            continue
        vals = {0}
        for coef, n in terms:
            vals = {v + coef * i for v in vals for i in range(n)}
        words *= len(vals)
    return words


def unique_bytes(op: ir.Op) -> float:
    """Bytes of every tensor of the operator, each element touched counted once."""
    ext = dict(op.dims)
    return sum(distinct_words(t, ext, op.coefficients) * t.bits / 8 for t in op.tensors)


def operand_bits(op: ir.Op) -> int:
    """The widest multiplied operand of a GEMM (its input and weight tensors; the output is the accumulator's
    result, written at its own width), which picks the tensor-core format."""
    ops = [t.bits for t in op.tensors if t.role in ("input", "weight")]
    return max(ops) if ops else max(t.bits for t in op.tensors)


def roofline_s(op: ir.Op) -> float:
    """Lower bound of one occurrence of a GEMM on the A100: max(2 MACs / peak of the tensor-core format of its
    operands, unique bytes / HBM)."""
    peak = tensor_core_format(operand_bits(op)).dense_ops_per_s
    return max(2.0 * op.macs / peak, unique_bytes(op) / a100_params().hbm_bytes_per_s)
