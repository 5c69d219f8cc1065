"""The A100 roofline: a lower bound of one GEMM occurrence on the NVIDIA A100,
max(2 x MACs / peak ops/s, unique bytes / HBM bandwidth), with the A100's published peaks (NVIDIA A100
whitepaper) read from the one packaged source, plugins/data/a100.yaml (a copy of
/work/shared/reference/a100.yaml), through :mod:`cimscope.gpu.execution` (the GPU execution model reads the
same figures).
"""
from __future__ import annotations

import functools

import yaml

from cimscope import ir
from cimscope.gpu.execution import a100_file, a100_params

#: Dense TF32 tensor-core peak (NVIDIA A100 whitepaper, 2020: 156 TFLOPS), for operands wider than 16 bit; the
#: reference a100.yaml records no TF32 figure.
A100_TF32_OPS_PER_S = 156e12


@functools.lru_cache(maxsize=1)
def peak_ops_per_s() -> dict[int, float]:
    """Dense tensor-core peak ops/s by operand width in bits (int4, int8, fp16), from plugins/data/a100.yaml."""
    p = a100_params()
    with open(a100_file(), encoding="utf-8") as f:
        int4_tops = float(yaml.safe_load(f)["a100_sxm4_40gb"]["peak_dense_int4_tops"])
    return {4: int4_tops * 1e12, 8: p.tensor_int8_ops_per_s, 16: p.tensor_fp16_ops_per_s}


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


def roofline_s(op: ir.Op) -> float:
    """Lower bound of one occurrence of a GEMM on the A100: max(2 MACs / peak, unique bytes / HBM)."""
    bits = max(t.bits for t in op.tensors)
    peaks = peak_ops_per_s()
    peak = next((peaks[b] for b in sorted(peaks) if bits <= b), A100_TF32_OPS_PER_S)
    return max(2.0 * op.macs / peak, unique_bytes(op) / a100_params().hbm_bytes_per_s)
