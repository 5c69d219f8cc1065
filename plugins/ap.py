"""Associative Processor (AP) model: pass counts, per-operation cost, cell technologies and the estimator.

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
functional model :class:`ApArray`, and the tests check both the arithmetic and that the closed forms of
:func:`ap_passes` equal the counted passes):

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

Energy: a compare costs ``compare_energy`` per key bit per active row (the fJ/bit/search figure of CAM
macros); a write costs ``write_energy`` per written bit per row. In SRAM the write energy is spent on the
bit lines, which span every active row whatever the number of tagged rows ("rows" charging); in resistive
cells it is the switching energy of the tagged cells only ("matched" charging; a k-bit key matches 2^-k of
the rows for uniformly distributed data). Reads cost ``read_energy`` per bit per row read.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple, Optional

from cimscope.errors import InputError, UnknownNameError
from cimscope.plugins.base import ActionCost, Attr, Estimate, Estimator, register
from cimscope.plugins.common import nm

# ---------------------------------------------------------------------------------------------------------
# Pass programs (LUT passes) and their closed-form counts
# ---------------------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------------------
# Bit-level functional model (used by the tests to prove the programs compute what they claim)
# ---------------------------------------------------------------------------------------------------------

class ApArray:
    """Bit-level model of one AP: named fields of bit columns over ``rows`` words, tag-based passes."""

    def __init__(self, rows: int, widths: dict[str, int]) -> None:
        import numpy as np
        self._np = np
        self.rows = rows
        self.bits = {f: np.zeros((rows, w), dtype=np.uint8) for f, w in widths.items()}
        self.compares = 0
        self.writes = 0

    def load(self, fld: str, values) -> None:
        np = self._np
        v = np.asarray(values, dtype=np.int64)
        w = self.bits[fld].shape[1]
        u = np.where(v < 0, v + (1 << w), v)
        for i in range(w):
            self.bits[fld][:, i] = (u >> i) & 1

    def value(self, fld: str, signed: bool = False, width: Optional[int] = None):
        np = self._np
        b = self.bits[fld][:, : (width or self.bits[fld].shape[1])].astype(np.int64)
        w = b.shape[1]
        u = (b << np.arange(w)).sum(axis=1)
        return np.where(u >= (1 << (w - 1)), u - (1 << w), u) if signed else u

    def run(self, prog: list[Pass]) -> None:
        np = self._np
        for p in prog:
            tags = np.ones(self.rows, dtype=bool)
            for (f, i), v in p.key:
                tags &= self.bits[f][:, i] == v
            self.compares += p.compares
            for (f, i), v in p.write:
                self.bits[f][tags, i] = v
            self.writes += 1


# ---------------------------------------------------------------------------------------------------------
# Cell technologies
# ---------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CellTech:
    """Per-bit costs of one AP cell technology at its reference node and supply.

    Energies are per bit per row (fJ); latencies per compare/write cycle (ns). ``write_charges``: "rows"
    (bit-line energy over every active row, CMOS) or "matched" (switching energy of tagged cells only).
    ``cell_area_um2`` is the published cell area at ``area_node_nm`` (its own source's node)."""

    name: str
    compare_fJ: float
    write_fJ: float
    read_fJ: float
    compare_ns: float
    write_ns: float
    cell_area_um2: float
    node_nm: float
    vdd_V: float
    write_charges: str
    scale_write_with_node: bool
    sources: dict[str, str] = field(default_factory=dict)
    short: dict[str, str] = field(default_factory=dict)     # one-line citations for action tables
    area_node_nm: Optional[float] = None                     # node of cell_area_um2 (None: node_nm)


#: Published per-bit figures (see each entry's ``sources``).
CELLS: dict[str, CellTech] = {
    "sram": CellTech(
        name="sram",
        compare_fJ=2.89, write_fJ=2.89, read_fJ=2.89, compare_ns=7.0, write_ns=7.0,
        cell_area_um2=0.346 * 10 / 6, area_node_nm=45, node_nm=180, vdd_V=1.8,
        write_charges="rows", scale_write_with_node=True,
        sources={
            "compare": "K. Pagiamtzis, A. Sheikholeslami, 'A Low-Power Content-Addressable Memory (CAM) Using "
                       "Pipelined Hierarchical Search Scheme', IEEE JSSC 39(9), 2004: 1024x144 CAM, 0.18 um "
                       "CMOS, 1.8 V, 7 ns search cycle, 2.89 fJ/bit/search",
            "write": "first-order: an AP write swings the bit line of each written column over every active "
                     "row, as a compare swings its search line: write energy/bit/row = compare energy; one "
                     "write per search cycle (cimscope assumption)",
            "read": "first-order: a row read swings the same column lines: read energy/bit/row = compare",
            "area": "10T NOR CAM cell = 10/6 x 6T SRAM cell; 6T cell 0.346 um^2 at 45 nm (Intel 45 nm, "
                    "Mistry et al., IEDM 2007); scaled from 45 nm with the Stillmaker & Baas area table",
        },
        short={"compare": "Pagiamtzis JSSC'04 CAM: 2.89 fJ/bit/search, 7 ns @180nm 1.8V",
               "write": "= compare per bit-row (bit line ~ search line; cimscope assumption)",
               "read": "= compare per bit-row (cimscope assumption)"}),
    "reram": CellTech(
        name="reram",
        compare_fJ=4.69, write_fJ=100.0, read_fJ=1.71, compare_ns=3 / 0.875, write_ns=10.0,
        cell_area_um2=0.41, area_node_nm=90, node_nm=180, vdd_V=1.8,
        write_charges="matched", scale_write_with_node=False,
        sources={
            "compare": "'An Energy-efficient Capacitive-RRAM Content Addressable Memory', arXiv 2401.09207: "
                       "64x64 array, 0.18 um, 875 MHz, 3 cycles per search, 1.71 fJ/bit-search (match), "
                       "4.69 fJ/bit-search (miss); a compare charges the miss figure (most rows mismatch)",
            "write": "ITRS 2011 (Emerging Research Devices) memristor/ReRAM prototype row, as tabulated in "
                     "J. J. Yang, D. B. Strukov, D. R. Stewart, 'Memristive devices for computing', Nature "
                     "Nanotechnology 8, 13-24 (2013), Table 1: energy per bit 0.1-3 pJ, write time 10 ns. "
                     "0.1 pJ is the low (optimistic) end of that range. Device switching: not scaled with the "
                     "CMOS node; only tagged cells switch. (Checked against a public transcription of that "
                     "table; the earlier citation, S. Yu, P.-Y. Chen, IEEE SSC Magazine 8(2) 2016, was from "
                     "memory and could not be checked.)",
            "read": "match energy of the same capacitive-RRAM CAM, 1.71 fJ/bit",
            "area": "2T-2R resistive CAM cell 0.41 um^2 at 90 nm (J. Li et al., '1 Mb 0.41 um^2 2T-2R Cell "
                    "Nonvolatile TCAM', IEEE JSSC 49(4), 2014); scaled from 90 nm with the Stillmaker & Baas "
                    "area table",
        },
        short={"compare": "capacitive-RRAM CAM arXiv 2401.09207: 4.69 fJ/bit miss, 3.43 ns @180nm",
               "write": "ITRS 2011 ReRAM (Yang et al. Nat. Nano. 2013 Tab. 1): 0.1 (-3) pJ/bit, 10 ns (tagged "
                        "cells only, unscaled)",
               "read": "arXiv 2401.09207: 1.71 fJ/bit (match)"}),
}

CELL_CHOICES = tuple(CELLS)


@dataclass(frozen=True)
class CellParams:
    """Per-bit costs of a cell at the target node and supply, after scaling."""

    cell: str
    technology_nm: float
    voltage_V: float
    compare_fJ: float
    write_fJ: float
    read_fJ: float
    compare_s: float
    write_s: float
    cell_area_um2: float
    write_charges: str
    sources: dict[str, str] = field(default_factory=dict)
    short: dict[str, str] = field(default_factory=dict)
    write_scaled: bool = True          # False: device switching energy/latency kept at the published value

    @property
    def write_cycles(self) -> int:
        """AP clock cycles per write: the clock is the compare cycle; a longer write takes several."""
        return max(1, math.ceil(self.write_s / self.compare_s - 1e-9))

    @property
    def cycle_s(self) -> float:
        return self.compare_s


#: attributes that override a cell's scaled per-bit figures (given at the target node and supply)
OVERRIDES = {
    "compare_energy_fJ": "compare_fJ", "write_energy_fJ": "write_fJ", "read_energy_fJ": "read_fJ",
    "compare_latency_ns": "compare_s", "write_latency_ns": "write_s",
}


def cell_params(cell: str = "sram", technology: float = 16.0, voltage: Optional[float] = None,
                overrides: Optional[dict[str, Any]] = None) -> CellParams:
    """Scale a cell's published figures from its reference node/supply to ``technology`` nm and ``voltage``
    V with :mod:`cimscope.plugins.scaling` (energy: ``energy_factor``; latency: ``delay_factor``; area:
    ``area_factor``). ``voltage=None`` uses the node's nominal supply. Device switching energy/latency of
    resistive cells is not scaled. ``overrides`` (keys of :data:`OVERRIDES`) replace the scaled values."""
    from cimscope.plugins import scaling

    name = str(cell).lower()
    if name not in CELLS:
        raise UnknownNameError("AP cell", cell, CELLS)
    c = CELLS[name]
    try:
        node = float(technology)
    except (TypeError, ValueError):
        raise InputError(f"AP technology {technology!r} is not a node in nm") from None
    try:
        vdd = float(voltage) if voltage is not None else float(scaling.nominal_vdd(node))
    except (TypeError, ValueError):
        raise InputError(f"AP supply voltage {voltage!r} is not a number (V)") from None
    ef = scaling.energy_factor(c.node_nm, node, c.vdd_V, vdd)
    df = scaling.delay_factor(c.node_nm, node, c.vdd_V, vdd)
    af = scaling.area_factor(c.area_node_nm if c.area_node_nm is not None else c.node_nm, node)
    p = CellParams(
        cell=name, technology_nm=node, voltage_V=vdd,
        compare_fJ=c.compare_fJ * ef,
        write_fJ=c.write_fJ * (ef if c.scale_write_with_node else 1.0),
        read_fJ=c.read_fJ * ef,
        compare_s=c.compare_ns * 1e-9 * df,
        write_s=c.write_ns * 1e-9 * (df if c.scale_write_with_node else 1.0),
        cell_area_um2=c.cell_area_um2 * af,
        write_charges=c.write_charges, short=dict(c.short), write_scaled=c.scale_write_with_node,
        sources=dict(c.sources, scaling=f"cimscope.plugins.scaling from {c.node_nm:g} nm/{c.vdd_V:g} V to "
                                        f"{node:g} nm/{vdd:g} V: energy x{ef:.4g}, delay x{df:.4g}"),
    )
    return apply_overrides(p, overrides)


def apply_overrides(p: CellParams, overrides: Optional[dict[str, Any]]) -> CellParams:
    if not overrides:
        return p
    changes: dict[str, Any] = {}
    for k, v in overrides.items():
        if v is None:
            continue
        if k not in OVERRIDES:
            raise UnknownNameError("AP cell override", k, OVERRIDES)
        try:
            x = float(v)
        except (TypeError, ValueError):
            raise InputError(f"AP cell override {k}={v!r} is not a number") from None
        if x <= 0:
            raise InputError(f"AP cell override {k}={v!r} must be positive")
        changes[OVERRIDES[k]] = x * 1e-9 if k.endswith("_ns") else x
    srcs, short = dict(p.sources), dict(p.short)
    for k in changes:
        name = {"compare_fJ": "compare", "write_fJ": "write", "read_fJ": "read", "compare_s": "compare",
                "write_s": "write"}[k]
        srcs[name] = short[name] = "user override"
    return replace(p, sources=srcs, short=short, **changes)


# ---------------------------------------------------------------------------------------------------------
# Energy and cycles of an operation
# ---------------------------------------------------------------------------------------------------------

class ApCost(NamedTuple):
    energy_pJ: float
    cycles: float


def passes_energy_pJ(passes: ApPasses, rows: float, p: CellParams) -> float:
    """Energy of executing ``passes`` on ``rows`` active rows (see the module docstring)."""
    wbits = passes.write_bits if p.write_charges == "rows" else passes.matched_write_bits
    return rows * (passes.compare_bits * p.compare_fJ + wbits * p.write_fJ) * 1e-3


def passes_cycles(passes: ApPasses, p: CellParams) -> float:
    return passes.cycles(p.write_cycles)


def ap_operation_cost(operation: str, bits: int, rows_active: float, bits_b: Optional[int] = None, *,
                      cell: str = "sram", technology: float = 16.0, voltage: Optional[float] = None,
                      params: Optional[CellParams] = None) -> ApCost:
    """(energy in pJ, AP clock cycles) of one ``operation`` on ``rows_active`` rows in parallel.

    Energy = rows x (compare key bits x compare energy/bit + written bits x write energy/bit) over the passes;
    cycles = compares + writes x write_cycles (one compare per clock; the clock is the compare cycle).
    For ``reduce``, ``rows_active`` is the number N of words summed (``bits_b`` ignored): stage s runs on
    ceil(N / 2^(s-1)) rows. Latency in seconds: ``cycles * params.cycle_s``."""
    op = canonical_operation(operation)
    if rows_active < 0:
        raise InputError(f"AP {op}: rows_active={rows_active} must be >= 0")
    p = params or cell_params(cell, technology, voltage)
    if op == "reduce":
        n = int(math.ceil(rows_active))
        e = 0.0
        cyc = 0.0
        stage = reduce_stage(bits)
        for s in range(1, reduction_stages(n) + 1):
            e += passes_energy_pJ(stage, math.ceil(n / 2 ** (s - 1)), p)
            cyc += passes_cycles(stage, p)
        return ApCost(e, cyc)
    ps = ap_passes(op, bits, bits_b)
    return ApCost(passes_energy_pJ(ps, rows_active, p), passes_cycles(ps, p))


# ---------------------------------------------------------------------------------------------------------
# Estimator
# ---------------------------------------------------------------------------------------------------------

_ACTION_OPS = ("add", "sub", "mul", "max", "relu", "accumulate")


class _ApBase(Estimator):
    percent_accuracy = 50
    description = ("Associative Processor (CAM rows x bit columns, bit-serial word-parallel). Actions: compare, "
                   "write, read per bit per row; compare_pass/write_pass per pass over all rows and columns; "
                   "add/sub/mul/max/relu/accumulate (and reduce for 2D) at `bits` over all rows.")
    _variant_default = "2d"

    @classmethod
    def _attrs(cls, variant_default: str) -> dict[str, Attr]:
        return {
            "variant": Attr(variant_default, "1d: memory AP (MAP, horizontal ops only); 2d: compute AP (CAP, "
                                             "also vertical ops: row reduction)", str, choices=("1d", "2d")),
            "rows": Attr(1024, "words (CAM rows)", int, low=1, high=1 << 24),
            "columns": Attr(256, "bits per row", int, low=1, high=1 << 16),
            "cell": Attr("sram", "cell technology", str, choices=CELL_CHOICES),
            "technology": Attr(16.0, "technology node (nm), e.g. 16 or '16nm' (Stillmaker & Baas range)",
                               kind=nm, low=7, high=180),
            "voltage": Attr(None, "supply voltage (V); default: nominal supply of the node", float,
                            low=0.3, high=2.0),
            "bits": Attr(8, "operand width of the per-operation actions", int, low=1, high=64),
            "bits_b": Attr(None, "second operand / destination width (default: bits)", int, low=1, high=128),
            "compare_energy_fJ": Attr(None, "override: compare energy per bit per row at the target node",
                                      float, low=0),
            "write_energy_fJ": Attr(None, "override: write energy per bit per row", float, low=0),
            "read_energy_fJ": Attr(None, "override: read energy per bit per row", float, low=0),
            "compare_latency_ns": Attr(None, "override: compare cycle (ns)", float, low=0),
            "write_latency_ns": Attr(None, "override: write latency (ns)", float, low=0),
        }

    def params(self) -> CellParams:
        a = self.attrs
        return cell_params(a["cell"], a["technology"], a["voltage"],
                           {k: a[k] for k in OVERRIDES if a.get(k) is not None})

    def estimate(self) -> Estimate:
        a = self.attrs
        p = self.params()
        rows, cols, M = a["rows"], a["columns"], a["bits"]
        Mb = a["bits_b"]
        sc = f", scaled to {p.technology_nm:g} nm {p.voltage_V:g} V"
        actions: dict[str, ActionCost] = {
            "compare": ActionCost(p.compare_fJ * 1e-3, p.compare_s,
                                  "per bit per row; " + p.short.get("compare", "") + sc),
            "write": ActionCost(p.write_fJ * 1e-3, p.write_s,
                                "per bit per row; " + p.short.get("write", "") + (sc if p.write_scaled else "")),
            "read": ActionCost(p.read_fJ * 1e-3, p.compare_s, "per bit per row; " + p.short.get("read", "") + sc),
            "compare_pass": ActionCost(p.compare_fJ * 1e-3 * rows * cols, p.compare_s,
                                       "one compare with every column in the key, over all rows"),
            "write_pass": ActionCost(p.write_fJ * 1e-3 * rows * cols, p.write_s,
                                     "one write of every column into all rows"),
        }
        ops = list(_ACTION_OPS) + (["reduce"] if a["variant"] == "2d" else [])
        for op in ops:
            bb = Mb
            if op == "mul" and bb is None:
                bb = M
            if op == "accumulate" and bb is None:
                bb = M
            if op == "reduce":
                c = ap_operation_cost(op, M, rows, params=p)
                src = f"[Fouda22] 2D-AP log2 reduction of {rows} rows of {M}-bit fields"
            else:
                c = ap_operation_cost(op, M, rows, bb, params=p)
                ps = ap_passes(op, M, bb)
                src = (f"{ps.compares} compares + {ps.writes} writes on {rows} rows at {M} bits"
                       + (f" / {bb} bits" if bb is not None else "") + " ([Yavits15], [Fouda22] LUT passes)")
            # fit check: the operation's fields must fit in a row
            need = _row_bits(op, M, bb)
            if need > cols:
                raise InputError(f"{self.component_name}: {op} at {M} bits needs {need} bit columns per row, "
                                 f"more than columns={cols}")
            actions[op] = ActionCost(c.energy_pJ, c.cycles * p.cycle_s, src)
        area = rows * cols * p.cell_area_um2
        return Estimate(
            component=self.component_name, attributes=dict(a), actions=actions, area_um2=area,
            leakage_W=0.0, percent_accuracy=self.percent_accuracy,
            notes={"cycle_s": p.cycle_s, "write_cycles": p.write_cycles, "write_charges": p.write_charges,
                   "technology_nm": p.technology_nm, "voltage_V": p.voltage_V, "sources": p.sources,
                   "area": "cell array only (periphery, tag logic and controller not modelled)",
                   "leakage": "not modelled"},
        )


def _row_bits(op: str, M: int, Mb: Optional[int]) -> int:
    """Bit columns one row needs for an operation's fields (operands, result, carry/flags)."""
    Mb = Mb if Mb is not None else M
    return {
        "add": M + Mb + 1, "sub": M + Mb + 1, "accumulate": M + Mb + 1,
        "mul": M + Mb + (M + Mb) + 1, "max": 2 * M + 2, "compare": 2 * M + 2, "relu": M,
        "copy": 2 * M, "saturate": M, "reduce": 2 * M + 1,
    }[op]


@register
class AssociativeProcessor(_ApBase):
    """An AP, 1D (memory, MAP) or 2D (compute, CAP) by the ``variant`` attribute."""

    component_name = "associative_processor"
    aliases = ("ap",)
    attributes = _ApBase._attrs("2d")


@register
class AssociativeProcessor1D(_ApBase):
    """1D AP (memory AP, MAP in BF-IMNA)."""

    component_name = "ap_1d"
    attributes = _ApBase._attrs("1d")


@register
class AssociativeProcessor2D(_ApBase):
    """2D AP (compute AP, CAP in BF-IMNA)."""

    component_name = "ap_2d"
    attributes = _ApBase._attrs("2d")
