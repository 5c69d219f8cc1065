"""Vectorised evaluation of many mappings of one problem on one architecture (NumPy).

The same model as :func:`cimscope.model.evaluate` (``analysis.py`` -> ``tiling.py`` -> ``cost.py``),
written over arrays of candidates:

* tiles, partition sizes, replication and fanouts from cumulative products of the factors;
* each child's delta stream by the same stride-state dynamic programme as ``analysis.stream_total``
  (closed form ``full tile x product of the bounds from the innermost relevant loop outwards`` for data
  spaces whose ranks are single dimensions, which is what the DP reduces to for them);
* multicast/reduction classes = distinct projected offsets of the spatial children;
* bypass masking, read-modify-write, vector accesses, energy, leakage, bandwidth-limited cycles.

Not modelled here: link transfers between spatial neighbours (the exact ``evaluate`` models them; the
mapper re-evaluates its best candidates with it). For mappings without link transfers the two agree
exactly (``tests/test_model_fast.py``).

A batch is given in array form (:class:`Batch`): temporal and spatial factors ``[N, L, D]`` with levels
innermost first, temporal permutations ``[N, L, D]`` (dimension indices, innermost first), keep masks
``[N, L, S]`` and X/Y split information for validity.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np

from cimscope import ir
from cimscope.errors import MappingError
from cimscope.model.analysis import stationary_keeps_stride
from cimscope.model.cost import (COMPUTE_ACTIONS, FILL_ACTIONS, READ_ACTIONS, UPDATE_ACTIONS, action_energy,
                                 cluster_size)
from cimscope.model.nest import coefficient, hardware_fanouts, min_utilization
from cimscope.model.streams import box_size, extents, multicast_classes, stream_totals
from cimscope.timeloop.parsing import perm_list


@dataclass
class Batch:
    tf: np.ndarray           # [N, L, D] temporal factors (levels innermost first)
    sf: np.ndarray           # [N, L, D] spatial factors
    tperm: np.ndarray        # [N, L, D] dimension index of the i-th temporal loop (innermost first)
    keep: np.ndarray         # [N, L, S] bool
    sx: Optional[np.ndarray] = None    # [N, L] product of spatial factors along X (validity only)
    sy: Optional[np.ndarray] = None    # [N, L] along Y

    @property
    def n(self) -> int:
        return self.tf.shape[0]


@dataclass
class Static:
    """Problem and architecture data shared by every candidate."""

    dims: list[str]
    sizes: np.ndarray                    # [D]
    ds_names: list[str]
    P: list[np.ndarray]                  # per data space: [R, D] coefficient matrix
    multi: list[bool]                    # data space has a rank with two or more terms
    rw: np.ndarray                       # [S] bool
    levels: list[ir.Level]               # innermost first
    fx: np.ndarray                       # [L] hardware fanout along X below each level
    fy: np.ndarray
    inst: np.ndarray                     # [L] instances
    eff: np.ndarray                      # [L] effective capacity (words per instance; inf for unbounded)
    min_used: np.ndarray                 # [L] words the kept tiles must fill (min_utilization x eff; 0 if none)
    block: np.ndarray                    # [L]
    er: np.ndarray                       # [L] pJ per vector read
    ef: np.ndarray                       # fill
    eu: np.ndarray                       # update
    leak: np.ndarray                     # [L] pJ per instance per cycle
    rbw: np.ndarray                      # [L] words/cycle/instance (inf: unlimited)
    wbw: np.ndarray
    sbw: np.ndarray
    ec: float                            # pJ per compute
    comp_inst: int
    clusters: np.ndarray                 # [L] instances / cluster_size
    full_size: np.ndarray                # [S] whole tensor sizes
    arch_keep: np.ndarray                # [L, S] forced keep
    arch_bypass: np.ndarray              # [L, S] forced bypass
    keep_stride: bool = True             # a stationary step keeps the stride state (analysis.stationary_keeps_stride)


def make_static(problem: ir.Problem, arch: ir.Arch) -> Static:
    dims = list(problem.dims)
    didx = {d: i for i, d in enumerate(dims)}
    P, multi = [], []
    for t in problem.dataspaces:
        M = np.zeros((len(t.projection), len(dims)), dtype=np.int64)
        mt = False
        for r, rank in enumerate(t.projection):
            if len(rank) > 1:
                mt = True
            for d, c in rank:
                M[r, didx[d]] += coefficient(problem, c, f"problem {problem.name}")
        P.append(M)
        multi.append(mt)
    levels = list(reversed(arch.levels))
    L = len(levels)
    fxy = np.array(hardware_fanouts(arch), dtype=np.int64).reshape(L, 2)
    fx, fy = fxy[:, 0].copy(), fxy[:, 1].copy()

    def e(lv, names):
        v = action_energy(lv.action_energy_pJ or {}, names)
        return 0.0 if v is None else v

    eff = np.array([np.inf if lv.depth is None else
                    np.floor(lv.depth * lv.block_size / max(lv.multiple_buffering, 1e-12)) for lv in levels])
    min_used = np.array([0.0 if lv.depth is None else float(e) * min_utilization(lv) for lv, e in zip(levels, eff)])
    ds_names = [t.name for t in problem.dataspaces]
    ak = np.zeros((L, len(ds_names)), dtype=bool)
    ab = np.zeros((L, len(ds_names)), dtype=bool)
    for s, lv in enumerate(levels):
        for i, n in enumerate(ds_names):
            ak[s, i] = bool(lv.keep and n in lv.keep)
            ab[s, i] = bool(lv.bypass and n in lv.bypass)
    sizes = np.array([problem.dims[d] for d in dims], dtype=np.int64)
    full = np.array([int(np.prod(M @ (sizes - 1) + 1)) for M in P], dtype=np.float64)
    inf = np.inf
    return Static(
        dims=dims, sizes=sizes, ds_names=ds_names, P=P, multi=multi,
        rw=np.array([t.read_write for t in problem.dataspaces], dtype=bool), levels=levels, fx=fx, fy=fy,
        inst=np.array([lv.instances for lv in levels], dtype=np.int64), eff=eff, min_used=min_used,
        block=np.array([lv.block_size for lv in levels], dtype=np.float64),
        er=np.array([e(lv, READ_ACTIONS) for lv in levels]), ef=np.array([e(lv, FILL_ACTIONS) for lv in levels]),
        eu=np.array([e(lv, UPDATE_ACTIONS) for lv in levels]),
        leak=np.array([float((lv.action_energy_pJ or {}).get("leak", 0.0)) for lv in levels]),
        rbw=np.array([inf if lv.read_bandwidth is None else lv.read_bandwidth for lv in levels]),
        wbw=np.array([inf if lv.write_bandwidth is None else lv.write_bandwidth for lv in levels]),
        sbw=np.array([inf if lv.shared_bandwidth is None else lv.shared_bandwidth for lv in levels]),
        ec=e(arch.compute, COMPUTE_ACTIONS), comp_inst=arch.compute.instances,
        clusters=np.array([lv.instances // cluster_size(lv) for lv in levels], dtype=np.int64),
        full_size=full, arch_keep=ak, arch_bypass=ab, keep_stride=stationary_keeps_stride(arch))


def batch_from_mappings(problem: ir.Problem, arch: ir.Arch, mappings: Sequence[ir.Mapping]) -> Batch:
    dims = list(problem.dims)
    didx = {d: i for i, d in enumerate(dims)}
    ds_names = [t.name for t in problem.dataspaces]
    levels = list(reversed(arch.levels))
    N, L, D, S = len(mappings), len(levels), len(dims), len(ds_names)
    tf = np.ones((N, L, D), dtype=np.int64)
    sf = np.ones((N, L, D), dtype=np.int64)
    tp = np.tile(np.arange(D), (N, L, 1))
    keep = np.ones((N, L, S), dtype=bool)
    sx = np.ones((N, L), dtype=np.int64)
    sy = np.ones((N, L), dtype=np.int64)
    for n, m in enumerate(mappings):
        by = {lm.target: lm for lm in m.levels}
        for s, lv in enumerate(levels):
            lm = by.get(lv.name)
            if lm is None:
                continue
            bad = [d for d in list(lm.temporal_factors) + list(lm.spatial_factors or {}) if d not in didx]
            if bad:
                raise MappingError(f"mapping, level {lv.name}: unknown dimension {bad[0]!r}; dimensions are "
                                   f"{', '.join(dims)}")
            for d, v in lm.temporal_factors.items():
                tf[n, s, didx[d]] = int(v)
            for d, v in (lm.spatial_factors or {}).items():
                sf[n, s, didx[d]] = int(v)
            tp[n, s] = [didx[d] for d in perm_list(lm.temporal_permutation, dims)]
            split = lm.spatial_split if lm.spatial_split is not None else D
            sp = perm_list(lm.spatial_permutation, dims)
            for i, d in enumerate(sp):
                v = int((lm.spatial_factors or {}).get(d, 1))
                if i < split:
                    sx[n, s] *= v
                else:
                    sy[n, s] *= v
            for i, name in enumerate(ds_names):
                if lv.bypass and name in lv.bypass:
                    keep[n, s, i] = False
                if lm.bypass and name in lm.bypass:
                    keep[n, s, i] = False
                if lm.keep and name in lm.keep:
                    keep[n, s, i] = True
    return Batch(tf=tf, sf=sf, tperm=tp, keep=keep, sx=sx, sy=sy)


# ---------------------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------------------

def _geometry(st: Static, b: Batch) -> dict[str, Any]:
    """Extents, replication, cycles, tile sizes and the fanout/capacity validity of every candidate."""
    N, L, D, S = b.n, len(st.levels), len(st.dims), len(st.ds_names)
    tf, sf = b.tf.astype(np.int64), b.sf.astype(np.int64)
    f = tf * sf
    E = extents(f)                                              # [N, L, D] extents at each boundary
    E_below = np.concatenate([np.ones((N, 1, D), dtype=np.int64), E[:, :-1]], axis=1)
    valid = np.all(np.prod(f, axis=1) == st.sizes[None, :], axis=1)
    fan = np.prod(sf, axis=2)                                  # [N, L]
    repl = np.ones((N, L), dtype=np.int64)
    for s in range(L - 2, -1, -1):
        repl[:, s] = repl[:, s + 1] * fan[:, s + 1]
    comp_inst = repl[:, 0] * fan[:, 0]
    if b.sx is not None:
        valid &= np.all((b.sx <= st.fx[None, :]) & (b.sy <= st.fy[None, :]), axis=1)
    valid &= np.all(fan <= (st.fx * st.fy)[None, :], axis=1)
    valid &= np.all(repl <= st.inst[None, :], axis=1) & (comp_inst <= st.comp_inst)
    keep = b.keep.copy()
    keep &= ~st.arch_bypass[None]
    keep |= st.arch_keep[None]
    size = np.zeros((N, L, S))
    for d in range(S):
        size[:, :, d] = box_size(st.P[d], E)
    used = (size * keep).sum(axis=2)
    valid &= np.all(used <= st.eff[None, :], axis=1) & np.all(used >= st.min_used[None, :], axis=1)
    valid &= keep.any(axis=1).all(axis=1)
    # Temporal loops per level in nest order: dims, bounds, strides [N, L, D].
    return {"N": N, "L": L, "tf": tf, "sf": sf, "E": E, "E_below": E_below, "E_spat": E_below * sf, "fan": fan,
            "repl": repl, "comp_inst": comp_inst, "cycles_c": np.prod(tf.reshape(N, -1), axis=1).astype(np.float64),
            "valid": valid, "keep": keep, "size": size, "used": used, "ldim": b.tperm,
            "lb": np.take_along_axis(tf, b.tperm, axis=2), "lst": np.take_along_axis(E_below * sf, b.tperm, axis=2)}


def _deltas(st: Static, g: dict[str, Any], d: int) -> tuple[np.ndarray, np.ndarray]:
    """Per level [N, L]: accesses from below by multicast class (T) and per child (W) of data space d."""
    N, L, Pm = g["N"], g["L"], st.P[d]
    T = np.zeros((N, L))
    W = np.zeros((N, L))
    for s in range(L):
        if s == 0:
            delta = g["cycles_c"]
        else:
            delta = stream_totals(Pm, st.multi[d], g["E"][:, s - 1], g["lb"][:, s:].reshape(N, -1),
                                  g["ldim"][:, s:].reshape(N, -1), g["lst"][:, s:].reshape(N, -1),
                                  st.keep_stride)
        T[:, s] = multicast_classes(Pm, g["sf"][:, s], g["E_below"][:, s]) * delta
        W[:, s] = g["fan"][:, s] * delta
    return T, W


def _dataspace_counts(st: Static, g: dict[str, Any], d: int) -> tuple[np.ndarray, ...]:
    """(reads, fills, updates, alive) [N, L] of data space d after bypass masking (tiling.collapse, vectorised,
    without link transfers)."""
    N, L, fan = g["N"], g["L"], g["fan"]
    T, W = _deltas(st, g, d)
    content = T.copy()
    sz = g["size"][:, :, d]
    spat_size = box_size(st.P[d], g["E_spat"])                  # [N, L]
    part = np.zeros((N, L))
    p = sz[:, L - 1].copy()
    part[:, L - 1] = p
    for s in range(L - 2, -1, -1):
        denom = np.where(fan[:, s + 1] > 1, spat_size[:, s + 1], sz[:, s])
        p = np.floor(p * sz[:, s] / np.maximum(denom, 1))
        part[:, s] = p
    share = np.zeros((N, L))
    share[:, :L - 1] = W[:, 1:] / fan[:, 1:]
    kp = g["keep"][:, :, d]
    alive = np.ones((N, L), dtype=bool)
    for s in range(L):
        m = ~kp[:, s] & alive[:, s]
        if s == L - 1:
            alive[m, s] = False
            break
        fac = np.where(W[:, s + 1] > 0, content[:, s] * fan[:, s + 1] / np.where(W[:, s + 1] > 0, W[:, s + 1], 1), 0)
        T[:, s + 1] = np.where(m, T[:, s + 1] * fac, T[:, s + 1])
        W[:, s + 1] = np.where(m, W[:, s + 1] * fac, W[:, s + 1])
        content[:, s + 1] = np.where(m, T[:, s + 1], content[:, s + 1])
        alive[m, s] = False
    top_done = np.zeros(N, dtype=bool)
    for s in range(L - 1, -1, -1):
        alive[~kp[:, s] & ~top_done, s] = False
        first = kp[:, s] & ~top_done
        share[first, s] = 0.0
        top_done |= first
    if st.rw[d]:
        outer_alive = np.where(alive.any(axis=1), L - 1 - np.argmax(alive[:, ::-1], axis=1), -1)
        upd = np.round(content)
        rd = np.maximum(np.round(content - part), 0)
        fl = np.where(outer_alive[:, None] == np.arange(L)[None, :], np.round(share),
                      np.maximum(np.round(share - part), 0))
    else:
        upd, rd, fl = np.zeros((N, L)), np.round(content), share
    return np.where(alive, rd, 0), np.where(alive, fl, 0), np.where(alive, upd, 0), alive


def _costs(st: Static, g: dict[str, Any], reads, fills, updates, alive) -> dict[str, np.ndarray]:
    """Energy (vector accesses, cluster utilization, leakage of the utilized instances, computes) and cycles
    (bandwidth throttling), as in cost.build_result."""
    N, repl, cycles_c, valid = g["N"], g["repl"], g["cycles_c"], g["valid"]
    blk = st.block[None, :, None]

    def vec(x):
        q = x / blk
        return np.where(np.abs(q - np.round(q)) < 1e-9, np.round(q), np.ceil(q))

    rep = repl[:, :, None].astype(np.float64)
    clusters = st.clusters[None, :, None].astype(np.float64)
    cu = np.where(clusters > 0, rep / np.minimum(rep, np.maximum(clusters, 1)), 1.0)
    per_inst = (vec(reads) * st.er[None, :, None] + vec(fills) * st.ef[None, :, None]
                + vec(updates) * st.eu[None, :, None]) / cu
    dyn = (per_inst * rep).sum(axis=2)                          # [N, L]
    cc = np.maximum(cycles_c, 1)[:, None]
    rd_dem = np.zeros((N, len(st.levels)))
    wr_dem = np.zeros((N, len(st.levels)))
    for s in range(reads.shape[2]):            # Timeloop's double arithmetic (cost.demand): per data space, summed
        rd_dem = rd_dem + reads[:, :, s] / cc
        wr_dem = wr_dem + (fills[:, :, s] + updates[:, :, s]) / cc
    slow = np.ones((N, len(st.levels)))
    with np.errstate(divide="ignore", invalid="ignore"):
        for dem, cap in ((rd_dem, st.rbw), (wr_dem, st.wbw), (wr_dem + rd_dem, st.sbw)):
            lim = np.where(dem > cap[None, :], cap[None, :] / np.where(dem > 0, dem, 1), 1.0)
            slow = np.minimum(slow, lim)
    lvl_cycles = np.ceil(cycles_c[:, None] / slow)             # cost.level_cycles: no tolerance, as Timeloop
    cycles = np.maximum(cycles_c, lvl_cycles.max(axis=1))
    leaking = np.where(alive.any(axis=2), repl, 1)
    leak = st.leak[None, :] * cycles[:, None] * leaking
    computes = cycles_c * g["comp_inst"]
    e_comp = computes * st.ec
    e_lvl = dyn + leak
    energy = np.where(valid, e_lvl.sum(axis=1) + e_comp, np.inf)
    cyc = np.where(valid, cycles, np.inf)
    return {
        "valid": valid, "energy_pJ": energy, "cycles": cyc, "edp": energy * cyc,
        "computes": computes.astype(np.float64), "utilization": np.where(valid, computes / (cycles * st.comp_inst), 0.0),
        "energy_pJ_per_level": np.concatenate([e_comp[:, None], e_lvl], axis=1),   # compute, then innermost first
        "reads": reads * rep, "fills": fills * rep, "updates": updates * rep, "tile_words": g["size"],
        "capacity_used": g["used"],
    }


def evaluate_batch(st: Static, b: Batch) -> dict[str, np.ndarray]:
    """The builtin model over a batch of candidates: validity, accesses per level and data space, energy and
    cycles (no link transfers)."""
    g = _geometry(st, b)
    shape = (g["N"], g["L"], len(st.ds_names))
    reads, fills, updates, alive = (np.zeros(shape), np.zeros(shape), np.zeros(shape), np.zeros(shape, dtype=bool))
    for d in range(len(st.ds_names)):
        reads[:, :, d], fills[:, :, d], updates[:, :, d], alive[:, :, d] = _dataspace_counts(st, g, d)
    return _costs(st, g, reads, fills, updates, alive)


def evaluate_many(problem: ir.Problem, arch: ir.Arch, mappings, *, static: Optional[Static] = None
                  ) -> dict[str, np.ndarray]:
    """Score many mappings at once. ``mappings`` is a list of :class:`ir.Mapping` or a :class:`Batch`.

    Returns arrays over candidates: ``valid`` (fits capacity, fanout, instances; factors multiply to the
    dimensions), ``energy_pJ``, ``cycles``, ``edp`` (pJ x cycles; inf when invalid), ``computes``,
    ``utilization``, ``energy_pJ_per_level`` [N, 1 + L] (compute level first, then storage levels innermost
    first), and ``reads``/``fills``/``updates``/``tile_words`` [N, L, S] (totals over instances; tile words
    per instance).
    """
    st = static or make_static(problem, arch)
    b = mappings if isinstance(mappings, Batch) else batch_from_mappings(problem, arch, list(mappings))
    return evaluate_batch(st, b)
