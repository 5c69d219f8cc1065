"""Local-search moves over a :class:`~cimscope.mappers.mapspace.MapSpace` (passed as ``space``): random
mutations and the full one-step neighbourhood of a candidate (move or exchange prime factors between slots
within the fanouts, swap or rotate loops, flip a free keep/bypass choice). The space canonicalises the
results."""
from __future__ import annotations

import numpy as np

from cimscope.mappers.candidates import Candidates, prime_factors


def mutate(space, rng: np.random.Generator, parents: Candidates, n: int) -> Candidates:
    """``n`` neighbours of ``parents``: move one prime factor between slots, swap two loops of a level's
    permutation, or flip one free keep/bypass choice."""
    idx = rng.integers(0, parents.n, n)
    c = parents.take(idx)
    tf, sf, sxd, tperm, keep = c.tf.copy(), c.sf.copy(), c.sx_dim.copy(), c.tperm.copy(), c.keep.copy()
    ops = rng.random(n)
    free_keep = np.argwhere(space.keep_fixed == 0) if space.explore_bypass else np.zeros((0, 2), dtype=int)
    movable = [d for d in range(space.D) if space.primes[d] and d not in space.all_rest]
    for i in range(n):
        op = ops[i]
        if op < 0.6 and movable:
            for _ in range(4):
                if _move_factor(space, rng, tf[i], sf[i], sxd[i], movable):
                    break
        elif op < 0.9 or len(free_keep) == 0:
            # swap two real (bound > 1) loops of one level; fixed innermost loops stay
            lo = np.array([len(space.perm_fix.get(s, [])) for s in range(space.L)])
            real = np.take_along_axis(tf[i], tperm[i], axis=1) > 1
            nfree = np.array([real[s, lo[s]:].sum() for s in range(space.L)])
            ok = np.nonzero(nfree >= 2)[0]
            if len(ok):
                s = int(ok[int(rng.integers(0, len(ok)))])
                a, b = rng.choice(np.arange(lo[s], lo[s] + nfree[s]), 2, replace=False)
                tperm[i, s, [a, b]] = tperm[i, s, [b, a]]
            elif movable:
                _move_factor(space, rng, tf[i], sf[i], sxd[i], movable)
        else:
            s, k = free_keep[int(rng.integers(0, len(free_keep)))]
            keep[i, s, k] = not keep[i, s, k]
            if not keep[i, :, k].any():
                keep[i, space.L - 1, k] = True
    return Candidates(tf, sf, sxd, tperm, keep)

def neighbours(space, c: Candidates, i: int) -> Candidates:
    """Every candidate one step from candidate ``i``: one prime factor moved from one slot to another
    (within the fanouts), two loops of a level swapped, one loop made innermost, or one free keep/bypass
    choice flipped."""
    tf0, sf0, sx0, tp0, kp0 = c.tf[i], c.sf[i], c.sx_dim[i], c.tperm[i], c.keep[i]
    outs = []
    fixed_part = {}
    for (s, k01, d), v in space.fixed.items():
        if v:
            fixed_part[(s, k01, d)] = v
    xs = np.prod(np.where(sx0, sf0, 1), axis=1)
    ys = np.prod(np.where(sx0, 1, sf0), axis=1)

    def cur(j, d):
        s, kind = space.slots[j]
        if kind == 0:
            return tf0[s, d] // fixed_part.get((s, 0, d), 1)
        if sf0[s, d] > 1 and (kind == 1) != bool(sx0[s, d]):
            return 1
        return sf0[s, d] // fixed_part.get((s, 1, d), 1)

    outs += _single_moves(space, tf0, sf0, sx0, tp0, kp0, xs, ys, cur)
    outs += _exchanges(space, tf0, sf0, sx0, tp0, kp0, cur)
    outs += _loop_moves(space, tf0, sf0, sx0, tp0, kp0)
    if space.explore_bypass:
        outs += _bypass_flips(space, tf0, sf0, sx0, tp0, kp0)
    if not outs:
        return c.take(np.array([i]))
    arrs = [np.stack([o[f] for o in outs]) for f in range(5)]
    return Candidates(*arrs)


def _single_moves(space, tf0, sf0, sx0, tp0, kp0, xs, ys, cur) -> list:
    """One prime factor moved from one slot to another (within the fanouts)."""
    outs = []
    for d in range(space.D):
        if d in space.all_rest or not space.primes[d]:
            continue
        allowed = space.allowed[d]
        for j0 in allowed:
            v0 = cur(j0, d)
            if v0 <= 1:
                continue
            for p in sorted(set(prime_factors(int(v0)))):
                for j1 in allowed:
                    if j1 == j0:
                        continue
                    s1, k1 = space.slots[j1]
                    if k1:
                        if sf0[s1, d] > 1 and bool(sx0[s1, d]) != (k1 == 1):
                            continue
                        s0, k0 = space.slots[j0]
                        fx_now = xs[s1] // (p if (k0 == 1 and s0 == s1) else 1)
                        fy_now = ys[s1] // (p if (k0 == 2 and s0 == s1) else 1)
                        if (k1 == 1 and fx_now * p > space.fx[s1]) or (k1 == 2 and fy_now * p > space.fy[s1]):
                            continue
                    tf, sf, sx = tf0.copy(), sf0.copy(), sx0.copy()
                    _shift(space, tf, sf, sx, d, p, j0, j1)
                    outs.append((tf, sf, sx, tp0, kp0))
    return outs


def _exchanges(space, tf0, sf0, sx0, tp0, kp0, cur) -> list:
    """A prime of dimension a goes j0 -> j1 while a prime of dimension b goes j1 -> j0."""
    outs = []
    # Exchanges: a prime of dimension a goes j0 -> j1 while a prime of dimension b goes j1 -> j0 (crosses
    # capacity walls that single moves cannot: one tile grows while another shrinks).
    movable = [d for d in range(space.D) if d not in space.all_rest and space.primes[d]]
    nslot = len(space.slots)
    holdings = {(j, d): sorted(set(prime_factors(int(cur(j, d))))) for j in range(nslot) for d in movable
                if j in space.allowed[d] and cur(j, d) > 1}
    for j0 in range(nslot):
        s0, k0 = space.slots[j0]
        for j1 in range(j0 + 1, nslot):
            s1, k1 = space.slots[j1]
            for a in movable:
                for p in holdings.get((j0, a), []):
                    if j1 not in space.allowed[a]:
                        continue
                    for b in movable:
                        if b == a or j0 not in space.allowed[b]:
                            continue
                        for q in holdings.get((j1, b), []):
                            tf, sf, sx = tf0.copy(), sf0.copy(), sx0.copy()
                            for (sa, ka, da, fa, fb) in ((s0, k0, a, p, None), (s1, k1, b, q, None)):
                                if ka == 0:
                                    tf[sa, da] //= fa
                                else:
                                    sf[sa, da] //= fa
                            for (sa, ka, da, fa) in ((s1, k1, a, p), (s0, k0, b, q)):
                                if ka == 0:
                                    tf[sa, da] *= fa
                                else:
                                    if sf[sa, da] > 1 and bool(sx[sa, da]) != (ka == 1):
                                        break
                                    sf[sa, da] *= fa
                                    sx[sa, da] = ka == 1
                            else:
                                okf = True
                                for sl in {s0, s1}:
                                    if (np.prod(np.where(sx[sl], sf[sl], 1)) > space.fx[sl] or
                                            np.prod(np.where(sx[sl], 1, sf[sl])) > space.fy[sl]):
                                        okf = False
                                if okf:
                                    outs.append((tf, sf, sx, tp0, kp0))
    return outs


def _loop_moves(space, tf0, sf0, sx0, tp0, kp0) -> list:
    """Two real loops of a level swapped, or one rotated innermost (fixed innermost loops stay)."""
    outs = []
    real = np.take_along_axis(tf0, tp0, axis=1) > 1
    for s in range(space.L):
        lo = len(space.perm_fix.get(s, []))
        n = int(real[s, lo:].sum())
        for a in range(lo, lo + n):
            for b in range(a + 1, lo + n):
                tp = tp0.copy()
                tp[s, [a, b]] = tp[s, [b, a]]
                outs.append((tf0, sf0, sx0, tp, kp0))
            if a > lo + 1:
                tp = tp0.copy()
                tp[s, lo:a + 1] = np.roll(tp0[s, lo:a + 1], 1)
                outs.append((tf0, sf0, sx0, tp, kp0))
    return outs


def _bypass_flips(space, tf0, sf0, sx0, tp0, kp0) -> list:
    """One free keep/bypass choice flipped (a data space stays kept somewhere)."""
    outs = []
    for s, k in np.argwhere(space.keep_fixed == 0):
        kp = kp0.copy()
        kp[s, k] = not kp[s, k]
        if kp[:, k].any():
            outs.append((tf0, sf0, sx0, tp0, kp))
    return outs

def _move_factor(space, rng, tf, sf, sxd, movable) -> bool:
    d = movable[int(rng.integers(0, len(movable)))]
    allowed = space.allowed[d]
    if len(allowed) < 2:
        return False
    fixed_part = {}
    for (s, k01, dd), v in space.fixed.items():
        if dd == d and v:
            fixed_part[(s, k01)] = v

    def cur(j):
        s, kind = space.slots[j]
        if kind == 0:
            return tf[s, d] // fixed_part.get((s, 0), 1)
        if (kind == 1) != bool(sxd[s, d]) and sf[s, d] > 1:
            return 1
        return sf[s, d] // fixed_part.get((s, 1), 1)

    src = [j for j in allowed if cur(j) > 1]
    if not src:
        return False
    j0 = src[int(rng.integers(0, len(src)))]
    ps = prime_factors(int(cur(j0)))
    p = ps[int(rng.integers(0, len(ps)))]
    dst = [j for j in allowed if j != j0]
    j1 = dst[int(rng.integers(0, len(dst)))]
    s1, k1 = space.slots[j1]
    if k1:
        if sf[s1, d] > 1 and bool(sxd[s1, d]) != (k1 == 1):
            return False
        xs = np.prod(np.where(sxd[s1], sf[s1], 1))
        ys = np.prod(np.where(sxd[s1], 1, sf[s1]))
        if (k1 == 1 and xs * p > space.fx[s1]) or (k1 == 2 and ys * p > space.fy[s1]):
            return False
    _shift(space, tf, sf, sxd, d, p, j0, j1)
    return True

def _shift(space, tf, sf, sxd, d: int, p: int, j0: int, j1: int) -> None:
    """Move prime ``p`` of dimension ``d`` from slot ``j0`` to slot ``j1`` (in place; one candidate)."""
    s0, k0 = space.slots[j0]
    s1, k1 = space.slots[j1]
    if k0 == 0:
        tf[s0, d] //= p
    else:
        sf[s0, d] //= p
    if k1 == 0:
        tf[s1, d] *= p
    else:
        sf[s1, d] *= p
        sxd[s1, d] = k1 == 1
