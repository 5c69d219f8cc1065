"""Nest analysis with Timeloop's semantics (loop-analysis/nest-analysis.cpp), written from its definitions.

What Timeloop computes, and what this module reproduces:

* **Tiles.** At each storage level's boundary loop the working set of a data space is the axis-aligned
  hyper-rectangle (AAHR) spanned by the projection of the operation-space box of all loops inside it:
  per rank ``extent = sum(coef * (extent_dim - 1)) + 1`` (sliding windows such as ``P + R`` included).
* **Deltas.** Each time a child tile is (re)visited, the parent supplies ``new tile - previous tile``. The
  stride state is the last translation vector (OperationSpace::SaveAndSubtractIfSameStride): with none
  recorded or the same one, a move that overlaps the old tile along exactly one rank yields only the new slab
  (otherwise the whole tile) and records the translation; a different translation re-fetches the whole tile
  and clears the record ("reset on stride change"). A visit that does not move the tile delivers nothing and
  keeps the record, so the overlap of convolution windows is reused across e.g. an output-channel loop (the
  rule since NVlabs/timeloop PR #297, Jan 2025; real timeloop-model 4cf6d4c). Timeloop before that PR
  recorded the zero move and re-fetched the whole tile at the next move (the stored outputs of the public
  exercises, e.g. 06 shared_glb Inputs fills 573,440 vs 475,136 now); an architecture with the attribute
  ``timeloop_translation_rule: pre-pr297`` gets that rule (:func:`stationary_keeps_stride`).
* **Temporal extrapolation.** Timeloop does not walk every iteration: a temporal loop of bound n runs
  iteration 0 and iteration 1, the latter standing for n-1 iterations ("epochs"). The visits of a child
  tile therefore form a binary-counting sequence over the non-trivial temporal loops above it, leaf
  weights being products of (1 or n-1), and the state carried from one visit to the next is that of
  iteration 1, not of the true last iteration. ``stream_total`` sums this sequence exactly by dynamic
  programming over the stride state; ``iter_stream`` enumerates it leaf by leaf.
* **Spatial fanout.** Children of a spatial group whose deltas are equal are served by one multicast
  access (data spaces not indexed by a spatial loop are multicast, partial sums are spatially reduced);
  the accesses are recorded per multicast factor. Children whose delta equals a physical neighbour's delta
  of the previous step may take it over a link instead (``link transfers``), which Timeloop uses when it
  lowers the accesses to the parent. Link transfers need the visit sequence leaf by leaf; above
  ``MAX_LEAVES`` visits they are skipped and a warning is recorded.
* **Compute.** The innermost storage level is read once per operand per compute (no reuse modelled at
  the operand boundary); with a spatial fanout to the compute units each unit's delta is its operand
  point.

All counts are per instance of the level (Timeloop averages over the instances it samples; with perfect
factorization every instance is identical).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from itertools import product
from typing import Iterator, Optional

import numpy as np

from cimscope.errors import InputError
from cimscope.model.nest import Nest

MAX_LEAVES = 1 << 14


# ---------------------------------------------------------------------------------------------------------
# Stride state machine (AAHR delta with reset-on-stride-change)
# ---------------------------------------------------------------------------------------------------------

def transition(v: tuple[int, ...], E: tuple[int, ...], state: int, tid: int = 1, keep: bool = True
               ) -> tuple[int, int, int, int]:
    """Delta of a tile of rank extents ``E`` moved by ``v`` (rank units), given the stored stride state.

    Returns (kind, size, new_state, rank): kind 0 = empty, 1 = whole tile, 2 = slab along ``rank``.
    States are translations (OperationSpace::SaveAndSubtractIfSameStride): 0 = none recorded, otherwise the id
    ``tid`` of the translation vector ``v`` (equal vectors, equal ids). A zero move delivers nothing and keeps
    the state; with no recorded translation, or the same one, the AAHR difference is taken (a slab when the
    tiles overlap along one rank, else the whole tile) and the translation recorded; a different translation
    re-fetches the whole tile and clears the record ("reset on stride change").

    A step that does not move the tile (e.g. an output channel loop for Inputs) keeps the recorded state
    (``keep``, Timeloop since PR #297: OperationSpace::SaveAndSubtractIfSameStride "[Stationary] Subtract. Do
    not update prev"). With ``keep=False`` (Timeloop before PR #297) it records ``STATIONARY`` and the next move
    re-fetches the whole tile (the exercises' stored outputs: 06 shared_glb Inputs fills 573,440;
    eyeriss_like and simple_output_stationary 157,296)."""
    nz = [r for r, x in enumerate(v) if x != 0]
    full = 1
    for e in E:
        full *= e
    if not nz:
        return 0, 0, (state if keep else STATIONARY), -1
    if state not in (0, tid):
        return 1, full, 0, -1
    if len(nz) == 1 and abs(v[nz[0]]) < E[nz[0]]:
        r = nz[0]
        return 2, abs(v[r]) * (full // E[r]), tid, r
    return 1, full, tid, -1


#: Stride state after a step that did not move the tile, with Timeloop's rule before PR #297 (``transition``).
STATIONARY = -1
#: Architecture attribute naming the Timeloop translation rule (:func:`stationary_keeps_stride`).
TRANSLATION_RULE_KEY = "timeloop_translation_rule"
#: Its values: "pr297" (default; NVlabs/timeloop PR #297 "Translation fix", e.g. master 4cf6d4c) and
#: "pre-pr297" (the Timeloop that wrote the public exercises' stored outputs).
TRANSLATION_RULES = ("pr297", "pre-pr297")


def stationary_keeps_stride(arch) -> bool:
    """True when a step that does not move a tile keeps the recorded translation (Timeloop since PR #297), False
    for the rule before it (``arch.attributes['timeloop_translation_rule'] == 'pre-pr297'``)."""
    rule = str((getattr(arch, "attributes", None) or {}).get(TRANSLATION_RULE_KEY, TRANSLATION_RULES[0]))
    if rule not in TRANSLATION_RULES:
        raise InputError(f"{TRANSLATION_RULE_KEY} {rule!r} is not one of {', '.join(TRANSLATION_RULES)}")
    return rule == TRANSLATION_RULES[0]


def translation_ids(moves: list[tuple[int, ...]]) -> list[int]:
    """Id per move vector (1 + index of its first occurrence; 0 for a zero move)."""
    first: dict[tuple[int, ...], int] = {}
    out = []
    for m in moves:
        m = tuple(int(x) for x in m)
        if not any(m):
            out.append(0)
            continue
        out.append(first.setdefault(m, len(first) + 1))
    return out


def move_vectors(nest: Nest, ds: int, loops: list[int]) -> list[tuple[int, ...]]:
    """Rank-space move of the child tile for a carry into each loop of ``loops`` (inner first): loop k goes
    0 -> 1 and every loop inside it (in ``loops``) goes 1 -> 0."""
    out = []
    nd = len(nest.dims)
    for k, lk in enumerate(loops):
        m = np.zeros(nd, dtype=np.int64)
        m[nest.loops[lk].dim] += nest.strides[lk][nest.loops[lk].dim]
        for li in loops[:k]:
            m[nest.loops[li].dim] -= nest.strides[li][nest.loops[li].dim]
        out.append(nest.project(ds, m))
    return out


def stream_total(nest: Nest, ds: int, loops: list[int], E: tuple[int, ...]) -> int:
    """Sum over Timeloop's (extrapolated) visit sequence of the delta sizes of a tile with rank extents ``E``,
    visited once per leaf of the non-trivial temporal ``loops`` above it (inner first). Exact DP over the
    stride state: F_k(s) = F_{k-1}(s), carry into loop k, F_{k-1}; the second half weighs (n_k - 1)."""
    full = 1
    for e in E:
        full *= e
    moves = move_vectors(nest, ds, loops)
    tids = translation_ids(moves)
    keep = stationary_keeps_stride(nest.arch)
    states = [0, STATIONARY] + sorted(set(t for t in tids if t))
    acc = {s: 0 for s in states}          # F_{k}(s).acc
    out = {s: s for s in states}          # F_{k}(s).out
    for k, lk in enumerate(loops):
        n = nest.loops[lk].bound
        new_acc, new_out = {}, {}
        for s in states:
            a1, s1 = acc[s], out[s]
            _, d, s2, _ = transition(moves[k], E, s1, tids[k], keep)
            a2, s3 = acc[s2], out[s2]
            new_acc[s] = a1 + (n - 1) * (d + a2)
            new_out[s] = s3
        acc, out = new_acc, new_out
    return full + acc[0]


def iter_stream(nest: Nest, loops: list[int]) -> Iterator[tuple[int, int, np.ndarray]]:
    """Leaves of the visit sequence over ``loops`` (inner first): (carry loop position or -1 for the first
    leaf, weight, position of the child tile in problem dimensions)."""
    m = len(loops)
    bounds = [nest.loops[li].bound for li in loops]
    steps = [nest.strides[li] * 0 for li in loops]
    for i, li in enumerate(loops):
        st = np.zeros(len(nest.dims), dtype=np.int64)
        st[nest.loops[li].dim] = nest.strides[li][nest.loops[li].dim]
        steps[i] = st
    idx = [0] * m
    pos = np.zeros(len(nest.dims), dtype=np.int64)
    weight = 1
    yield -1, 1, pos.copy()
    for _ in range((1 << m) - 1):
        k = 0
        while idx[k] == 1:
            idx[k] = 0
            pos -= steps[k]
            weight //= (bounds[k] - 1)
            k += 1
        idx[k] = 1
        pos += steps[k]
        weight *= (bounds[k] - 1)
        yield k, weight, pos.copy()


# ---------------------------------------------------------------------------------------------------------
# Per-level tile information
# ---------------------------------------------------------------------------------------------------------

@dataclass
class LevelTiles:
    """What nest analysis says about one storage level (per instance)."""

    size: list[int]                              # tile size per data space
    spatial_size: Optional[list[int]]            # size of the union box at the spatial loops (if any)
    entries: list[dict[int, float]]              # per data space: multicast factor -> accesses
    link_transfers: list[float]
    replication: int                             # utilized instances of this level
    fanout: int                                  # utilized spatial fanout below this level
    delta_per_child: list[float] = field(default_factory=list)   # per data space, one child's stream

    def total(self, ds: int) -> float:
        return float(sum(self.entries[ds].values()))

    def weighted(self, ds: int) -> float:
        return float(sum(m * a for m, a in self.entries[ds].items()))


@dataclass
class NestStats:
    levels: list[LevelTiles]                      # innermost first
    compute_cycles: int                           # per compute instance
    compute_instances: int                        # utilized
    warnings: list[str] = field(default_factory=list)
    link_transfers_used: bool = False


def _children(nest: Nest, group: list[int]) -> tuple[list[np.ndarray], list[int]]:
    """Offsets (problem dimensions) and mapping-order linear indices of the children of a spatial group."""
    if not group:
        return [np.zeros(len(nest.dims), dtype=np.int64)], [0]
    ranges = [range(nest.loops[g].bound) for g in reversed(group)]       # outer first
    offs, lin = [], []
    for combo in product(*ranges):
        o = np.zeros(len(nest.dims), dtype=np.int64)
        li = 0
        for g, i in zip(reversed(group), combo):
            lp = nest.loops[g]
            o[lp.dim] += i * nest.strides[g][lp.dim]
            li = li * lp.bound + i
        offs.append(o)
        lin.append(li)
    return offs, lin


def _neighbours(lin: list[int], hx: int, vy: int) -> list[list[int]]:
    """Per child (position in ``lin``), positions of its physical mesh neighbours (Timeloop: row-major
    ``v * h_size + h``, no toroidal links)."""
    where = {l: i for i, l in enumerate(lin)}
    out = []
    for l in lin:
        h, v = l % hx, l // hx
        nb = []
        for dh, dv in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            hh, vv = h + dh, v + dv
            if 0 <= hh < hx and 0 <= vv < vy:
                j = where.get(vv * hx + hh)
                if j is not None:
                    nb.append(j)
        out.append(nb)
    return out


def analyse(nest: Nest, *, link_transfers: bool = True) -> NestStats:
    """Run the nest analysis: tile sizes, accesses per multicast factor and link transfers per level."""
    nlev = nest.n_levels
    nds = len(nest.ds_names)
    loops = nest.loops
    temporal_all = [i for i, lp in enumerate(loops) if not lp.spatial and lp.bound > 1]
    compute_cycles = 1
    for i in temporal_all:
        compute_cycles *= loops[i].bound
    compute_instances = 1
    for lp in loops:
        if lp.spatial:
            compute_instances *= lp.bound
    warnings: list[str] = []
    used_lt = False
    levels: list[LevelTiles] = []
    for s in range(nlev):
        b = nest.boundary[s]
        size = [nest.tile_size(d, nest.extents[b]) for d in range(nds)]
        group = nest.spatial_group[s]
        replication = 1
        for i in range(b + 1, len(loops)):
            if loops[i].spatial:
                replication *= loops[i].bound
        fanout = 1
        for g in group:
            fanout *= loops[g].bound
        spatial_size = [nest.tile_size(d, nest.extents[group[-1]]) for d in range(nds)] if group else None
        # One child's stream of deltas.
        if s == 0:
            per_child = [float(compute_cycles)] * nds
            above = temporal_all
            child_E = [tuple([1] * len(nest.projections[d])) for d in range(nds)]
        else:
            cb = nest.boundary[s - 1]
            above = nest.temporal_loops_above(cb)
            child_E = [tuple(nest.rank_extents(d, nest.extents[cb])) for d in range(nds)]
            per_child = [float(stream_total(nest, d, above, child_E[d])) for d in range(nds)]
        entries: list[dict[int, float]] = [dict() for _ in range(nds)]
        lts = [0.0] * nds
        if not group:
            for d in range(nds):
                entries[d][1] = per_child[d]
        else:
            offs, lin = _children(nest, group)
            ranks_off = projected_positions(nest, offs)
            do_lt = link_transfers and len(offs) > 1
            if do_lt and (1 << len(above)) > MAX_LEAVES:
                warnings.append(f"{nest.level_name(s)}: {1 << len(above)} visits exceed {MAX_LEAVES}; "
                                f"link transfers between its {fanout} children were not analysed")
                do_lt = False
            if not do_lt:
                for d in range(nds):
                    for m, cnt in Counter(Counter(ranks_off[d]).values()).items():
                        entries[d][m] = entries[d].get(m, 0.0) + cnt * per_child[d]
            else:
                hx, vy = nest.fanout_xy[s]
                nbrs = _neighbours(lin, hx, vy)
                got = _spatial_stream(nest, s, above, child_E, ranks_off, nbrs)
                for d in range(nds):
                    entries[d] = got[0][d]
                    lts[d] = got[1][d]
                    if lts[d] > 0:
                        used_lt = True
        levels.append(LevelTiles(size=size, spatial_size=spatial_size, entries=entries, link_transfers=lts,
                                 replication=replication, fanout=fanout, delta_per_child=per_child))
    return NestStats(levels=levels, compute_cycles=compute_cycles, compute_instances=compute_instances,
                     warnings=warnings, link_transfers_used=used_lt)


def projected_positions(nest: Nest, positions: list[np.ndarray]) -> list[list[tuple[int, ...]]]:
    """Per data space, :meth:`Nest.project` of each position (problem dimensions), as one integer matrix
    product per data space."""
    if not positions:
        return [[] for _ in nest.ds_names]
    pos = np.array(positions, dtype=np.int64)                      # [V, D]
    out = []
    for ranks in nest.projections:
        M = np.zeros((len(ranks), pos.shape[1]), dtype=np.int64)
        for r, rank in enumerate(ranks):
            for dim, c in rank:
                M[r, dim] += c
        out.append([tuple(row) for row in (pos @ M.T).tolist()])
    return out


def _mesh(nbrs: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Neighbour positions of each child as an array [X, 4] (-1: none) and its validity mask."""
    nb = np.full((len(nbrs), 4), -1, dtype=np.int64)
    for x, js in enumerate(nbrs):
        nb[x, :len(js)] = js
    return nb, nb >= 0


def _link_hits(offs: list[tuple[int, ...]], mesh: tuple[np.ndarray, np.ndarray], shift: tuple[int, ...]
               ) -> tuple[int, Counter]:
    """Children whose next tile (their offset + ``shift``) a mesh neighbour holds now (they receive it over a
    link), and the multicast classes of the others: (count, Counter of class sizes), the classes counted in
    order of first appearance, as ``Counter(Counter(offset of each other child).values())``."""
    nb, valid = mesh
    o = np.array(offs, dtype=np.int64).reshape(len(offs), -1)                 # [X, R]
    want = o + np.array(shift, dtype=np.int64)[None, :]
    got = (o[np.where(valid, nb, 0)] == want[:, None, :]).all(axis=2) & valid      # [X, 4]
    mask = got.any(axis=1)
    rest = [t for t, f in zip(offs, mask.tolist()) if not f]
    return int(mask.sum()), Counter(Counter(rest).values())


def _spatial_stream(nest: Nest, s: int, above: list[int], child_E: list[tuple[int, ...]],
                    ranks_off: list[list[tuple[int, ...]]], nbrs: list[list[int]]
                    ) -> tuple[list[dict[int, float]], list[float]]:
    """Walk the visit sequence of a spatial group leaf by leaf: multicast classes and link transfers."""
    nds = len(nest.ds_names)
    entries: list[dict[int, float]] = [dict() for _ in range(nds)]
    lts = [0.0] * nds
    class_all = []
    for d in range(nds):
        class_all.append(Counter(Counter(ranks_off[d]).values()))
    lt_cache: list[dict] = [dict() for _ in range(nds)]
    mesh = _mesh(nbrs)
    state = [0] * nds
    keep = stationary_keeps_stride(nest.arch)
    tids: list[dict[tuple, int]] = [dict() for _ in range(nds)]
    prev_lo: list[Optional[tuple]] = [None] * nds       # previous tile position (rank space)
    prev_delta: list[Optional[tuple]] = [None] * nds    # previous delta AAHR (lo, hi) of child 0
    prev_shape: list[Optional[tuple]] = [None] * nds    # its extents (hi - lo)
    visits = list(iter_stream(nest, above))
    lows = projected_positions(nest, [pos for _, _, pos in visits])
    for i, (k, w, _) in enumerate(visits):
        for d in range(nds):
            E = child_E[d]
            lo = lows[d][i]
            if s == 0:
                delta = (lo, tuple(x + 1 for x in lo))
                size = 1
            elif prev_lo[d] is None:
                delta = (lo, tuple(x + e for x, e in zip(lo, E)))
                size = 1
                for e in E:
                    size *= e
                state[d] = 0
            else:
                v = tuple(a - b for a, b in zip(lo, prev_lo[d]))
                tid = tids[d].setdefault(v, len(tids[d]) + 1) if any(v) else 0
                kind, size, state[d], r = transition(v, E, state[d], tid, keep)
                if kind == 0:
                    delta = None
                elif kind == 1:
                    delta = (lo, tuple(x + e for x, e in zip(lo, E)))
                else:
                    dlo = list(lo)
                    dhi = [x + e for x, e in zip(lo, E)]
                    if v[r] > 0:
                        dlo[r] = lo[r] + E[r] - v[r]
                    else:
                        dhi[r] = lo[r] - v[r]
                    delta = (tuple(dlo), tuple(dhi))
            prev_lo[d] = lo
            pd, pshape = prev_delta[d], prev_shape[d]
            prev_delta[d] = delta
            prev_shape[d] = shape = None if delta is None else tuple(h - l for l, h in zip(*delta))
            if delta is None or size == 0:
                continue
            classes = class_all[d]
            n_all = sum(classes.values())
            use = classes
            if pd is not None and pshape == shape:
                shift = tuple(a - b for a, b in zip(delta[0], pd[0]))
                hit = lt_cache[d].get(shift)
                if hit is None:
                    hit = lt_cache[d][shift] = _link_hits(ranks_off[d], mesh, shift)
                n_lt, rem = hit
                if n_lt and sum(rem.values()) < n_all:
                    use = rem
                    lts[d] += size * w * n_lt
            for m, cnt in use.items():
                entries[d][m] = entries[d].get(m, 0.0) + cnt * size * w
    return entries, lts
