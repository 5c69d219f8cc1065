"""CiM mapping pass: the weight-stationary dataflow of WWW (arXiv 2312.15896, "priority based" mapping:
highest weight reuse first), written as an ordinary Timeloop mapping of the CiM hierarchy built by
:func:`cimscope.arch.placements.cim_gemm_arch`, so that every engine (builtin or timeloop) counts its
accesses. Dimensions are classified by the dataspaces they index:

* reduction (in Weights and Inputs, not Outputs: C, R, S / K of a GEMM) -> array rows (``Rp``), then the
  ``Rh`` sequential row groups of a cell;
* output channels (in Weights and Outputs: K / N) -> array columns (``Cp``), then the ``Ch`` sequential
  column groups of a cell;
* blocks (in all three: groups, batched-matmul batch) -> separate arrays (weights and inputs both differ);
* the rest (N, P, Q / M) stream through the arrays: temporal loops above the cells, innermost, so every
  weight written into a cell is reused for all of them before it is replaced (or, in the variants with the
  reduction innermost, inside the reduction tiles so that partial sums stay on chip).

The mapping is built in a few variants (:data:`VARIANTS`: weight tiles spread over the arrays of one parent
first or over the fanouts above it first, reduction split across fanouts or not, reduction tiles inside or
outside the streaming loops); the scoring pass keeps the lowest EDP.

Options (:class:`CimOptions`): ``interleave`` spreads consecutive weight tiles (output channels first)
over different arrays before the sequential ``Rh x Ch`` slots of a cell are used, so they compute in
parallel; ``duplicate`` copies the weights into arrays (and SMs) left idle and splits the streaming
dimensions over the copies; ``weight_reload=False`` refuses to tile weights that do not fit (weight
stationary only) and raises an error saying how many bytes of CiM capacity are missing. Otherwise weights
that do not fit are tiled: each tile is written into the arrays (write energy per word) and the inputs are
streamed once per tile.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from cimscope import ir
from cimscope.errors import InputError, MappingError
from cimscope.mappers.mapspace import prime_factors
from cimscope.pipeline.factors import best_product, prod, take, tile_words

@dataclass(frozen=True)
class CimOptions:
    interleave: bool = True
    duplicate: bool = True
    weight_reload: bool = True

    def key(self) -> str:
        return f"il{int(self.interleave)}-dup{int(self.duplicate)}-wr{int(self.weight_reload)}"


@dataclass
class DimRoles:
    reduction: list[str]
    out_channels: list[str]
    blocks: list[str]
    streaming: list[str]
    inputs: str
    weights: str
    outputs: str

    @property
    def weight_dims(self) -> list[str]:
        return self.out_channels + self.blocks + self.reduction


def tensor_dims(t: ir.Tensor) -> set[str]:
    return {term[0] for rank in t.projection for term in rank}


def classify_dims(problem: ir.Problem) -> DimRoles:
    """Roles of the problem's dimensions from the dataspaces that index them (see module doc)."""
    by_role = {}
    for t in problem.dataspaces:
        if t.role in by_role:
            raise InputError(f"problem {problem.name!r} has two {t.role} dataspaces; CiM needs one weight operand")
        by_role[t.role] = t
    missing = [r for r in ("input", "weight", "output") if r not in by_role]
    if missing:
        raise InputError(f"problem {problem.name!r} has no {', '.join(missing)} dataspace: not a GEMM for CiM")
    din, dw, dout = (tensor_dims(by_role[r]) for r in ("input", "weight", "output"))
    red, och, blk, stream = [], [], [], []
    for d in problem.dims:
        w, i, o = d in dw, d in din, d in dout
        if w and i and o:
            blk.append(d)
        elif w and i:
            red.append(d)
        elif w and o:
            och.append(d)
        elif w:
            red.append(d)          # weight-only dims are summed over (weight read once per output)
        else:
            stream.append(d)
    # larger dims first: they fill arrays with fewer, bigger factors
    key = lambda d: -problem.dims[d]
    return DimRoles(reduction=sorted(red, key=key), out_channels=sorted(och, key=key), blocks=sorted(blk, key=key),
                    streaming=sorted(stream, key=key), inputs=by_role["input"].name,
                    weights=by_role["weight"].name, outputs=by_role["output"].name)


# ---------------------------------------------------------------------------------------------------------
# CiM mapping
# ---------------------------------------------------------------------------------------------------------


@dataclass
class CimMappingInfo:
    """What the CiM mapping decided (reported with every CiM result)."""

    rows_used: int                   # reduction points per array column (<= Rp)
    cols_used: int                   # output channels per array row (<= Cp)
    cell_factors: dict[str, int]     # sequential Rh x Ch slots used per cell
    arrays_used: int                 # arrays per parent instance holding distinct weights
    arrays_busy: int                 # arrays computing in the whole system (all fanouts, all copies)
    copies: int                      # weight copies (duplication over arrays and fanouts)
    arrays_total: int                # arrays in the placement
    weight_tiles: int                # times the arrays are (re)written with a new set of weights
    weight_words: int                # weights of the operator (words)
    weight_capacity_words: int       # weights all arrays can hold at once
    temporal_steps: int              # T: waves each array runs sequentially
    fanout_factors: dict[str, dict[str, int]] = field(default_factory=dict)
    variant: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def permutation(order: list[str]) -> str:
    """Timeloop permutation string, innermost first (dimension names are single letters in our problems;
    longer names are joined the same way, as the v0.4 parser reads one name per character only for
    single-letter dims)."""
    return "".join(order) if all(len(d) == 1 for d in order) else " ".join(order)


@dataclass(frozen=True)
class Variant:
    """Where the weight tiles go first. ``fanout_first``: across the fanouts above the arrays' parent (e.g. the
    108 SMs) before the arrays of one parent; ``split_reduction``: the reduction may be partitioned across
    fanouts (partial sums then meet in the level above) rather than only across arrays and tiles."""

    fanout_first: bool = False
    split_reduction: bool = True
    reduction_inner: bool = False     # reduction tiles inside the streaming loops: partial sums stay on chip,
                                      # weights are rewritten for every streaming tile

    def label(self) -> str:
        return (f"{'fanouts' if self.fanout_first else 'arrays'}-first"
                f"{'' if self.split_reduction else ', no reduction split'}"
                f"{', reduction innermost' if self.reduction_inner else ''}")


#: The candidate mappings :func:`cim_mappings` returns (the engine scores them; the best EDP is kept).
VARIANTS = (Variant(False, True), Variant(True, True), Variant(False, False), Variant(True, False),
            Variant(False, True, True), Variant(False, False, True))


def cim_mappings(problem: ir.Problem, arch: ir.Arch, options: CimOptions = CimOptions()
                 ) -> list[tuple[ir.Mapping, CimMappingInfo]]:
    """The distinct candidate CiM mappings of ``problem`` (one per :data:`VARIANTS` entry; duplicates removed)."""
    out, seen, first_error = [], set(), None
    for v in VARIANTS:
        try:
            m, info = cim_mapping(problem, arch, options, v)
        except MappingError as exc:
            first_error = first_error or exc
            continue
        key = repr(m)
        if key not in seen:
            seen.add(key)
            out.append((m, info))
    if not out:
        raise first_error
    return out


class CimMapper:
    """The state of one CiM mapping while it is built, step by step (see :func:`cim_mapping`): per level the
    temporal factors and the spatial factors along X and Y, and what is left of each dimension."""

    def __init__(self, problem: ir.Problem, arch: ir.Arch, options: CimOptions, variant: Variant) -> None:
        cim = arch.levels[-1]
        qs = [i for i, lv in enumerate(arch.levels) if lv.attributes.get("cim_container")]
        if not cim.attributes.get("cim") or len(qs) != 1 or qs[0] < 1:
            raise InputError(f"arch {arch.name!r} has no CiM arrays innermost; build it with "
                             f"cimscope.arch.placements")
        self.problem, self.arch, self.options, self.variant = problem, arch, options, variant
        self.a = cim.attributes
        self.roles = classify_dims(problem)
        self.n = len(arch.levels)
        self.q = qs[0]                           # the arrays container (fanout: Cp x Rp cells of one array)
        self.p = self.q - 1                      # the level the arrays stream inputs/outputs from
        self.parent = arch.levels[self.p]
        self.arrays_per_parent = max(1, arch.levels[self.q].instances // self.parent.instances)
        self.rem = {d: int(s) for d, s in problem.dims.items()}
        self.temporal: list[dict[str, int]] = [dict() for _ in range(self.n)]
        self.sx: list[dict[str, int]] = [dict() for _ in range(self.n)]
        self.sy: list[dict[str, int]] = [dict() for _ in range(self.n)]
        # fanouts above the parent (e.g. L2 -> 108 SMs): (level index, X bound, Y bound)
        self.fanouts = []
        for i in range(self.p - 1, -1, -1):
            child = arch.levels[i + 1]
            bx = max(1, child.mesh_x // max(1, arch.levels[i].mesh_x))
            by = max(1, child.mesh_y // max(1, arch.levels[i].mesh_y))
            if bx * by > 1:
                self.fanouts.append((i, bx, by))
        r = self.roles
        self.weight_order = r.out_channels + r.blocks + r.reduction
        self.fanout_order = self.weight_order if variant.split_reduction else r.out_channels + r.blocks
        self.copies = 1

    def pick(self, dims: list[str], bound: int) -> dict[str, int]:
        f = best_product(self.rem, dims, bound)
        take(self.rem, f)
        return f

    def within_array(self) -> None:
        """1. within an array: reduction on the rows (Y), output channels on the columns (X)."""
        self.rows = self.pick(self.roles.reduction, int(self.a["Rp"]))
        self.cols = self.pick(self.roles.out_channels, int(self.a["Cp"]))
        self.sy[self.q].update(self.rows)
        self.sx[self.q].update(self.cols)

    def cell_slots(self) -> dict[str, int]:
        f = self.pick(self.roles.out_channels, int(self.a["Ch"]))
        g = self.pick(self.roles.reduction, int(self.a["Rh"]))
        return {**f, **g}

    def spread_weights(self) -> int:
        """Partition the weight tiles over the arrays of a parent and over the fanouts above it."""
        def arrays() -> dict[str, int]:
            f = self.pick(self.weight_order, self.arrays_per_parent)
            self.sx[self.p].update(f)
            return f

        def above() -> None:
            for i, bx, by in self.fanouts:
                fx = self.pick(self.fanout_order, bx)
                fy = self.pick([d for d in self.fanout_order if d not in fx], by)
                self.sx[i].update(fx)
                self.sy[i].update(fy)

        if self.variant.fanout_first:
            above()
            f = arrays()
        else:
            f = arrays()
            above()
        return prod(f)

    def weight_tiles(self) -> None:
        """2. weight tiles: interleaved over all arrays before the sequential Rh x Ch slots of a cell are
        used, or packed into the slots first."""
        if self.options.interleave:
            self.arrays_used = self.spread_weights()
            self.cell = self.cell_slots()
        else:
            self.cell = self.cell_slots()
            self.arrays_used = self.spread_weights()
        self.temporal[self.n - 1].update(self.cell)

    def duplicate(self) -> None:
        """3. duplication: copies of the weights into idle fanouts above the parent, then into idle arrays."""
        if not self.options.duplicate:
            return
        sx, sy, streaming = self.sx, self.sy, self.roles.streaming
        for i, bx, by in self.fanouts:
            gx = self.pick(streaming, bx // prod(sx[i]))
            gy = self.pick([d for d in streaming if d not in gx], by // prod(sy[i]))
            self.copies *= prod(gx) * prod(gy)
            sx[i].update(gx)
            sy[i].update(gy)
        if self.arrays_used < self.arrays_per_parent:
            dup = self.pick(streaming, self.arrays_per_parent // self.arrays_used)
            self.copies *= prod(dup)
            sx[self.p].update(dup)

    def check_weight_capacity(self) -> None:
        """Weights that do not fit the arrays at once: tiled (weight reloads), or refused naming the bytes."""
        a, problem, roles = self.a, self.problem, self.roles
        self.weight_words = math.prod(int(problem.dims[d]) for d in roles.weight_dims)
        self.arrays_total = int(a["arrays"])
        self.capacity_words = self.arrays_total * int(a["Rp"]) * int(a["Cp"]) * int(a["Rh"]) * int(a["Ch"])
        left_weight = math.prod(self.rem[d] for d in roles.weight_dims)
        if left_weight <= 1 or self.options.weight_reload:
            return
        wbits = problem.dataspace(roles.weights).bits
        need_b = self.weight_words * wbits / 8
        have_b = self.capacity_words * wbits / 8
        if need_b > have_b:
            raise MappingError(
                f"{problem.name}: weights of {need_b:,.0f} B do not fit the {have_b:,.0f} B of weight capacity of "
                f"{self.arrays_total} {a['primitive']} arrays at {a['placement']} (missing {need_b - have_b:,.0f} "
                f"B); allow weight reloads (tiling) or choose a larger placement")
        raise MappingError(
            f"{problem.name}: weights of {need_b:,.0f} B fit the {have_b:,.0f} B capacity of {self.arrays_total} "
            f"{a['primitive']} arrays only in pieces that do not factor the dimensions "
            f"({', '.join(f'{d}={problem.dims[d]}' for d in roles.weight_dims)}) into whole array tiles: missing "
            f"{(left_weight - 1) * (self.weight_words // left_weight) * wbits / 8:,.0f} B of whole-tile capacity; "
            f"allow weight reloads (tiling)")

    def extent_at(self, i: int) -> dict[str, int]:
        ext = {d: 1 for d in self.problem.dims}
        for j in range(i, self.n):
            for fac in (self.temporal[j], self.sx[j], self.sy[j]):
                for d, f in fac.items():
                    ext[d] *= f
        return ext

    def kept(self, i: int) -> list[ir.Tensor]:
        if i == self.p and self.p > 0:           # the parent stages inputs and outputs; weights go to the cells
            return [t for t in self.problem.dataspaces if t.name != self.roles.weights]
        return list(self.problem.dataspaces)

    def fits(self, i: int) -> bool:
        cap = self.arch.levels[i].capacity_words
        if cap is None:
            return True
        ext = self.extent_at(i)
        return sum(tile_words(t, ext, self.problem.coefficients) for t in self.kept(i)) <= cap

    def temporal_loops(self) -> None:
        """4. temporal loops above the cells: streaming dims innermost (weight reuse), then the weight tiles,
        each prime factor at the innermost level whose tiles still fit."""
        r = self.roles
        if self.variant.reduction_inner:
            self.order = r.reduction + r.streaming + r.blocks + r.out_channels
        else:
            self.order = r.streaming + r.reduction + r.blocks + r.out_channels
        temporal, rem = self.temporal, self.rem
        primes_by_dim = {d: prime_factors(rem[d]) for d in self.order}
        i = self.p
        for d in self.order:
            for f in sorted(primes_by_dim[d], reverse=True):
                while True:
                    if i == 0:
                        temporal[0][d] = temporal[0].get(d, 1) * f
                        break
                    temporal[i][d] = temporal[i].get(d, 1) * f
                    if self.fits(i):
                        break
                    temporal[i][d] //= f
                    if temporal[i][d] == 1:
                        del temporal[i][d]
                    i -= 1
                rem[d] //= f
        for i in range(self.p):
            if not self.fits(i):
                lv = self.arch.levels[i]
                raise MappingError(f"{self.problem.name}: no CiM mapping fits level {lv.name} "
                                   f"({lv.capacity_words} words)")
        if not self.fits(self.p):
            raise MappingError(f"{self.problem.name}: the smallest input/output tile of the CiM arrays does not "
                               f"fit {self.parent.name} ({self.parent.capacity_words} words)")

    def keep_bypass(self, i: int) -> tuple[list[str], list[str]]:
        r, lv = self.roles, self.arch.levels[i]
        buf = lv.attributes.get("cim_buffer")
        if i == self.n - 1:
            return [r.weights], [r.inputs, r.outputs]
        if i == self.q:
            return [], [t.name for t in self.problem.dataspaces]
        if buf == "outputs":
            return [r.outputs], [r.inputs, r.weights]
        if buf == "inputs":
            return [r.inputs], [r.outputs, r.weights]
        if i == self.p and self.p > 0:
            return [r.inputs, r.outputs], [r.weights]
        return [t.name for t in self.problem.dataspaces], []

    def mapping(self) -> ir.Mapping:
        dims = self.problem.dims
        levels: list[ir.LevelMapping] = []
        for i, lv in enumerate(self.arch.levels):
            tf = {d: self.temporal[i].get(d, 1) for d in dims}
            spf = {d: self.sx[i].get(d, 1) * self.sy[i].get(d, 1) for d in dims}
            x_dims = [d for d in dims if self.sx[i].get(d, 1) > 1]
            y_dims = [d for d in dims if self.sy[i].get(d, 1) > 1]
            spatial_perm = x_dims + y_dims + [d for d in dims if d not in x_dims and d not in y_dims]
            keep, bypass = self.keep_bypass(i)
            levels.append(ir.LevelMapping(
                target=lv.name, temporal_factors=tf,
                temporal_permutation=permutation([d for d in self.order if d in tf] +
                                                 [d for d in dims if d not in self.order]),
                spatial_factors=spf, spatial_permutation=permutation(spatial_perm),
                spatial_split=len(x_dims), keep=keep, bypass=bypass))
        return ir.Mapping(levels=levels)

    def info(self) -> CimMappingInfo:
        n, p, temporal = self.n, self.p, self.temporal
        T = math.prod(prod(temporal[i]) for i in range(n))
        weight_tiles = 1
        for i in range(n - 1):
            weight_tiles *= math.prod(temporal[i].get(d, 1) for d in self.roles.weight_dims)
        return CimMappingInfo(
            rows_used=prod(self.rows), cols_used=prod(self.cols), cell_factors=dict(self.cell),
            arrays_used=self.arrays_used,
            arrays_busy=math.prod(prod(self.sx[i]) * prod(self.sy[i]) for i in range(p + 1)),
            copies=self.copies, arrays_total=self.arrays_total, weight_tiles=weight_tiles,
            weight_words=self.weight_words, weight_capacity_words=self.capacity_words, temporal_steps=T,
            fanout_factors={self.arch.levels[i].name: {**self.sx[i], **{f"{d}(y)": f for d, f in self.sy[i].items()}}
                            for i in range(n) if self.sx[i] or self.sy[i]}, variant=self.variant.label())


def cim_mapping(problem: ir.Problem, arch: ir.Arch, options: CimOptions = CimOptions(),
                variant: Variant = VARIANTS[0]) -> tuple[ir.Mapping, CimMappingInfo]:
    """Weight-stationary CiM mapping of ``problem`` on a CiM hierarchy (see the module doc): within an
    array, weight tiles over arrays and fanouts, duplication, capacity check, temporal loops."""
    m = CimMapper(problem, arch, options, variant)
    m.within_array()
    m.weight_tiles()
    m.duplicate()
    m.check_weight_capacity()
    m.temporal_loops()
    return m.mapping(), m.info()
