"""The A100 roofline: a lower bound of one GEMM occurrence on the NVIDIA A100,
max(2 x MACs / peak ops/s, unique bytes / HBM bandwidth), with the A100's published peaks
(/work/shared/reference/a100.yaml, NVIDIA A100 whitepaper).
"""
from __future__ import annotations

from cimscope import ir

#: NVIDIA A100 whitepaper figures as recorded in /work/shared/reference/a100.yaml.
A100_PEAK_OPS = {4: 1248e12, 8: 624e12, 16: 312e12}     # peak_dense_int4_tops, int8_tops, fp16_tflops
A100_HBM_BYTES_PER_S = 1555e9                           # hbm2_bandwidth_GBps


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
    peak = next((A100_PEAK_OPS[b] for b in sorted(A100_PEAK_OPS) if bits <= b), 156e12)  # TF32 above 16 bit
    return max(2.0 * op.macs / peak, unique_bytes(op) / A100_HBM_BYTES_PER_S)
