"""From per-level tile information to reads, fills and updates (Timeloop loop-analysis/tiling.cpp, legacy
read-modify-write path with first-read elision, which is timeloop-model's default).

Per data space, levels innermost first:

* ``partition_size``: the outermost level holds the whole tile; an inner level's partition is its parent's
  partition times ``size / denominator``, the denominator being the parent's spatial union tile when the
  parent fans out spatially, else the level's own size (integer arithmetic, as in Timeloop).
* ``parent_access_share`` = sum over the parent's access records of ``accesses x multicast / fanout`` (the
  share of the parent's traffic that fills one child instance), computed before bypass masking.
* bypass masking: a bypassed level disappears; the next kept level above inherits its children's access
  rate: its records are scaled by ``content_accesses(bypassed) x fanout(kept) / weighted_accesses(kept)``.
  Outermost bypassed levels are dropped and the first kept level gets no fills.
* link transfers at a level give its children ``link_transfers / replication(child)`` extra reads and
  fills (peer accesses).
* read-only data: ``reads = content_accesses + peer``, ``fills = parent_access_share + peer fills``.
* read-write data (partial sums): ``updates = content_accesses``; ``reads = temporal_reductions =
  content + peer - partition_size`` (the first update of each element reads nothing);
  ``fills = parent_access_share + peer fills - partition_size`` except at the outermost kept level.
"""
from __future__ import annotations

from dataclasses import dataclass

from cimscope.model.analysis import NestStats
from cimscope.model.nest import Nest


@dataclass
class TileCounts:
    """Final per-instance counts of one data space at one storage level."""

    kept: bool
    size: int
    partition_size: int
    reads: float
    fills: float
    updates: float
    temporal_reductions: float
    replication: int
    content_accesses: float
    parent_access_share: float
    link_transfers: float
    peer_accesses: float
    peer_fills: float

    rw: bool = False

    @property
    def address_generations(self) -> float:
        return self.reads + self.fills if not self.rw else self.updates + self.fills


def collapse(nest: Nest, stats: NestStats) -> list[list[TileCounts]]:
    """Counts per [level][data space] (levels innermost first)."""
    nlev = nest.n_levels
    nds = len(nest.ds_names)
    out: list[list[TileCounts]] = [[None] * nds for _ in range(nlev)]   # type: ignore[list-item]
    for d in range(nds):
        size = [stats.levels[s].size[d] for s in range(nlev)]
        entries = [dict(stats.levels[s].entries[d]) for s in range(nlev)]
        fanout = [stats.levels[s].fanout for s in range(nlev)]
        lt = [stats.levels[s].link_transfers[d] for s in range(nlev)]
        repl = [stats.levels[s].replication for s in range(nlev)]
        content = [float(sum(e.values())) for e in entries]
        part = _partition_sizes(stats, d, size)
        # Parent access share (before masking).
        share = [0.0] * nlev
        for s in range(nlev - 1):
            share[s] = sum(a * m for m, a in entries[s + 1].items()) / fanout[s + 1]
        # Bypass masking.
        kept = [nest.keep[s][d] for s in range(nlev)]
        alive = [True] * nlev
        for s in range(nlev):
            if kept[s] or not alive[s]:
                continue
            outer = next((o for o in range(s + 1, nlev) if alive[o]), None)
            if outer is None:
                alive[s] = False
                size[s] = part[s] = 0
                content[s] = share[s] = 0.0
                break
            w = sum(a * m for m, a in entries[outer].items())
            factor = (content[s] * fanout[outer] / w) if w else 0.0
            entries[outer] = {m: a * factor for m, a in entries[outer].items()}
            lt[outer] = 0.0
            content[outer] = float(sum(entries[outer].values()))
            alive[s] = False
            size[s] = part[s] = 0
            content[s] = share[s] = 0.0
        for s in range(nlev - 1, -1, -1):            # outermost bypassed levels
            if not kept[s]:
                alive[s] = False
                size[s] = part[s] = 0
                content[s] = share[s] = 0.0
                lt[s] = 0.0
            else:
                share[s] = 0.0
                break
        # Peer accesses from link transfers.
        peer_acc = [0.0] * nlev
        peer_fill = [0.0] * nlev
        for s in range(nlev - 1, 0, -1):
            if lt[s] and alive[s - 1]:
                per = lt[s] // max(1, repl[s - 1])
                peer_acc[s - 1] += per
                peer_fill[s - 1] += per
        outermost_alive = max((s for s in range(nlev) if alive[s]), default=-1)
        rw = nest.read_write[d]
        for s in range(nlev):
            if not alive[s]:
                out[s][d] = TileCounts(False, 0, 0, 0.0, 0.0, 0.0, 0.0, repl[s], 0.0, 0.0, 0.0, 0.0, 0.0, rw)
                continue
            reads, fills, updates, tr = _access_counts(rw, content[s], share[s], part[s], peer_acc[s],
                                                       peer_fill[s], s == outermost_alive)
            out[s][d] = TileCounts(True, size[s], part[s], reads, fills, updates, tr, repl[s], content[s],
                                   share[s], lt[s], peer_acc[s], peer_fill[s], rw)
    return out


def _partition_sizes(stats: NestStats, d: int, size: list[int]) -> list[int]:
    """Partition size of data space d per level (top-down: a level's share of its parent's tile)."""
    nlev = len(size)
    part = [0] * nlev
    p = size[nlev - 1]
    part[nlev - 1] = p
    for s in range(nlev - 2, -1, -1):
        parent_spatial = stats.levels[s + 1].spatial_size
        denom = parent_spatial[d] if parent_spatial is not None else size[s]
        if denom:
            p = (p * size[s]) // denom
        part[s] = p
    return part


def _access_counts(rw: bool, content: float, share: float, part: int, peer_acc: float, peer_fill: float,
                   outermost: bool) -> tuple[float, float, float, float]:
    """(reads, fills, updates, temporal reductions) per instance of a kept level; read-modify-write for partial
    sums (the first update reads nothing; the outermost kept level is not filled with the partition)."""
    if not rw:
        return float(round(content + peer_acc)), share + peer_fill, 0.0, 0.0
    updates = float(round(content))
    reads = float(round(content + peer_acc - part))
    fills = float(round(share + peer_fill)) if outermost else float(round(share + peer_fill - part))
    return max(reads, 0.0), max(fills, 0.0), updates, max(reads, 0.0)
