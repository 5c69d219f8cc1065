"""The loop nest of one (problem, architecture, mapping), as Timeloop builds it.

Timeloop's nest (mapping/parser.cpp, loop-analysis/nest-analysis.cpp) lists loops innermost first. Each
storage level contributes, innermost first, its spatial loops (the fanout to its children, X loops before
Y loops) and then its temporal loops, each in its permutation order; loops of bound 1 are dropped, and a
level without any non-trivial temporal loop gets one trivial temporal loop so it still has a tiling
boundary (its outermost loop). Storage levels are numbered innermost first here (level 0 feeds the
compute units); ``ir.Arch.levels`` lists them outermost first.

Validation raises :class:`MappingError` naming the level (and dimension or data space) at fault: factors
that do not multiply to the dimension, spatial factors above a level's fanout (in total, along X or along
Y), keep/bypass directives that contradict the architecture's constraints, or a data space kept nowhere.
Capacity is checked after tile sizes are known (see ``cimscope.model.evaluate``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from cimscope import ir
from cimscope.errors import InputError, MappingError
from cimscope.timeloop.parsing import perm_list


@dataclass(frozen=True)
class Loop:
    dim: int                 # index into Nest.dims
    bound: int
    level: int               # storage level, innermost = 0
    axis: Optional[str]      # None for temporal, "X" or "Y" for spatial

    @property
    def spatial(self) -> bool:
        return self.axis is not None


@dataclass
class Nest:
    problem: ir.Problem
    arch: ir.Arch
    mapping: ir.Mapping
    dims: list[str]
    sizes: list[int]
    ds_names: list[str]
    projections: list[list[list[tuple[int, int]]]]       # per data space, per rank: (dim index, coefficient)
    read_write: list[bool]
    storage: list[ir.Level]                             # innermost first
    loops: list[Loop]                                    # innermost first
    boundary: list[int]                                  # per level: index of its outermost loop
    block_start: list[int]                               # per level: index of its innermost loop
    spatial_group: list[list[int]]                       # per level: its spatial loop indices (inner first)
    keep: list[list[bool]]                               # [level][data space]
    fanout_xy: list[tuple[int, int]]                     # per level: hardware fanout along X, Y
    strides: np.ndarray = field(repr=False, default=None)   # [loop, dim]: product of bounds of inner loops
    extents: np.ndarray = field(repr=False, default=None)   # [loop, dim]: product of bounds of loops <= this

    @property
    def n_levels(self) -> int:
        return len(self.storage)

    def level_name(self, s: int) -> str:
        return self.storage[s].name

    def temporal_loops_above(self, index: int) -> list[int]:
        """Indices of the non-trivial temporal loops outside loop ``index`` (inner first)."""
        return [i for i in range(index + 1, len(self.loops))
                if not self.loops[i].spatial and self.loops[i].bound > 1]

    def rank_extents(self, ds: int, dim_extents: np.ndarray) -> list[int]:
        """AAHR extent of each rank of data space ``ds`` for a box with the given per-dimension extents."""
        out = []
        for rank in self.projections[ds]:
            out.append(int(sum(c * (int(dim_extents[d]) - 1) for d, c in rank) + 1))
        return out

    def project(self, ds: int, point: np.ndarray) -> tuple[int, ...]:
        return tuple(int(sum(c * int(point[d]) for d, c in rank)) for rank in self.projections[ds])

    def tile_size(self, ds: int, dim_extents: np.ndarray) -> int:
        n = 1
        for e in self.rank_extents(ds, dim_extents):
            n *= e
        return n


def coefficient(problem: ir.Problem, c, where: str) -> int:
    if isinstance(c, str):
        if c not in problem.coefficients:
            raise InputError(f"{where}: coefficient {c!r} has no value; coefficients are "
                             f"{', '.join(problem.coefficients) or '(none)'}")
        return int(problem.coefficients[c])
    return int(c)


def _perm(text: str, dims: list[str], where: str) -> list[str]:
    try:
        return perm_list(text or "", dims)
    except InputError as exc:
        raise MappingError(f"{where}: {exc}") from None


def min_utilization(lv: ir.Level) -> float:
    """The ``min_utilization`` attribute of a level (fraction of its effective size the kept tiles must fill;
    Timeloop's default 0)."""
    a = lv.attributes or {}
    v = a.get("min_utilization", a.get("min-utilization"))
    return float(v) if v is not None else 0.0


def hardware_fanouts(arch: ir.Arch) -> list[tuple[int, int]]:
    """Per storage level, innermost first: the hardware fanout to its children along X and Y.

    Timeloop (mapping/arch-properties.cpp, DeriveFanouts): fanout X = meshX(child) / meshX(level), likewise
    Y. A level whose mesh does not describe its instances (meshX x meshY != instances, e.g. an ir.Level built
    in code with the default 1 x 1 mesh) gets its whole fanout ``instances(child) / instances(level)`` along
    X. Raises InputError when a child's instances are not a multiple of its parent's (the fanout would not be
    a whole number; Timeloop rejects such an architecture)."""
    storage = list(reversed(arch.levels))
    out = []
    for s, lv in enumerate(storage):
        child = arch.compute if s == 0 else storage[s - 1]
        n, cn = max(1, int(lv.instances)), max(1, int(child.instances))
        if cn % n:
            raise InputError(f"architecture {arch.name!r}: {child.name} has {cn} instances, not a multiple of the "
                             f"{n} instances of {lv.name} above it")
        fx = int(child.mesh_x) // max(1, int(lv.mesh_x))
        fy = int(child.mesh_y) // max(1, int(lv.mesh_y))
        if fx < 1 or fy < 1 or fx * fy != cn // n:
            fx, fy = cn // n, 1
        out.append((fx, fy))
    return out


def _projections(problem: ir.Problem, dims: list[str]) -> list[list[list[tuple[int, int]]]]:
    """Per data space, per rank: (dimension index, coefficient) terms."""
    didx = {d: i for i, d in enumerate(dims)}
    projections = []
    for t in problem.dataspaces:
        ranks = []
        for rank in t.projection:
            terms = []
            for d, c in rank:
                if d not in didx:
                    raise InputError(f"problem {problem.name!r}: data space {t.name} projects dimension {d!r}, "
                                     f"which is not one of {', '.join(dims)}")
                cv = coefficient(problem, c, f"problem {problem.name!r}, data space {t.name}")
                if cv < 0:
                    raise InputError(f"problem {problem.name!r}, data space {t.name}: negative coefficient {cv}")
                terms.append((didx[d], cv))
            ranks.append(terms)
        projections.append(ranks)
    return projections


def _level_factors(problem: ir.Problem, arch: ir.Arch, mapping: ir.Mapping, dims: list[str]) -> list[tuple]:
    """(LevelMapping, temporal factors, spatial factors) per storage level, outermost first; the factors of
    each dimension must multiply to its size."""
    outer_first = list(arch.levels)
    if not outer_first:
        raise MappingError(f"architecture {arch.name!r} has no storage level")
    by_name = {lm.target: lm for lm in mapping.levels}
    unknown = [t for t in by_name if t not in {lv.name for lv in outer_first}]
    if unknown:
        raise MappingError(f"mapping targets unknown level(s) {', '.join(unknown)}; storage levels are "
                           f"{', '.join(lv.name for lv in outer_first)}")
    prod = {d: 1 for d in dims}
    per_level = []
    for lv in outer_first:
        lm = by_name.get(lv.name, ir.LevelMapping(target=lv.name))
        tf = {d: int(lm.temporal_factors.get(d, 1)) for d in dims}
        sf = {d: int((lm.spatial_factors or {}).get(d, 1)) for d in dims}
        for d in list(lm.temporal_factors) + list(lm.spatial_factors or {}):
            if d not in dims:
                raise MappingError(f"mapping, level {lv.name}: unknown dimension {d!r}; dimensions are "
                                   f"{', '.join(dims)}")
        for d in dims:
            if tf[d] < 1 or sf[d] < 1:
                raise MappingError(f"mapping, level {lv.name}: factor of {d} must be >= 1 "
                                   f"(temporal {tf[d]}, spatial {sf[d]})")
            prod[d] *= tf[d] * sf[d]
        per_level.append((lm, tf, sf))
    for d in dims:
        if prod[d] != problem.dims[d]:
            detail = ", ".join(f"{lm.target}: {tf[d]}" + (f"x{sf[d]} spatial" if sf[d] > 1 else "")
                               for lm, tf, sf in per_level if tf[d] * sf[d] > 1) or "all 1"
            raise MappingError(f"mapping: the factors of dimension {d} multiply to {prod[d]}, not to its size "
                               f"{problem.dims[d]} ({detail})")
    return per_level


def _spatial_loops(lv: ir.Level, lm: ir.LevelMapping, sf: dict[str, int], s: int, fanout: tuple[int, int],
                   dims: list[str], loops: list[Loop]) -> list[int]:
    """Append level s's spatial loops (X before Y, by permutation and split) to ``loops``; their indices."""
    group: list[int] = []
    if not any(v > 1 for v in sf.values()):
        return group
    fx, fy = fanout
    if fx * fy <= 1:
        raise MappingError(f"mapping, level {lv.name}: spatial factors "
                           f"{ {d: v for d, v in sf.items() if v > 1} } but {lv.name} has no fanout "
                           f"(its children have as many instances as it has)")
    sperm = _perm(lm.spatial_permutation, dims, f"mapping, level {lv.name} spatial permutation")
    split = lm.spatial_split if lm.spatial_split is not None else len(dims)
    xprod = yprod = 1
    for i, d in enumerate(sperm):
        n = sf[d]
        axis = "X" if i < split else "Y"
        if n > 1:
            group.append(len(loops))
            loops.append(Loop(dims.index(d), n, s, axis))
            if axis == "X":
                xprod *= n
            else:
                yprod *= n
    if xprod * yprod > fx * fy:
        raise MappingError(f"mapping, level {lv.name}: spatial factors use {xprod * yprod} instances "
                           f"below it but its fanout is {fx * fy} ({fx}x{fy})")
    if xprod > fx or yprod > fy:
        raise MappingError(f"mapping, level {lv.name}: spatial factors are {xprod} along X and {yprod} "
                           f"along Y but the fanout is {fx} (X) x {fy} (Y); set 'split' in the "
                           f"spatial directive")
    return group


def _keep_masks(storage: list[ir.Level], per_level: list[tuple], ds_names: list[str]) -> list[list[bool]]:
    """Keep (True) / bypass per level (innermost first) and data space, from the architecture and the mapping."""
    nlev = len(storage)
    keep = [[True] * len(ds_names) for _ in range(nlev)]
    for s, lv in enumerate(storage):
        lm = per_level[nlev - 1 - s][0]
        for src, names, val in (("architecture", lv.keep, True), ("architecture", lv.bypass, False),
                                ("mapping", lm.keep, True), ("mapping", lm.bypass, False)):
            for n in names or []:
                if n not in ds_names:
                    raise MappingError(f"{src}, level {lv.name}: unknown data space {n!r} in "
                                       f"{'keep' if val else 'bypass'}; data spaces are {', '.join(ds_names)}")
        for n in lm.keep or []:
            if lv.bypass and n in lv.bypass:
                raise MappingError(f"mapping, level {lv.name}: keeps {n}, but the architecture bypasses {n} there")
        for n in lm.bypass or []:
            if lv.keep and n in lv.keep:
                raise MappingError(f"mapping, level {lv.name}: bypasses {n}, but the architecture keeps {n} there")
        for i, n in enumerate(ds_names):
            if (lv.bypass and n in lv.bypass) or (lm.bypass and n in lm.bypass):
                keep[s][i] = False
            if lm.keep and n in lm.keep:
                keep[s][i] = True
    for i, n in enumerate(ds_names):
        if not any(keep[s][i] for s in range(nlev)):
            raise MappingError(f"mapping: data space {n} is bypassed at every level "
                               f"({', '.join(lv.name for lv in reversed(storage))}); keep it somewhere")
    return keep


def build_nest(problem: ir.Problem, arch: ir.Arch, mapping: ir.Mapping) -> Nest:
    """Validate ``mapping`` against ``problem`` and ``arch`` and build Timeloop's loop nest."""
    dims = list(problem.dims)
    sizes = [int(problem.dims[d]) for d in dims]
    ds_names = [t.name for t in problem.dataspaces]
    projections = _projections(problem, dims)
    read_write = [bool(t.read_write) for t in problem.dataspaces]
    per_level = _level_factors(problem, arch, mapping, dims)
    storage = list(reversed(arch.levels))
    nlev = len(storage)
    fanout_xy = hardware_fanouts(arch)
    # Loops, innermost first: per level its spatial loops, then its temporal loops in permutation order.
    loops: list[Loop] = []
    boundary: list[int] = []
    block_start: list[int] = []
    spatial_group: list[list[int]] = []
    for s, lv in enumerate(storage):
        lm, tf, sf = per_level[nlev - 1 - s]
        block_start.append(len(loops))
        spatial_group.append(_spatial_loops(lv, lm, sf, s, fanout_xy[s], dims, loops))
        tperm = _perm(lm.temporal_permutation, dims, f"mapping, level {lv.name} temporal permutation")
        added = 0
        for d in tperm:
            if tf[d] > 1:
                loops.append(Loop(dims.index(d), tf[d], s, None))
                added += 1
        if added == 0:
            loops.append(Loop(len(dims) - 1, 1, s, None))
        boundary.append(len(loops) - 1)
    keep = _keep_masks(storage, per_level, ds_names)
    strides = np.ones((len(loops), len(dims)), dtype=np.int64)
    extents = np.ones((len(loops), len(dims)), dtype=np.int64)
    cur = np.ones(len(dims), dtype=np.int64)
    for i, lp in enumerate(loops):
        strides[i] = cur
        cur = cur.copy()
        cur[lp.dim] *= lp.bound
        extents[i] = cur
    return Nest(problem=problem, arch=arch, mapping=mapping, dims=dims, sizes=sizes, ds_names=ds_names,
                projections=projections, read_write=read_write, storage=storage, loops=loops, boundary=boundary,
                block_start=block_start, spatial_group=spatial_group, keep=keep, fanout_xy=fanout_xy,
                strides=strides, extents=extents)
