"""CiM mapping, CiM latency post-processing, SIMT costs of NonGEMM operators, and the A100 roofline.

**CiM mapping** (:func:`cim_mapping`): the weight-stationary dataflow of WWW (arXiv 2312.15896, "priority
based" mapping: highest weight reuse first), written as an ordinary Timeloop mapping of the CiM hierarchy
built by :func:`cimscope.arch.placements.cim_gemm_arch`, so that every engine (builtin or timeloop) counts
its accesses. Dimensions are classified by the dataspaces they index:

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
outside the streaming loops); the caller scores every variant with the engine and keeps the lowest EDP.

Options (:class:`CimOptions`): ``interleave`` spreads consecutive weight tiles (output channels first)
over different arrays before the sequential ``Rh x Ch`` slots of a cell are used, so they compute in
parallel; ``duplicate`` copies the weights into arrays (and SMs) left idle and splits the streaming
dimensions over the copies; ``weight_reload=False`` refuses to tile weights that do not fit (weight
stationary only) and raises an error saying how many bytes of CiM capacity are missing. Otherwise weights
that do not fit are tiled: each tile is written into the arrays (write energy per word) and the inputs are
streamed once per tile.

**Post-processing** (:func:`postprocess`): Timeloop counts one MAC per cell per cycle. A CiM array instead
completes one wave of ``Rp x Cp`` MACs every ``latency_cycles`` and cannot compute while its weights are
written. With ``T`` the number of temporal steps of the mapping (the product of all temporal loop bounds:
the waves each array runs one after the other), ``W`` the weight words written per busy array (the CiM
level's fills / busy arrays) and ``t_w`` the cim_macro plug-in's write latency per word in cycles (one array
cycle per word, the plug-in's stated assumption),

    cycles = max(engine cycles, T x latency_cycles + W x t_w)

(the engine's cycles already bound the transfers by each level's bandwidth). Energies come from the ERT the
engine used: MAC energy per MAC, write energy per weight word filled, 0 per compute read.

**Resident weights** (``evaluate_network(..., resident_weights=True)``, :mod:`cimscope.resident`): the
per-inference view above writes every operator's weights into the arrays every inference (WWW). In the
steady state of repeated inference the network's static weights are preloaded once into the CiM arrays
(all operators' weights together must fit the placement's weight capacity, else InputError naming the
missing bytes) and stay there: before :func:`postprocess`, the engine's accesses of the weights above the
arrays and the arrays' weight fills are removed from the result (energy by the ERT, cycles recomputed from
the remaining transfers), so ``W = 0`` and no write latency is added. Weights are not duplicated into idle
arrays in this mode. Dynamic "weights" (attention QK^T/AV) are activations and are still written.

**SIMT** (:func:`simt_cost`): NonGEMM operators run on the GPU's FP32 lanes; they stream their bytes from
the outermost on-chip level that holds their working set (else from DRAM/HBM), through the levels below it
down to the register file:

    cycles = max(elem_ops / lanes, max over the path of bytes / bandwidth)
    energy = elem_ops x lane op energy + sum over the path of bytes x energy per byte

**Roofline** (:func:`roofline_s`): max(2 x MACs / peak ops/s, unique bytes / HBM bandwidth) with the A100's
published peaks (/work/shared/reference/a100.yaml).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Optional

from cimscope import ir
from cimscope.errors import InputError, MappingError
from cimscope.mappers.mapspace import prime_factors

# ---------------------------------------------------------------------------------------------------------
# Options and dimension roles
# ---------------------------------------------------------------------------------------------------------


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


def _tensor_dims(t: ir.Tensor) -> set[str]:
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
    din, dw, dout = (_tensor_dims(by_role[r]) for r in ("input", "weight", "output"))
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
# Factor helpers (perfect factorisation, as Timeloop requires)
# ---------------------------------------------------------------------------------------------------------


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


def _take(rem: dict[str, int], factors: dict[str, int]) -> None:
    for d, f in factors.items():
        if rem[d] % f:
            raise AssertionError(f"factor {f} does not divide remaining {rem[d]} of {d}")
        rem[d] //= f


def _prod(factors: dict[str, int]) -> int:
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


def _permutation(order: list[str]) -> str:
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


@dataclass
class CimCandidate:
    """One candidate of :func:`padded_cim_mappings`: the problem actually mapped (``problem``, padded or
    not), what padding added (``padding``: :func:`cimscope.padding.padding_info`, None when unpadded), and
    the mapping with its info."""

    problem: ir.Problem
    padding: Optional[dict]
    mapping: ir.Mapping
    info: CimMappingInfo


def padded_cim_mappings(problem: ir.Problem, arch: ir.Arch, options: CimOptions = CimOptions()
                        ) -> list[CimCandidate]:
    """The CiM mappings (:func:`cim_mappings`) of ``problem`` and of each padded version of it that
    :func:`cimscope.padding.candidate_paddings` proposes for ``arch`` (tile quantization: a dimension of
    prime size, e.g. 197 tokens, cannot fill the Cp columns or the arrays otherwise). The caller scores them
    all and keeps the best; padded MACs and padded weights are real work there (computed, written, moved).
    MappingError only when no candidate maps (the unpadded problem's error)."""
    from cimscope.padding import candidate_paddings, padding_info
    out: list[CimCandidate] = []
    first_error = None
    for p in [problem] + [pp for pp, _ in candidate_paddings(problem, arch)]:
        try:
            maps = cim_mappings(p, arch, options)
        except MappingError as exc:
            first_error = first_error or exc
            continue
        info = padding_info(problem, p)
        out.extend(CimCandidate(p, info, m, i) for m, i in maps)
    if not out:
        raise first_error
    return out


def cim_mapping(problem: ir.Problem, arch: ir.Arch, options: CimOptions = CimOptions(),
                variant: Variant = VARIANTS[0]) -> tuple[ir.Mapping, CimMappingInfo]:
    """Weight-stationary CiM mapping of ``problem`` on a CiM hierarchy (see module doc)."""
    cim = arch.levels[-1]
    qs = [i for i, lv in enumerate(arch.levels) if lv.attributes.get("cim_container")]
    if not cim.attributes.get("cim") or len(qs) != 1 or qs[0] < 1:
        raise InputError(f"arch {arch.name!r} has no CiM arrays innermost; build it with cimscope.arch.placements")
    a = cim.attributes
    Rp, Cp, Rh, Ch = int(a["Rp"]), int(a["Cp"]), int(a["Rh"]), int(a["Ch"])
    roles = classify_dims(problem)
    n = len(arch.levels)
    q = qs[0]                                   # the arrays container (fanout: Cp x Rp cells of one array)
    p = q - 1                                   # the level the arrays stream inputs/outputs from
    parent = arch.levels[p]
    arrays_per_parent = max(1, arch.levels[q].instances // parent.instances)
    rem = {d: int(s) for d, s in problem.dims.items()}

    temporal: list[dict[str, int]] = [dict() for _ in range(n)]
    sx: list[dict[str, int]] = [dict() for _ in range(n)]
    sy: list[dict[str, int]] = [dict() for _ in range(n)]

    # 1. within an array: reduction on the rows (Y), output channels on the columns (X)
    rows = best_product(rem, roles.reduction, Rp)
    _take(rem, rows)
    cols = best_product(rem, roles.out_channels, Cp)
    _take(rem, cols)
    sy[q].update(rows)
    sx[q].update(cols)

    def cell_slots() -> dict[str, int]:
        f = best_product(rem, roles.out_channels, Ch)
        _take(rem, f)
        g = best_product(rem, roles.reduction, Rh)
        _take(rem, g)
        return {**f, **g}

    # fanouts above the parent (e.g. L2 -> 108 SMs): (level index, X bound, Y bound)
    fanouts = []
    for i in range(p - 1, -1, -1):
        child = arch.levels[i + 1]
        bx = max(1, child.mesh_x // max(1, arch.levels[i].mesh_x))
        by = max(1, child.mesh_y // max(1, arch.levels[i].mesh_y))
        if bx * by > 1:
            fanouts.append((i, bx, by))
    weight_order = roles.out_channels + roles.blocks + roles.reduction

    fanout_order = weight_order if variant.split_reduction else roles.out_channels + roles.blocks

    def spread_weights() -> int:
        """Partition the weight tiles over the arrays of a parent and over the fanouts above it."""
        def arrays() -> dict[str, int]:
            f = best_product(rem, weight_order, arrays_per_parent)
            _take(rem, f)
            sx[p].update(f)
            return f

        def above() -> None:
            for i, bx, by in fanouts:
                fx = best_product(rem, fanout_order, bx)
                _take(rem, fx)
                fy = best_product(rem, [d for d in fanout_order if d not in fx], by)
                _take(rem, fy)
                sx[i].update(fx)
                sy[i].update(fy)

        if variant.fanout_first:
            above()
            f = arrays()
        else:
            f = arrays()
            above()
        return _prod(f)

    # 2. weight tiles: interleaved over all arrays before the sequential Rh x Ch slots of a cell are used,
    #    or packed into the slots first
    if options.interleave:
        arrays_used = spread_weights()
        cell = cell_slots()
    else:
        cell = cell_slots()
        arrays_used = spread_weights()
    temporal[n - 1].update(cell)

    # 3. duplication: copies of the weights into idle fanouts above the parent, then into idle arrays
    copies = 1
    if options.duplicate:
        for i, bx, by in fanouts:
            gx = best_product(rem, roles.streaming, bx // _prod(sx[i]))
            _take(rem, gx)
            gy = best_product(rem, [d for d in roles.streaming if d not in gx], by // _prod(sy[i]))
            _take(rem, gy)
            copies *= _prod(gx) * _prod(gy)
            sx[i].update(gx)
            sy[i].update(gy)
        if arrays_used < arrays_per_parent:
            dup = best_product(rem, roles.streaming, arrays_per_parent // arrays_used)
            _take(rem, dup)
            copies *= _prod(dup)
            sx[p].update(dup)

    weight_words = 1
    for d in roles.weight_dims:
        weight_words *= int(problem.dims[d])
    prim_weights = Rp * Cp * Rh * Ch
    arrays_total = int(a["arrays"])
    capacity_words = arrays_total * prim_weights
    left_weight = math.prod(rem[d] for d in roles.weight_dims)
    if left_weight > 1 and not options.weight_reload:
        wbits = problem.dataspace(roles.weights).bits
        need_b = weight_words * wbits / 8
        have_b = capacity_words * wbits / 8
        if need_b > have_b:
            raise MappingError(
                f"{problem.name}: weights of {need_b:,.0f} B do not fit the {have_b:,.0f} B of weight capacity of "
                f"{arrays_total} {a['primitive']} arrays at {a['placement']} (missing {need_b - have_b:,.0f} B); "
                f"allow weight reloads (tiling) or choose a larger placement")
        raise MappingError(
            f"{problem.name}: weights of {need_b:,.0f} B fit the {have_b:,.0f} B capacity of {arrays_total} "
            f"{a['primitive']} arrays only in pieces that do not factor the dimensions "
            f"({', '.join(f'{d}={problem.dims[d]}' for d in roles.weight_dims)}) into whole array tiles: missing "
            f"{(left_weight - 1) * (weight_words // left_weight) * wbits / 8:,.0f} B of whole-tile capacity; "
            f"allow weight reloads (tiling)")

    # 4. temporal loops above the cells: streaming dims innermost (weight reuse), then the weight tiles
    if variant.reduction_inner:
        order = roles.reduction + roles.streaming + roles.blocks + roles.out_channels
    else:
        order = roles.streaming + roles.reduction + roles.blocks + roles.out_channels

    def extent_at(i: int) -> dict[str, int]:
        ext = {d: 1 for d in problem.dims}
        for j in range(i, n):
            for fac in (temporal[j], sx[j], sy[j]):
                for d, f in fac.items():
                    ext[d] *= f
        return ext

    def kept(i: int) -> list[ir.Tensor]:
        if i == p and p > 0:            # the parent stages inputs and outputs; weights go to the cells
            return [t for t in problem.dataspaces if t.name != roles.weights]
        return list(problem.dataspaces)

    def fits(i: int) -> bool:
        lv = arch.levels[i]
        cap = lv.capacity_words
        if cap is None:
            return True
        ext = extent_at(i)
        need = sum(tile_words(t, ext, problem.coefficients) for t in kept(i))
        return need <= cap

    primes_by_dim = {d: prime_factors(rem[d]) for d in order}
    i = p
    for d in order:
        for f in sorted(primes_by_dim[d], reverse=True):
            while True:
                if i == 0:
                    temporal[0][d] = temporal[0].get(d, 1) * f
                    break
                temporal[i][d] = temporal[i].get(d, 1) * f
                if fits(i):
                    break
                temporal[i][d] //= f
                if temporal[i][d] == 1:
                    del temporal[i][d]
                i -= 1
            rem[d] //= f
    for i in range(p):
        if not fits(i):
            raise MappingError(f"{problem.name}: no CiM mapping fits level {arch.levels[i].name} "
                               f"({arch.levels[i].capacity_words} words)")
    if not fits(p):
        raise MappingError(f"{problem.name}: the smallest input/output tile of the CiM arrays does not fit "
                           f"{parent.name} ({parent.capacity_words} words)")

    levels: list[ir.LevelMapping] = []
    for i, lv in enumerate(arch.levels):
        tf = {d: temporal[i].get(d, 1) for d in problem.dims}
        spf = {d: sx[i].get(d, 1) * sy[i].get(d, 1) for d in problem.dims}
        x_dims = [d for d in problem.dims if sx[i].get(d, 1) > 1]
        y_dims = [d for d in problem.dims if sy[i].get(d, 1) > 1]
        spatial_perm = x_dims + y_dims + [d for d in problem.dims if d not in x_dims and d not in y_dims]
        buf = lv.attributes.get("cim_buffer")
        if i == n - 1:
            keep, bypass = [roles.weights], [roles.inputs, roles.outputs]
        elif i == q:
            keep, bypass = [], [t.name for t in problem.dataspaces]
        elif buf == "outputs":
            keep, bypass = [roles.outputs], [roles.inputs, roles.weights]
        elif buf == "inputs":
            keep, bypass = [roles.inputs], [roles.outputs, roles.weights]
        elif i == p and p > 0:
            keep, bypass = [roles.inputs, roles.outputs], [roles.weights]
        else:
            keep, bypass = [t.name for t in problem.dataspaces], []
        levels.append(ir.LevelMapping(
            target=lv.name, temporal_factors=tf,
            temporal_permutation=_permutation([d for d in order if d in tf] +
                                              [d for d in problem.dims if d not in order]),
            spatial_factors=spf, spatial_permutation=_permutation(spatial_perm),
            spatial_split=len(x_dims), keep=keep, bypass=bypass))

    T = 1
    for i in range(n):
        T *= _prod(temporal[i])
    weight_tiles = 1
    for i in range(n - 1):
        weight_tiles *= math.prod(temporal[i].get(d, 1) for d in roles.weight_dims)
    info = CimMappingInfo(
        rows_used=_prod(rows), cols_used=_prod(cols), cell_factors=dict(cell), arrays_used=arrays_used,
        arrays_busy=math.prod(_prod(sx[i]) * _prod(sy[i]) for i in range(p + 1)),
        copies=copies, arrays_total=arrays_total, weight_tiles=weight_tiles, weight_words=weight_words,
        weight_capacity_words=capacity_words, temporal_steps=T,
        fanout_factors={arch.levels[i].name: {**sx[i], **{f"{d}(y)": f for d, f in sy[i].items()}}
                        for i in range(n) if sx[i] or sy[i]}, variant=variant.label())
    return ir.Mapping(levels=levels), info


# ---------------------------------------------------------------------------------------------------------
# Post-processing of the engine's counts
# ---------------------------------------------------------------------------------------------------------


def postprocess(result: ir.Result, arch: ir.Arch, info: CimMappingInfo) -> ir.Result:
    """Apply the CiM array latency (see module doc) to an engine result on a CiM hierarchy."""
    cim = arch.levels[-1]
    a = cim.attributes
    lat = int(a["latency_cycles"])
    acc = result.accesses.get(cim.name, {})
    fills = sum(x.fills for x in acc.values())
    write_words_per_array = fills / max(1, info.arrays_busy)
    write_cycles = write_words_per_array * float(a["write_cycles_per_word"])
    compute_cycles = info.temporal_steps * lat
    cycles = max(float(result.cycles), compute_cycles + write_cycles)
    extra = dict(result.extra)
    extra["cim"] = {
        "primitive": a["primitive"], "placement": a["placement"], "latency_cycles_per_wave": lat,
        "waves_per_array": info.temporal_steps, "compute_cycles": compute_cycles,
        "weight_words_written": fills, "write_cycles": write_cycles,
        "engine_cycles": float(result.cycles), "bound": "cim" if compute_cycles + write_cycles >= result.cycles
        else "bandwidth",
        "mapping": info.to_dict(),
        "formula": "cycles = max(engine cycles, waves x latency_cycles + weight words per array x write cycles "
                   "per word)",
    }
    util = result.computes / (cycles * cim.instances) if cycles > 0 else 0.0
    return ir.Result(energy_pJ=result.energy_pJ, cycles=cycles, computes=result.computes, utilization=util,
                     energy_pJ_per_level=dict(result.energy_pJ_per_level), accesses=result.accesses,
                     engine=result.engine, op_name=result.op_name, cycle_seconds=arch.cycle_seconds, extra=extra)


# ---------------------------------------------------------------------------------------------------------
# SIMT lanes for NonGEMM operators
# ---------------------------------------------------------------------------------------------------------


@dataclass
class StreamLevel:
    """A memory level as NonGEMM streaming sees it (totals over its instances)."""

    name: str
    capacity_bytes: Optional[float]          # None: unbounded (DRAM/HBM)
    read_bytes_per_cycle: Optional[float]
    write_bytes_per_cycle: Optional[float]
    read_pJ_per_byte: float
    write_pJ_per_byte: float
    cim: bool = False
    shared_bytes_per_cycle: Optional[float] = None    # reads and writes together


def stream_levels(base: ir.Arch, cim_placement=None) -> list[StreamLevel]:
    """The base hierarchy's levels outermost first, down to the SIMT register level; the level a CiM
    placement replaced keeps its bandwidth and energy per byte (dual-mode CiM memory) with the arrays'
    capacity."""
    reg = (base.attributes.get("simt") or {}).get("register_level")
    out: list[StreamLevel] = []
    for lv in base.levels:
        words_per_row = lv.block_size
        bytes_per_word = lv.word_bits / 8
        rd = lv.action_energy_pJ.get("read", 0.0) / words_per_row / bytes_per_word
        wr = lv.action_energy_pJ.get("write", 0.0) / words_per_row / bytes_per_word
        cap = None if lv.depth is None else lv.depth * lv.width / 8 * lv.instances
        rbw = None if lv.read_bandwidth is None else lv.read_bandwidth * bytes_per_word * lv.instances
        wbw = None if lv.write_bandwidth is None else lv.write_bandwidth * bytes_per_word * lv.instances
        sbw = None if lv.shared_bandwidth is None else lv.shared_bandwidth * bytes_per_word * lv.instances
        is_cim = cim_placement is not None and lv.name == cim_placement.level
        if is_cim:
            cap = float(cim_placement.capacity_bytes)
        out.append(StreamLevel(name=lv.name, capacity_bytes=cap,
                               read_bytes_per_cycle=rbw, write_bytes_per_cycle=wbw, read_pJ_per_byte=rd,
                               write_pJ_per_byte=wr, cim=is_cim, shared_bytes_per_cycle=sbw))
        if reg and lv.name == reg:
            break
    return out


@dataclass
class SimtCost:
    energy_pJ: float
    cycles: float
    energy_pJ_per_level: dict[str, float]
    stream_level: str
    bound: str
    note: str = ""


def simt_cost(op: ir.Op, levels: list[StreamLevel], lanes: int, lane_op_pJ: float, lane_source: str = "") -> SimtCost:
    """Cost of one NonGEMM operator on ``lanes`` SIMT lanes streaming from ``levels`` (see module doc).
    Level 0 is DRAM/HBM; the last level is the register file the lanes read."""
    nbytes = float(op.bytes_read + op.bytes_written)
    ops = float(op.elem_ops)
    if nbytes <= 0 and ops <= 0:
        return SimtCost(0.0, 0.0, {}, "-", "none",
                        note="no data moved and no arithmetic (view/reshape alias): costs 0")
    # outermost on-chip level holding the working set (levels[1] and inward, excluding the register level)
    on_chip = levels[1:-1]
    src = 0
    for j, lv in enumerate(on_chip, start=1):
        if lv.capacity_bytes is not None and nbytes <= lv.capacity_bytes:
            src = j
            break
    path = levels[src:]
    per_level: dict[str, float] = {}
    bw_cycles = 0.0
    br, bw = float(op.bytes_read), float(op.bytes_written)
    for k, lv in enumerate(path):
        # source level: read the inputs, write the outputs; levels below: fill on the way in, read out; the
        # register level: written by loads, read by the lanes (and the reverse for the outputs)
        e = br * (lv.read_pJ_per_byte + (lv.write_pJ_per_byte if k > 0 else 0.0))
        e += bw * (lv.write_pJ_per_byte + (lv.read_pJ_per_byte if k > 0 else 0.0))
        per_level[lv.name] = per_level.get(lv.name, 0.0) + e
        if lv.read_bytes_per_cycle:
            bw_cycles = max(bw_cycles, br / lv.read_bytes_per_cycle)
        if lv.write_bytes_per_cycle:
            bw_cycles = max(bw_cycles, bw / lv.write_bytes_per_cycle)
        if lv.shared_bytes_per_cycle:
            bw_cycles = max(bw_cycles, (br + bw) / lv.shared_bytes_per_cycle)
    lane_cycles = ops / max(1, lanes)
    lane_energy = ops * lane_op_pJ
    per_level["SIMT"] = lane_energy
    cycles = max(lane_cycles, bw_cycles)
    bound = "lanes" if lane_cycles >= bw_cycles else f"bandwidth ({path[0].name})"
    note = f"streams {nbytes:,.0f} B from {path[0].name}"
    if ops <= 0:
        note += "; data movement only (copy)"
    return SimtCost(energy_pJ=sum(per_level.values()), cycles=cycles, energy_pJ_per_level=per_level,
                    stream_level=path[0].name, bound=bound, note=note)


# ---------------------------------------------------------------------------------------------------------
# A100 roofline (a100.yaml)
# ---------------------------------------------------------------------------------------------------------

#: NVIDIA A100 whitepaper figures as recorded in /work/shared/reference/a100.yaml.
A100_PEAK_OPS = {4: 1248e12, 8: 624e12, 16: 312e12}     # peak_dense_int4_tops, int8_tops, fp16_tflops
A100_HBM_BYTES_PER_S = 1555e9                           # hbm2_bandwidth_GBps


def distinct_words(t: ir.Tensor, extent: dict[str, int], coefficients: dict[str, int]) -> int:
    """Elements of dataspace ``t`` the operator actually touches: per rank, the number of distinct values of
    sum_j c_j*d_j (a stride-2 1x1 convolution reads every other input pixel, not the whole window)."""
    words = 1
    for rank in t.projection:
        terms = []
        for d, c in rank:
            coef = coefficients.get(c, 1) if isinstance(c, str) else int(c)
            n = int(extent.get(d, 1))
            if coef != 0 and n > 1:
                terms.append((coef, n))
        if len(terms) <= 1:
            words *= terms[0][1] if terms else 1
            continue
        vals = {0}
        for coef, n in terms:
            vals = {v + coef * i for v in vals for i in range(n)}
        words *= len(vals)
    return words


def unique_bytes(op: ir.Op) -> float:
    """Bytes of every tensor of the operator, each element touched counted once."""
    ext = dict(op.dims)
    return sum(distinct_words(t, ext, op.coefficients) * t.bits / 8 for t in op.tensors)


def roofline_s(op: ir.Op) -> float:
    """Lower bound of one occurrence of a GEMM on the A100: max(2 MACs / peak, unique bytes / HBM)."""
    bits = max(t.bits for t in op.tensors)
    peak = next((A100_PEAK_OPS[b] for b in sorted(A100_PEAK_OPS) if bits <= b), 156e12)  # TF32 above 16 bit
    return max(2.0 * op.macs / peak, unique_bytes(op) / A100_HBM_BYTES_PER_S)
