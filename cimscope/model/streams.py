"""Delta streams and multicast classes of the vectorised model (:mod:`cimscope.model.fast`), over arrays of
candidates, and the integer projections they use.

* :func:`stream_totals`: each child's stream of tile deltas over the temporal loops above it (the stride-state
  dynamic programme of ``analysis.stream_total``; closed form for data spaces whose ranks are single
  dimensions). It runs over each candidate's active loops only (bound > 1): a loop of bound 1 adds nothing to
  the stream nor to the carries of the loops above it, and a translation's state only needs one id per
  distinct vector, so the DP costs O(active loops^2) per candidate.
* :func:`multicast_classes`: distinct projected offsets of the spatial children.
* :func:`rank_extents`, :func:`box_size`, :func:`extents`: the integer arithmetic of tiles, by the non-zero
  terms of each rank (NumPy's integer matmul is slow; the integers are the same).
"""
from __future__ import annotations

from functools import lru_cache
from itertools import product

import numpy as np


def rank_extents(P: np.ndarray, X: np.ndarray, offset: int = 1) -> np.ndarray:
    """``(X - offset) @ P.T + offset`` [..., R] for the coefficient matrix P [R, D] of a data space and X
    [..., D], by its non-zero terms (a rank is usually one dimension): the same integers as the matmul,
    without NumPy's slow integer matmul. offset 1: the rank extents of boxes of extents X; 0: projected
    vectors."""
    return np.stack([_rank(P[r], X, offset) for r in range(P.shape[0])], axis=-1)


def box_size(P: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Words of the data space's box for dimension extents X [..., D]: the product of its rank extents."""
    out = _rank(P[0], X, 1)
    for r in range(1, P.shape[0]):
        out = out * _rank(P[r], X, 1)
    return out


def _rank(row: np.ndarray, X: np.ndarray, offset: int) -> np.ndarray:
    acc = None
    for d in np.nonzero(row)[0]:
        c = int(row[d])
        term = X[..., d] - offset if offset else X[..., d]
        term = term if c == 1 else c * term
        acc = term if acc is None else acc + term
    if acc is None:
        return np.full(X.shape[:-1], offset, dtype=X.dtype)
    return acc + offset if offset else acc


def extents(f: np.ndarray) -> np.ndarray:
    """Cumulative products of the factors f [N, L, D] over the levels (innermost first)."""
    E = np.empty_like(f)
    E[:, 0] = f[:, 0]
    for s in range(1, f.shape[1]):
        E[:, s] = E[:, s - 1] * f[:, s]
    return E


# ---------------------------------------------------------------------------------------------------------
# Delta streams
# ---------------------------------------------------------------------------------------------------------

def _active_first(bounds: np.ndarray, ldims: np.ndarray, strides: np.ndarray, active: np.ndarray
                  ) -> tuple[np.ndarray, ...]:
    """The loops of each candidate with the active ones (bound > 1) first, in nest order, cut to the largest
    active count. A loop of bound 1 adds nothing to the stream nor to the carries of the loops above it, and
    a translation's state only needs a consistent id per distinct vector (the first active loop with it), so
    the stream is the same over the active loops alone; this makes the DP O(active^2) instead of O(loops^2)."""
    order = np.argsort(~active, axis=1, kind="stable")
    k = max(int(active.sum(axis=1).max()), 1)
    order = order[:, :k]
    rows = np.arange(order.shape[0])[:, None]
    return tuple(a[rows, order] for a in (bounds, ldims, strides, active))


def _moves(P: np.ndarray, active: np.ndarray, ldims: np.ndarray, strides: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray]:
    """Per candidate and loop k [N, K]: the translation of the child tile when loop k carries (its stride
    minus the resets of the active loops inside it) in rank space [N, K, R], and its id: 1 + the first loop
    with the same vector (analysis.translation_ids)."""
    N, K = ldims.shape
    onehot = np.zeros((N, K, P.shape[1]), dtype=np.int64)
    onehot[np.arange(N)[:, None], np.arange(K)[None, :], ldims] = strides
    resets = np.cumsum(onehot * active[:, :, None], axis=1)
    moves = rank_extents(P, onehot - (resets - onehot * active[:, :, None]), 0)
    eq = (moves[:, :, None, :] == moves[:, None, :, :]).all(axis=3)          # [N, K, K]
    return moves, np.argmax(eq, axis=2) + 1


def stream_totals(P: np.ndarray, multi: bool, E_dim: np.ndarray, bounds: np.ndarray, ldims: np.ndarray,
                  strides: np.ndarray, keep: bool = True) -> np.ndarray:
    """Per-candidate sum of child-tile deltas over Timeloop's visit sequence.

    P [R, D]; E_dim [N, D] child extents; bounds, ldims, strides [N, K]: the temporal loops above the child
    (inner first; bound 1 = absent); ``keep``: a step that does not move the tile keeps the stride state
    (:func:`cimscope.model.analysis.stationary_keeps_stride`)."""
    N, K = bounds.shape
    if not multi:
        full = box_size(P, E_dim).astype(np.float64)
        if K == 0:
            return full
        relevant = (P != 0).any(axis=0)[ldims]                    # [N, K]
        seen = np.cumsum(relevant & (bounds > 1), axis=1) > 0
        return full * np.prod(np.where(seen, bounds, 1), axis=1).astype(np.float64)
    E = rank_extents(P, E_dim)                                  # [N, R]
    full = np.prod(E, axis=1).astype(np.float64)
    if K == 0:
        return full
    active = bounds > 1
    n_active = active.sum(axis=1)
    if N < GROUP_MIN_ROWS:
        return full + _stream_dp(P, E, full, *_active_first(bounds, ldims, strides, active), keep=keep)
    # candidates grouped by their number of active loops: the DP costs O(active^2) per row, so a row is not
    # padded to the batch's largest count
    out = np.empty(N)
    group = np.minimum(n_active // GROUP_WIDTH, int(n_active.max()) // GROUP_WIDTH)
    for g in np.unique(group):
        idx = np.nonzero(group == g)[0]
        out[idx] = full[idx] + _stream_dp(P, E[idx], full[idx],
                                          *_active_first(bounds[idx], ldims[idx], strides[idx], active[idx]),
                                          keep=keep)
    return out


#: Batches of at least this many candidates are split by active loop count (:func:`stream_totals`), in groups of
#: counts this wide (performance only: the result does not depend on the grouping).
GROUP_MIN_ROWS = 128
GROUP_WIDTH = 3


def _stream_dp(P: np.ndarray, E: np.ndarray, full: np.ndarray, bounds: np.ndarray, ldims: np.ndarray,
               strides: np.ndarray, active: np.ndarray, *, keep: bool = True) -> np.ndarray:
    """The summed deltas beyond the first tile, for data spaces with multi-term ranks: the stride-state DP over
    the active loops (:func:`_active_first`). E [N, R] child rank extents, full [N] its size; ``keep``: a step
    that does not move the tile keeps the stride state (else it records "stationary", Timeloop before PR #297)."""
    N, K = bounds.shape
    # Stride states (analysis.transition): 0 = no translation recorded, 1 + j = the translation of loop j's
    # carry (the first active loop with that vector), K + 1 = stationary.
    STAT = K + 1
    S = K + 2
    v, tid = _moves(P, active, ldims, strides)                   # [N, K, R], [N, K]
    nz = v != 0
    cnt = nz.sum(axis=2)
    r = np.argmax(nz, axis=2)
    rows = np.arange(N)[:, None]
    vr = np.abs(v[rows, np.arange(K)[None, :], r])
    Er = E[rows, r]
    slab_ok = (cnt == 1) & (vr < Er)
    partial = vr * (full[:, None] / np.maximum(Er, 1))
    acc = np.zeros((N, S), dtype=np.float64)
    out = np.tile(np.arange(S), (N, 1))
    for k in range(K):
        s1 = out                                                  # [N, S]
        same = (s1 == 0) | (s1 == tid[:, k, None])
        zero = (cnt[:, k] == 0)[:, None]
        d = np.where(zero, 0.0, np.where(same & slab_ok[:, k, None], partial[:, k, None], full[:, None]))
        s2 = np.where(zero, s1 if keep else STAT, np.where(same, tid[:, k, None], 0))
        a2 = acc[rows, s2]
        s3 = out[rows, s2]
        n = bounds[:, k][:, None]
        acc = acc + (n - 1) * (d + a2)
        out = np.where(n > 1, s3, s1)
    return acc[:, 0]


@lru_cache(maxsize=4096)
def _distinct(terms: tuple) -> int:
    """Number of distinct values of sum_t a_t * i_t over i_t in [0, n_t) (terms = ((a, n), ...))."""
    vals = {0}
    for a, n in terms:
        vals = {v + a * i for v in vals for i in range(n)}
    return len(vals)


def multicast_classes(P: np.ndarray, sfs: np.ndarray, st: np.ndarray) -> np.ndarray:
    """Distinct projected offsets of the spatial children: sfs, st [N, D] spatial factors and strides."""
    N, D = sfs.shape
    active = sfs > 1                                        # [N, D]
    if not active.any():
        return np.ones(N)                                   # no spatial fanout: one child, one class
    nz = (P != 0)
    used_dims = nz.any(axis=0)
    # Fast path: every rank has at most one dimension with a non-trivial spatial factor and no dimension
    # is used by two ranks.
    per_rank = (nz[None, :, :] & active[:, None, :]).sum(axis=2)     # [N, R]
    shared = nz.sum(axis=0) > 1                              # [D]
    simple = (per_rank <= 1).all(axis=1) & ~(active & shared[None, :]).any(axis=1)
    out = np.prod(np.where(used_dims[None, :], sfs, 1), axis=1).astype(np.float64)
    if simple.all():
        return out
    hard = np.nonzero(~simple)[0]
    # the candidates of a batch share few (spatial factors, strides) rows: count each distinct row once
    uniq, inverse = np.unique(np.concatenate([sfs[hard], st[hard]], axis=1), axis=0, return_inverse=True)
    pkey = (P.shape, P.astype(np.int64).tobytes())
    counts = np.array([_classes_of(pkey, tuple(row)) for row in uniq.tolist()], dtype=np.float64)
    out[hard] = counts[inverse.reshape(-1)]
    return out


@lru_cache(maxsize=65536)
def _classes_of(pkey: tuple, row: tuple) -> int:
    """Distinct projected offsets of the spatial children of one candidate: ``pkey`` (shape, bytes) of the
    coefficient matrix P [R, D] (int64), ``row`` its spatial factors then strides (2D integers)."""
    (R, D), raw = pkey
    P = np.frombuffer(raw, dtype=np.int64).reshape(R, D)
    sfs, st = np.array(row[:D]), np.array(row[D:])
    shared = (P != 0).sum(axis=0) > 1
    if shared[sfs > 1].any():             # a dimension used by two ranks: enumerate the children
        pts = set()
        for idx in product(*[range(int(sfs[d])) for d in range(D)]):
            pts.add(tuple(P @ (np.array(idx) * st)))
        return len(pts)
    total = 1
    for r in range(R):
        total *= _distinct(tuple((int(P[r, d] * st[d]), int(sfs[d])) for d in range(D) if P[r, d] and sfs[d] > 1))
    return total
