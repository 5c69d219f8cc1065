"""WWW's priority-based dataflow: the loop factors and orders that map a GEMM onto CiM primitives.

Re-implemented from the description in T. Sharma et al., "What, When, Where to Compute-in-Memory"
(arXiv 2312.15896, Sec. on the priority-based mapping algorithm) and the README of the artifact's constraints
folder (github.com/tanvisharma/WWWtoCiM, www-cim/constraints/README.md). The GEMM is Z[M,N] += A[M,K] B[N,K];
B (N x K) are the weights held in the CiM arrays.

Priorities, in order:
 1. fill one array's parallel cells: N over the Cp columns, K over the Rp rows (largest divisors that fit);
 2. spread what is left over the Y banks: N or K, whichever keeps the array shape within ``THRESHOLD``
    (the ratio of the two reduction/output extents one bank holds), one prime factor of Y at a time;
 3. fill the weights each cell group holds: N over Ch, K over Rh;
 4. at the on-chip buffer (SMEM, when the level has one), the largest M whose inputs (M x K) and outputs
    (M x N) fit, then grow K while they fit (weight reuse), then grow N (output reuse);
 5. the rest stays at DRAM;
 6. each memory level's loop order puts its largest factor innermost.

Steps 4's growth loops are written as the artifact computes them (it checks the capacity with a footprint
that grows by the accepted factor times the factor so far, and steps back one factor when that overflows);
:func:`grow_factor` documents it. Every line of the artifact's constraints/output.jsonl is reproduced
(tests/test_www_dataflow.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from cimscope.errors import InputError

#: Bank-spreading threshold of the artifact's constraints/main.py (v2.1: "Kept 32 for SMEM, 4 for RF"; the
#: published file sets 32). Its stored RF runs (outputs/rf_compute_*/.../outputs_consv2p1) follow 4: with 32,
#: digital8T would spread N over the banks, the stored run spreads K. Both values give every line of
#: constraints/output.jsonl (analog6T geometry, where the threshold never binds).
THRESHOLD = 32
RF_THRESHOLD = 4
#: Variants: "priority" spreads N or K over the banks by the threshold rule (the algorithm above);
#: "k_banks" is the earlier rule of the artifact's stored SMEM runs (outputs/smem_compute_*/.../outputs_cons):
#: the banks take the largest divisor of K left that is at most Y, and DRAM's loop order is fixed to M, K, N.
BANK_RULES = ("priority", "k_banks")
#: Loop order per level, as Timeloop writes permutations: innermost dimension first.
DIMS = ("M", "N", "K")


@dataclass(frozen=True)
class Factors:
    M: int = 1
    N: int = 1
    K: int = 1

    def as_dict(self) -> dict[str, int]:
        return {"M": self.M, "N": self.N, "K": self.K}


@dataclass(frozen=True)
class Dataflow:
    """Loop factors per level of a WWW CiM architecture (outermost first) and the memory-level loop orders
    (innermost first). ``smem`` and ``smem_order`` are None when the hierarchy has no SMEM level."""

    dram: Factors
    smem: Optional[Factors]
    bank: Factors            # spatial over the X x Y arrays of a CiMBank
    array: Factors           # spatial over the Rp x Cp cells of one array
    hold: Factors            # temporal over the Rh x Ch weights one cell group holds (CiMStorage)
    dram_order: str
    smem_order: Optional[str]

    def to_artifact(self) -> dict:
        """The artifact's output.jsonl ``constraints`` record for this dataflow (for comparison)."""
        def fl(f: Factors) -> list[str]:
            return [f"M={f.M}", f"N={f.N}", f"K={f.K}"]
        out = {"DRAM": fl(self.dram)}
        if self.smem is not None:
            out["SMEM"] = fl(self.smem)
        out.update({"CiMBank": fl(self.bank), "CiMArray": fl(self.array), "CiMStorage": fl(self.hold),
                    "permutation": [", ".join(self.dram_order), ", ".join(self.smem_order) if self.smem_order
                                    else None]})
        return out


def largest_divisor(n: int, cap: int) -> int:
    """Largest divisor of ``n`` not above ``cap`` (cap >= 1)."""
    for f in range(min(cap, n), 0, -1):
        if n % f == 0:
            return f
    return 1


def smallest_prime(n: int) -> Optional[int]:
    """Smallest factor > 1 of ``n`` (None for n <= 1)."""
    for f in range(2, n + 1):
        if n % f == 0:
            return f
    return None


def loop_order(m: int, n: int, k: int) -> str:
    """Loop order (innermost first) with the largest factor innermost; ties as the artifact breaks them."""
    if m > n:
        return "MNK" if n > k else ("MKN" if m > k else "KMN")
    return "KNM" if n < k else ("NMK" if m > k else "NKM")


def bank_factors(banks: int, n_rem: int, k_rem: int, n_cim: int, k_cim: int, threshold: int = THRESHOLD
                 ) -> tuple[int, int]:
    """(K, N) factors spread over ``banks`` arrays. The dimension the array already covers less of (``k_cim``
    = Rh*Rp vs ``n_cim`` = Ch*Cp) goes first unless the other is ``THRESHOLD`` times smaller; prime factors of
    the bank count are taken one by one while they divide what is left and the ratio stays under the
    threshold."""
    if banks <= 1:
        return 1, 1
    k_first = (k_cim / n_cim < threshold) if k_cim > n_cim else not (n_cim / k_cim < threshold)
    p = smallest_prime(banks)
    first, second = (k_rem, n_rem) if k_first else (n_rem, k_rem)
    if largest_divisor(first, p) == 1:
        k_first = not k_first
        if largest_divisor(second, p) == 1:
            return 1, 1
    kb = nb = 1
    left = banks
    while left > 1:
        p = smallest_prime(left)
        if k_first:
            f = largest_divisor(k_rem // kb, p)
            if f == 1 or k_cim * kb >= threshold * n_cim * nb:
                break
            kb *= f
        else:
            f = largest_divisor(n_rem // nb, p)
            if f == 1 or n_cim * nb >= threshold * k_cim * kb:
                break
            nb *= f
        left //= p
    return kb, nb


def grow_factor(capacity: int, grown: int, other: int, rem: int) -> int:
    """How much a buffer tile may grow along one dimension (the artifact's improvise_K / improvise_N).

    ``grown`` is the footprint that grows (A = K x M for K, Z = N x M for N), ``other`` the one that does not,
    ``rem`` what is left of the dimension. While the two fit in ``capacity``, take the smallest prime factor of
    what is left and multiply the tracked footprint by that factor times the factor accepted so far; once it
    overflows, step back the last factor."""
    factor, last = 1, None
    while grown + other <= capacity:
        last = smallest_prime(rem // factor)
        if last is None:
            break
        grown = last * factor * grown
        factor *= last
    if last is not None:
        factor //= last
    return factor


def _check(name: str, value: int) -> int:
    if int(value) != value or value < 1:
        raise InputError(f"WWW dataflow: {name} must be a positive integer, got {value!r}")
    return int(value)


def priority_dataflow(M: int, N: int, K: int, Rp: int, Cp: int, Rh: int, Ch: int, X: int = 1, Y: int = 4,
                      smem_words: Optional[int] = None, threshold: int = THRESHOLD,
                      bank_rule: str = "priority") -> Dataflow:
    """WWW's priority-based dataflow for GEMM M x N x K on X x Y arrays of an Rp x Cp (x Rh x Ch) primitive.
    ``smem_words``: capacity of the buffer level between DRAM and the arrays (None: the arrays sit right
    below DRAM, as at the SMEM placement). The artifact, like this function, spreads over Y only (X = 1).
    ``bank_rule``: one of BANK_RULES."""
    if bank_rule not in BANK_RULES:
        raise InputError(f"WWW dataflow: unknown bank rule {bank_rule!r}; valid: {', '.join(BANK_RULES)}")
    M, N, K, Rp, Cp, Rh, Ch, X, Y = (_check(k, v) for k, v in zip("M N K Rp Cp Rh Ch X Y".split(),
                                                                  (M, N, K, Rp, Cp, Rh, Ch, X, Y)))
    if X != 1:
        raise InputError(f"WWW dataflow: it spreads weights over the Y banks only (the artifact's algorithm, X = 1); "
                         f"got X = {X}")
    nc, kc = largest_divisor(N, Cp), largest_divisor(K, Rp)
    n_rem, k_rem = N // nc, K // kc
    if bank_rule == "priority":
        kb, nb = bank_factors(Y, n_rem, k_rem, Ch * Cp, Rh * Rp, threshold)
    else:
        kb, nb = largest_divisor(k_rem, Y), 1
    n_rem, k_rem = n_rem // nb, k_rem // kb
    nh, kh = largest_divisor(n_rem, Ch), largest_divisor(k_rem, Rh)
    n_rem, k_rem = n_rem // nh, k_rem // kh
    m_rem = M
    smem = smem_order = None
    if smem_words is not None:
        n_in, k_in = N // n_rem, K // k_rem          # extents already inside the arrays
        per_m = k_in + n_in
        if per_m > smem_words:
            raise InputError(f"WWW dataflow: one row of A and Z ({per_m} words) does not fit the {smem_words}-word "
                             f"buffer")
        m1 = largest_divisor(m_rem, smem_words // per_m)
        k1 = grow_factor(smem_words, k_in * m1, n_in * m1, k_rem)
        n1 = grow_factor(smem_words, n_in * m1, k_in * k1 * m1, n_rem)
        m_rem, n_rem, k_rem = m_rem // m1, n_rem // n1, k_rem // k1
        smem, smem_order = Factors(m1, n1, k1), loop_order(m1, n1, k1)
    return Dataflow(dram=Factors(m_rem, n_rem, k_rem), smem=smem, bank=Factors(1, nb, kb),
                    array=Factors(1, nc, kc), hold=Factors(1, nh, kh),
                    dram_order=loop_order(m_rem, n_rem, k_rem) if bank_rule == "priority" else "MKN",
                    smem_order=smem_order)
