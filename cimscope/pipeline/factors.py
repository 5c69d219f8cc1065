"""Perfect factorisations, as Timeloop requires them, and tile sizes: the helpers of the CiM mapping pass."""
from __future__ import annotations

import math
from functools import lru_cache

from cimscope import ir


@lru_cache(maxsize=4096)
def divisors(n: int) -> tuple[int, ...]:
    small, large = [], []
    i = 1
    while i * i <= n:
        if n % i == 0:
            small.append(i)
            if i * i != n:
                large.append(n // i)
        i += 1
    return tuple(small + large[::-1])


def best_product(avail: dict[str, int], dims: list[str], bound: int) -> dict[str, int]:
    """Divisors f_d of avail[d] for d in ``dims`` with the largest product <= bound (ties: earlier dims get
    the larger factors). Returns only factors > 1."""
    if bound <= 1 or not dims:
        return {}
    best: tuple[int, tuple] = (1, tuple(1 for _ in dims))
    cands = [divisors(max(1, int(avail.get(d, 1)))) for d in dims]

    def rec(i: int, prod: int, chosen: list[int]) -> None:
        nonlocal best
        if i == len(dims):
            if prod > best[0] or (prod == best[0] and tuple(chosen) > best[1]):
                best = (prod, tuple(chosen))
            return
        for f in reversed(cands[i]):
            if prod * f <= bound:
                chosen.append(f)
                rec(i + 1, prod * f, chosen)
                chosen.pop()
                if prod * f * 1 == bound:
                    break

    rec(0, 1, [])
    return {d: f for d, f in zip(dims, best[1]) if f > 1}


def take(rem: dict[str, int], factors: dict[str, int]) -> None:
    for d, f in factors.items():
        if rem[d] % f:
            raise AssertionError(f"factor {f} does not divide remaining {rem[d]} of {d}")
        rem[d] //= f


def prod(factors: dict[str, int]) -> int:
    return math.prod(factors.values()) if factors else 1


def tile_words(t: ir.Tensor, extent: dict[str, int], coefficients: dict[str, int]) -> int:
    """Words of dataspace ``t`` touched by a tile with ``extent[d]`` iterations of each dimension
    (a rank sum_j c_j*d_j spans sum_j c_j*(extent_j - 1) + 1 points)."""
    words = 1
    for rank in t.projection:
        span = 1
        for d, c in rank:
            coef = coefficients.get(c, 1) if isinstance(c, str) else int(c)
            span += coef * (int(extent.get(d, 1)) - 1)
        words *= max(1, span)
    return words
