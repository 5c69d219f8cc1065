"""Associative Processor (AP) pass programs (LUT passes) and their closed-form counts.

An AP is a content-addressable memory (CAM) of ``rows`` words x ``columns`` bit columns with a tag register per
row. It computes bit-serially and word-parallel (SIMD): one *pass* of a look-up-table (LUT) program is one
**compare** (the key, a few masked bit columns, is searched in all rows at once; matching rows are tagged)
followed by one **write** (a pattern is written into masked columns of every tagged row). Arithmetic is the
truth table of the operation applied bit by bit, one pass per truth-table entry whose output differs from its
input. References for the algorithms and their cost:

* [Yavits15] L. Yavits, A. Morad, R. Ginosar, "Computer Architecture with Associative Processor Replacing
  Last-Level Cache and SIMD Accelerator", IEEE Trans. Computers 64(2), 2015: in-place M-bit addition in
  ``8M`` cycles (4 compare + 4 write per bit), multiplication in ``O(M^2)`` (about ``8M^2``) cycles.
* [Fouda22] M. E. Fouda, H. E. Yantir, A. M. Eltawil, F. Kurdahi, "In-Memory Associative Processors:
  Tutorial, Potential, and Challenges", arXiv 2203.00662: LUT passes of in-place addition/subtraction, 1D
  (horizontal) and 2D (horizontal + vertical) APs, ``O(M)`` add, ``O(M^2)`` multiply, ``O(M log N)`` reduction
  of N words in a 2D AP.
* [BF-IMNA] M. Rakka, R. Karami, A. M. Eltawil, M. E. Fouda, F. Kurdahi, "BF-IMNA: A Bit Fluid In-Memory
  Neural Architecture for Neural Network Acceleration", arXiv 2411.01417: 1D APs as memories (MAPs), 2D APs
  as compute (CAPs); conv/activation/pooling by AP arithmetic at any bit width without reconfiguration.

The pass programs below are derived from the truth tables (each program is also executable on the bit-level
functional model :class:`cimscope.plugins.ap_array.ApArray`, and the tests check both the arithmetic and that
the closed forms of :func:`ap_passes` equal the counted passes):

================  ==========================================  ============================================
operation         compares                                    writes
================  ==========================================  ============================================
add / sub         4M + 2(W-M)   (A: M bits into B: W bits)    compares + 1 (carry clear)
mul               Mb (4 Ma + 1) (A: Ma bits, B: Mb bits)      compares + 1 (product/carry clear)
accumulate        4 W           (signed, sign-extended)       4 W + 1
compare           2 M           (flags A>B, A<B, MSB first)   2 M + 1
max               4 M           (compare + conditional copy)  4 M + 1
relu              1             (sign bit)                    1       (writes M zero bits)
copy              2 M                                         2 M
saturate          Wfrom - Wto                                 Wfrom - Wto
reduce (2D AP)    6 W ceil(log2 N)                            (6 W + 1) ceil(log2 N)
================  ==========================================  ============================================

So addition is linear and multiplication quadratic in the bit width; with one compare and one write cycle per
pass an M-bit add takes 8M (+1) cycles and an M x M multiply 8M^2 + 2M (+1) cycles, as in [Yavits15].
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple, Optional

from cimscope.errors import InputError, UnknownNameError


#: canonical operation name -> accepted aliases
OPERATIONS: dict[str, tuple[str, ...]] = {
    "add": ("addition",),
    "sub": ("subtract", "subtraction"),
    "mul": ("multiply", "multiplication", "mult"),
    "accumulate": ("acc", "accumulation", "mac_accumulate"),
    "compare": ("cmp",),
    "max": ("maximum",),
    "relu": (),
    "copy": ("move",),
    "saturate": ("clamp",),
    "reduce": ("reduction", "sum_rows"),
}
_ALIASES = {alias: name for name, aliases in OPERATIONS.items() for alias in (name,) + aliases}


def canonical_operation(operation: str) -> str:
    """Canonical name of an AP operation (aliases such as ``subtract``/``multiply`` accepted)."""
    key = str(operation).strip().lower()
    if key not in _ALIASES:
        raise UnknownNameError("AP operation", operation, OPERATIONS)
    return _ALIASES[key]


Column = tuple[str, int]          # (field, bit index), e.g. ("A", 3)


@dataclass(frozen=True)
class Pass:
    """One LUT pass: compare ``key`` (masked columns and their values; empty: every row is tagged, no compare
    cycle), then write ``write`` into the tagged rows."""

    key: tuple[tuple[Column, int], ...]
    write: tuple[tuple[Column, int], ...]

    @property
    def compares(self) -> int:
        return 1 if self.key else 0


class ApPasses(NamedTuple):
    """Pass counts of one operation on every active row.

    ``compares``/``writes``: number of compare and write cycles. ``compare_bits``: key bits summed over the
    compares (energy of the compares is proportional to it). ``write_bits``: bits written summed over the
    writes, for every active row. ``matched_write_bits``: the same weighted by the expected fraction of
    tagged rows (2^-key bits for uniformly distributed data; 1 for unconditional writes)."""

    compares: int
    writes: int
    compare_bits: int = 0
    write_bits: int = 0
    matched_write_bits: float = 0.0

    def cycles(self, write_cycles: int = 1) -> int:
        """AP clock cycles: one per compare and ``write_cycles`` per write."""
        return self.compares + self.writes * write_cycles

    def __add__(self, other: "ApPasses") -> "ApPasses":  # type: ignore[override]
        return ApPasses(*(a + b for a, b in zip(self, other)))

    def scaled(self, k: float) -> "ApPasses":
        return ApPasses(self.compares * k, self.writes * k, self.compare_bits * k, self.write_bits * k,
                        self.matched_write_bits * k)


ZERO_PASSES = ApPasses(0, 0, 0, 0, 0.0)


def _check_bits(operation: str, **bits: Optional[int]) -> None:
    for name, b in bits.items():
        if b is None:
            continue
        if not isinstance(b, (int,)) or isinstance(b, bool) or b < 1:
            raise InputError(f"AP operation {operation}: {name}={b!r} must be a positive integer bit width")


def _add_program(M: int, W: int, A: str = "A", B: str = "B", C: str = "C", cond: tuple = (),
                 subtract: bool = False, sign_extend: bool = False) -> list[Pass]:
    """In-place ``B[0:W] <- B +/- A[0:M]`` with carry/borrow column ``C`` ([Fouda22] in-place LUT).

    Per full bit, the 4 truth-table entries (A_i, B_i, C) whose (B_i, C) change, in an order where a row
    rewritten by one pass matches no later pass of the same bit. Above A's width the A bit is 0 (unsigned) or
    A's sign bit (``sign_extend``) and the carry only propagates (2 passes per bit) or is a full pass."""
    cnd = tuple(cond)
    if not subtract:
        # (A, B, C) -> (B, C):  001->10, 011->01, 110->01, 100->10
        full = [((0, 0, 1), (1, 0)), ((0, 1, 1), (0, 1)), ((1, 1, 0), (0, 1)), ((1, 0, 0), (1, 0))]
        half = [((0, 1), (1, 0)), ((1, 1), (0, 1))]          # (B, C) -> (B, C) with A = 0
    else:
        # B - A - D:  011->00, 001->11, 100->11, 110->00
        full = [((0, 1, 1), (0, 0)), ((0, 0, 1), (1, 1)), ((1, 0, 0), (1, 1)), ((1, 1, 0), (0, 0))]
        half = [((1, 1), (0, 0)), ((0, 1), (1, 1))]
    out: list[Pass] = []
    for i in range(W):
        if i < M or sign_extend:
            a_col = (A, min(i, M - 1))
            for (a, b, c), (nb, nc) in full:
                out.append(Pass(cnd + ((a_col, a), ((B, i), b), ((C, 0), c)), (((B, i), nb), ((C, 0), nc))))
        else:
            for (b, c), (nb, nc) in half:
                out.append(Pass(cnd + (((B, i), b), ((C, 0), c)), (((B, i), nb), ((C, 0), nc))))
    return out


def _clear(*cols: Column) -> Pass:
    return Pass((), tuple((c, 0) for c in cols))


def _wide_enough(op: str, M: int, bits_b: Optional[int]) -> int:
    """Destination (accumulator for ``accumulate``) width of an add/sub/accumulate: ``bits_b``, default
    ``M``; narrower than the operand is an InputError."""
    W = bits_b if bits_b is not None else M
    if W < M:
        what = "accumulator" if op == "accumulate" else "destination"
        raise InputError(f"AP {op}: {what} width bits_b={W} is smaller than bits={M}")
    return W


def program(operation: str, bits: int, bits_b: Optional[int] = None) -> list[Pass]:
    """The LUT pass program of ``operation``; fields: A, B (operands, B is the in-place destination), C
    (carry/borrow), P (product), G/L (greater/less flags), X (value being reduced/clamped).

    * add/sub: ``B[0:bits_b] <- B +/- A[0:bits]`` (unsigned, A zero-extended); bits_b defaults to bits.
    * mul: ``P[0:bits+bits_b] <- A[0:bits] (unsigned) x B[0:bits_b] (two's complement)``; shift-and-add
      over the bits of B, the sign bit's partial product subtracted (same pass count as an add).
    * accumulate: ``B[0:bits_b] <- B + A[0:bits]`` signed, A sign-extended to bits_b.
    * compare: flags G (A > B) / L (A < B), unsigned, MSB first. max: compare, then ``B <- A`` where G.
    * relu: ``A <- 0`` where the sign bit ``A[bits-1]`` is 1. copy: ``B <- A`` (bits).
    * saturate: ``X[0:bits_b] <- 1...1`` where any of ``X[bits_b:bits]`` is 1 (non-negative X).
    * reduce: in a 2D AP, per stage of the log2 tree: copy the partner row's field (vertical move) and
      accumulate it (see :func:`ap_passes`); not a single-row program, so it has none here.
    """
    op = canonical_operation(operation)
    _check_bits(op, bits=bits, bits_b=bits_b)
    M = bits
    if op in ("add", "sub"):
        W = _wide_enough(op, M, bits_b)
        return [_clear(("C", 0))] + _add_program(M, W, subtract=(op == "sub"))
    if op == "accumulate":
        W = _wide_enough(op, M, bits_b)
        return [_clear(("C", 0))] + _add_program(M, W, sign_extend=True)
    if op == "mul":
        Mb = bits_b if bits_b is not None else M
        prog = [_clear(*[("P", i) for i in range(M + Mb)], ("C", 0))]
        for j in range(Mb):
            last = j == Mb - 1
            # add (or, for B's sign bit, subtract) A << j into P[j : j+M], only in rows where B_j = 1
            part = _add_program(M, M, A="A", B="P", cond=((("B", j), 1),), subtract=last)
            # re-index the destination bits P[i] -> P[i + j]
            for p in part:
                prog.append(Pass(tuple(((f, i + j) if f == "P" else (f, i), v) for (f, i), v in p.key),
                                 tuple(((f, i + j) if f == "P" else (f, i), v) for (f, i), v in p.write)))
            # carry (borrow) out into P[j+M], which is still 0: 1 pass, clears C for the next iteration
            prog.append(Pass(((("C", 0), 1),), ((("P", j + M), 1), (("C", 0), 0))))
        return prog
    if op in ("compare", "max"):
        prog = [_clear(("G", 0), ("L", 0))]
        for i in reversed(range(M)):
            prog.append(Pass(((("G", 0), 0), (("L", 0), 0), (("A", i), 1), (("B", i), 0)), ((("G", 0), 1),)))
            prog.append(Pass(((("G", 0), 0), (("L", 0), 0), (("A", i), 0), (("B", i), 1)), ((("L", 0), 1),)))
        if op == "max":
            for i in range(M):
                prog.append(Pass(((("G", 0), 1), (("A", i), 1)), ((("B", i), 1),)))
                prog.append(Pass(((("G", 0), 1), (("A", i), 0)), ((("B", i), 0),)))
        return prog
    if op == "relu":
        return [Pass(((("A", M - 1), 1),), tuple((("A", i), 0) for i in range(M)))]
    if op == "copy":
        prog = []
        for i in range(M):
            prog.append(Pass(((("A", i), 1),), ((("B", i), 1),)))
            prog.append(Pass(((("A", i), 0),), ((("B", i), 0),)))
        return prog
    if op == "saturate":
        to = bits_b if bits_b is not None else M
        if to > M:
            raise InputError(f"AP saturate: target width bits_b={to} exceeds the value width bits={M}")
        return [Pass(((("X", k), 1),), tuple((("X", i), 1) for i in range(to))) for k in range(to, M)]
    raise InputError(f"AP {op}: a multi-row operation with no single-row program; use ap_passes()")


def count_passes(prog: list[Pass]) -> ApPasses:
    """Counts of a pass program (uniform-data expectation of the tagged fraction: 2^-key bits)."""
    compares = sum(p.compares for p in prog)
    writes = len(prog)
    compare_bits = sum(len(p.key) for p in prog)
    write_bits = sum(len(p.write) for p in prog)
    matched = sum(len(p.write) * 2.0 ** -len(p.key) for p in prog)
    return ApPasses(compares, writes, compare_bits, write_bits, matched)


def ap_passes(operation: str, bits: int, bits_b: Optional[int] = None) -> ApPasses:
    """Closed-form pass counts of an AP operation (see the module docstring table and :func:`program`).

    ``bits``/``bits_b``: operand widths; for ``reduce`` ``bits`` is the field width W and ``bits_b`` the
    number N of rows (words) summed into one, all rows active at every stage (per-stage row counts are
    handled by :func:`ap_operation_cost`). [Yavits15]: add 8M cycles; multiply ~8M^2 cycles."""
    op = canonical_operation(operation)
    _check_bits(op, bits=bits, bits_b=bits_b)
    M = bits
    if op in ("add", "sub"):
        W = _wide_enough(op, M, bits_b)
        c = 4 * M + 2 * (W - M)
        return ApPasses(c, c + 1, 3 * 4 * M + 2 * 2 * (W - M), 2 * c + 1,
                        2 * (4 * M / 8 + 2 * (W - M) / 4) + 1)
    if op == "accumulate":
        W = _wide_enough(op, M, bits_b)
        return ApPasses(4 * W, 4 * W + 1, 12 * W, 8 * W + 1, 8 * W / 8 + 1)
    if op == "mul":
        Mb = bits_b if bits_b is not None else M
        c = Mb * (4 * M + 1)
        return ApPasses(c, c + 1, Mb * (16 * M + 1), 2 * c + (M + Mb + 1),
                        Mb * (8 * M / 16 + 2 / 2) + (M + Mb + 1))
    if op == "compare":
        return ApPasses(2 * M, 2 * M + 1, 8 * M, 2 * M + 2, 2 * M / 16 + 2)
    if op == "max":
        return ApPasses(4 * M, 4 * M + 1, 12 * M, 4 * M + 2, 2 * M / 16 + 2 * M / 4 + 2)
    if op == "relu":
        return ApPasses(1, 1, 1, M, M / 2)
    if op == "copy":
        return ApPasses(2 * M, 2 * M, 2 * M, 2 * M, M)
    if op == "saturate":
        to = bits_b if bits_b is not None else M
        if to > M:
            raise InputError(f"AP saturate: target width bits_b={to} exceeds the value width bits={M}")
        g = M - to
        return ApPasses(g, g, g, g * to, g * to / 2)
    if op == "reduce":
        N = bits_b if bits_b is not None else 2
        return reduce_stage(M).scaled(reduction_stages(N))
    raise AssertionError(op)  # pragma: no cover


def reduction_stages(n_rows: int) -> int:
    """Stages of the log2 reduction tree of a 2D AP over ``n_rows`` words ([Fouda22]: O(M log N))."""
    return 0 if n_rows <= 1 else math.ceil(math.log2(n_rows))


def reduce_stage(width: int) -> ApPasses:
    """One stage of a 2D-AP row reduction on a ``width``-bit signed field: a vertical copy of the partner
    row's field (2 passes per bit) and a signed accumulate of it (4 passes per bit + carry clear)."""
    return ap_passes("copy", width) + ap_passes("accumulate", width, width)
