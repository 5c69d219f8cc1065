"""Tile quantization: run a GEMM whose dimensions factor badly on padded tiles, as real GPUs do.

Timeloop (and the builtin mapper, and the WWW CiM mapping of :mod:`cimscope.pipeline.cim_map`) only accept perfect
factorisations: a dimension of prime size (ViT's 197 tokens) cannot be split over the 108 SMs, the 4
sub-partitions, the tensor-core MACs or the columns of a CiM array, so its whole extent runs sequentially
(ViT-B/16's attention QK^T, B=12 M=N=197 K=64, maps to 12-way parallelism: 27.5 us on a100_like, 55x its
A100 roofline bound). A GPU instead rounds such a dimension up to whole tiles (CUTLASS/cuBLAS threadblock
and MMA tiles; the out-of-range elements are zero-filled loads and discarded results, "tile quantization"
in NVIDIA's *Matrix Multiplication Background User's Guide*).

:func:`candidate_paddings` proposes padded problems: every *awkward* dimension (one whose size has no
divisor that fills a spatial fanout of the architecture reasonably, see :func:`awkward_dims`) rounded up to
the next multiple of 2, 4, 8, 16, 32 or of one of the architecture's fanouts, at most
:data:`MAX_DIM_OVERHEAD` per dimension and :data:`MAX_MAC_OVERHEAD` in MACs. The caller maps every
candidate next to the unpadded problem and keeps the best by its mapping objective. A padded problem is an
ordinary problem of the larger size: its padded MACs are computed (energy, cycles) and its padded tensor
elements are moved like real ones, so padding never hides work; it only ever adds some
(:func:`padding_info` reports how much: real MACs / padded MACs is the padding utilization).

Deterministic: the candidates depend only on the problem's dimensions and the architecture's fanouts.
"""
from __future__ import annotations

import math
from dataclasses import replace
from functools import lru_cache
from typing import Optional

from cimscope import ir
from cimscope.model.nest import hardware_fanouts

#: Round awkward dimensions up to the next multiple of one of these (and of the architecture's fanouts).
MULTIPLES = (2, 4, 8, 16, 32)
#: A dimension is padded by at most this share of its size.
MAX_DIM_OVERHEAD = 0.25
#: A padded problem has at most (1 + this) x the MACs of the real one.
MAX_MAC_OVERHEAD = 0.5
#: A dimension is awkward when, for some fanout f smaller than its size n, its largest divisor <= f fills
#: less than this share of f (197 on 4 sub-partitions: 1 of 4; 768 on 108 SMs: 96 of 108 is fine).
FIT_THRESHOLD = 0.5


@lru_cache(maxsize=8192)
def largest_divisor_at_most(n: int, bound: int) -> int:
    for f in range(min(n, bound), 0, -1):
        if n % f == 0:
            return f
    return 1


def fanouts(arch: ir.Arch) -> tuple[int, ...]:
    """The spatial fanouts of ``arch`` (per level, the X and the Y fanout separately, as the mapper splits
    them: :func:`cimscope.model.nest.hardware_fanouts`), plus, on a CiM hierarchy, the array's rows Rp,
    columns Cp and the sequential Rh x Ch slots of a cell (:func:`cimscope.pipeline.cim_map.cim_mapping` fills those with
    divisors too)."""
    out: set[int] = {f for xy in hardware_fanouts(arch) for f in xy if f > 1}
    for lv in arch.levels:
        a = lv.attributes
        if a.get("cim"):
            out.update(int(a[k]) for k in ("Rp", "Cp", "Rh", "Ch") if int(a.get(k, 1)) > 1)
    return tuple(sorted(out))


def fit(n: int, f: int) -> float:
    """How well a dimension of size ``n`` fills a fanout ``f``: its largest divisor <= f over min(n, f)."""
    if n <= 1 or f <= 1:
        return 1.0
    return largest_divisor_at_most(n, f) / min(n, f)


def awkward_dims(problem: ir.Problem, arch: ir.Arch) -> list[str]:
    """Dimensions whose size fills some fanout of ``arch`` below :data:`FIT_THRESHOLD` (in problem order)."""
    fs = fanouts(arch)
    return [d for d, n in problem.dims.items() if any(fit(int(n), f) < FIT_THRESHOLD for f in fs)]


def padded_sizes(n: int, arch_fanouts: tuple[int, ...]) -> list[int]:
    """Sizes > n a dimension of size ``n`` may be padded to: the next multiple of each of
    :data:`MULTIPLES` and of each fanout <= n, at most :data:`MAX_DIM_OVERHEAD` above n (ascending)."""
    out = set()
    for m in sorted(set(MULTIPLES) | {f for f in arch_fanouts if f <= n}):
        p = -(-n // m) * m
        if n < p <= n * (1 + MAX_DIM_OVERHEAD):
            out.add(p)
    return sorted(out)


def pad(problem: ir.Problem, sizes: dict[str, int]) -> ir.Problem:
    """``problem`` with the dimensions in ``sizes`` enlarged (projections and coefficients unchanged: the
    padded elements belong to the same tensors). Raises ValueError on a size below the real one."""
    dims = dict(problem.dims)
    for d, s in sizes.items():
        if int(s) < int(dims[d]):
            raise ValueError(f"padding {d} from {dims[d]} to {s} would drop real work")
        dims[d] = int(s)
    return replace(problem, dims=dims)


def macs(problem: ir.Problem) -> int:
    return math.prod(int(n) for n in problem.dims.values())


def padding_info(problem: ir.Problem, padded: ir.Problem) -> Optional[dict]:
    """What padding ``problem`` to ``padded`` adds (None when nothing is padded): the padded dimensions
    (real -> padded size), real and padded MACs, the padded share of the MACs and the padding utilization
    (real MACs / padded MACs)."""
    dims = {d: [int(problem.dims[d]), int(padded.dims[d])] for d in problem.dims
            if int(padded.dims[d]) != int(problem.dims[d])}
    if not dims:
        return None
    real, total = macs(problem), macs(padded)
    return {"dims": dims, "real_macs": real, "padded_macs": total, "padded_mac_share": (total - real) / total,
            "utilization": real / total}


def padding_note(info: Optional[dict]) -> str:
    """e.g. ``padded M 197->208, N 197->208: 10.3% padded MACs``."""
    if not info:
        return ""
    dims = ", ".join(f"{d} {a}->{b}" for d, (a, b) in info["dims"].items())
    return f"padded {dims}: {100 * info['padded_mac_share']:.1f}% padded MACs (tile quantization)"


def candidate_paddings(problem: ir.Problem, arch: ir.Arch) -> list[tuple[ir.Problem, str]]:
    """Padded versions of ``problem`` worth mapping on ``arch`` (the unpadded problem is not among them;
    empty when no dimension is awkward), each with its note. For every padding multiple: all awkward
    dimensions padded together, and (with several awkward dimensions) each one alone. Ordered by padded
    MACs, then by dimension sizes; at most (1 + :data:`MAX_MAC_OVERHEAD`) x the real MACs."""
    fs = fanouts(arch)
    awkward = awkward_dims(problem, arch)
    options = {d: padded_sizes(int(problem.dims[d]), fs) for d in awkward}
    options = {d: v for d, v in options.items() if v}
    if not options:
        return []
    choices: set[tuple[tuple[str, int], ...]] = set()
    multiples = sorted(set(MULTIPLES) | set(fs))
    for m in multiples:
        together = {}
        for d, sizes in options.items():
            n = int(problem.dims[d])
            p = -(-n // m) * m
            if p in sizes:
                together[d] = p
                if len(options) > 1:
                    choices.add(((d, p),))
        if together:
            choices.add(tuple(sorted(together.items())))
    real = macs(problem)
    out = []
    for ch in choices:
        padded = pad(problem, dict(ch))
        if macs(padded) <= real * (1 + MAX_MAC_OVERHEAD):
            out.append(padded)
    out.sort(key=lambda p: (macs(p), [int(p.dims[d]) for d in p.dims]))
    return [(p, padding_note(padding_info(problem, p))) for p in out]


__all__ = ["candidate_paddings", "awkward_dims", "fanouts", "fit", "padded_sizes", "pad", "padding_info", "padding_note",
           "MULTIPLES", "MAX_DIM_OVERHEAD", "MAX_MAC_OVERHEAD", "FIT_THRESHOLD"]
