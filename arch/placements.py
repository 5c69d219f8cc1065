"""CiM placements: replace the storage of one level of a GPU hierarchy (register file, shared memory or L2)
by compute-in-memory arrays of equal area (WWW, arXiv 2312.15896, Sec. "Where").

Rules (documented in docs/placement.md):

* One CiM primitive array holds 4096 bytes (cim_macros.yaml) and costs ``area_x`` times the area of a plain
  SRAM array of the same 4096 bytes. A level's storage is counted as ``capacity / 4096`` such SRAM
  subarrays (large SRAMs are tiled from subarrays; WWW counts it the same way), so the equal-area array
  count for the storage under one instance of the *group* level is ``ratio = capacity / 4096 / area_x``.
* ``rounding="www"`` (default): ``ceil(ratio)`` up to 8 arrays, above that ``ratio`` rounded up to a whole
  multiple of 8 (the CiM arrays are laid out in rows of 8). This reproduces every entry of
  ``equal_area_arrays`` in /work/shared/reference/cim_macros.yaml for the WWW SM (rf 3/2/3/4, smem
  48/32/48/64); the area this adds over exact equal area is reported as ``area_overhead``.
  ``rounding="floor"`` never exceeds the replaced area (at least one array); ``"ceil"`` is plain ceil.
* For GEMMs the replaced level and every level below it leave the datapath: the CiM arrays sit under the
  replaced level's parent, hold the weights (``Rh x Ch`` words per cell, ``Rp x Cp`` cells computing in
  parallel per array) and compute; inputs stream from the parent (broadcast over the columns), partial sums
  are reduced along the rows, kept in the array periphery over the sequential ``Rh x Ch`` slots, and written
  back to the parent. As in the WWW Timeloop model, each cell has an input register (``Rh`` words) and a
  partial-sum register (``Ch`` words) of zero energy (their cost is part of the primitive's MAC energy); cells
  read their weights for free (part of the MAC); filling a weight costs the primitive's write energy per
  word. Hierarchy: parent -> ``CiM_<level>_arrays`` (container, fanout Cp x Rp) -> ``CiM_<level>_out`` ->
  ``CiM_<level>_in`` -> ``CiM_<level>`` (weights) -> ``CiM_<level>_MAC``.
* For NonGEMM operators the arrays still are the level's memory (dual-mode CiM): capacity
  ``arrays x 4096`` bytes, the replaced level's bandwidth and the replaced level's energy per byte
  (:func:`cimscope.cim.stream_levels`; the primitive's ``read_energy_pJ`` is not used there).
"""
from __future__ import annotations

import copy
import functools
import math
from dataclasses import asdict, dataclass, field
from typing import Optional

from cimscope import ir
from cimscope.errors import InputError, UnknownNameError

#: Where CiM can go ("none" = the baseline GPU).
PLACEMENTS: tuple[str, ...] = ("none", "rf", "smem", "l2")
#: The four WWW primitives (cim_macros.yaml).
PRIMITIVES: tuple[str, ...] = ("analog6T", "analog8T", "digital6T", "digital8T")
ROUNDINGS: tuple[str, ...] = ("www", "floor", "ceil")

#: Bytes per CiM primitive array (cim_macros.yaml: "Each primitive is a 4096-byte array").
ARRAY_BYTES = 4096
#: Arrays are laid out in rows of this many when more than one row is needed (rounding="www").
ARRAY_ROW = 8


@dataclass(frozen=True)
class CimPrimitive:
    """One CiM primitive array as the ``cim_macro`` plug-in describes it at a technology and clock."""

    name: str
    Rp: int                       # rows computing in parallel (reduction)
    Cp: int                       # columns computing in parallel (output channels)
    Rh: int                       # weights held per cell group along the rows (sequential)
    Ch: int                       # weights held per cell group along the columns (sequential)
    area_x: float                 # area relative to a plain SRAM array of the same 4096 bytes
    latency_s: float              # one MAC wave (Rp x Cp MACs)
    latency_cycles: int           # ceil(latency_s / cycle)
    mac_energy_pJ: float          # per MAC
    write_energy_pJ: float        # per weight word written
    read_energy_pJ: float = 0.0   # per word read in memory mode (NonGEMM); 0 for compute reads
    leak_W: float = 0.0           # per array
    word_bits: int = 8
    source: str = ""
    write_latency_s: float = 0.0  # per weight word written into one array (words of one array are serial)

    @property
    def parallel_macs(self) -> int:
        return self.Rp * self.Cp

    @property
    def weights_per_array(self) -> int:
        """Weight words one array can compute with (WWW template: Rp x Cp cells x Rh x Ch)."""
        return self.Rp * self.Cp * self.Rh * self.Ch


@dataclass
class CimPlacement:
    """How many arrays replace which level, and what they hold."""

    placement: str
    primitive: CimPrimitive
    level: str                    # replaced storage level
    group_level: str              # arrays are counted per instance of this level
    groups: int                   # instances of the group level
    replaced_bytes_per_group: int
    area_ratio: float             # exact equal-area array count per group
    arrays_per_group: int
    rounding: str

    @property
    def arrays(self) -> int:
        return self.groups * self.arrays_per_group

    @property
    def capacity_bytes(self) -> int:
        return self.arrays * ARRAY_BYTES

    @property
    def weight_capacity_words(self) -> int:
        return self.arrays * self.primitive.weights_per_array

    @property
    def weight_capacity_bytes(self) -> int:
        return self.weight_capacity_words * self.primitive.word_bits // 8

    @property
    def area_overhead(self) -> float:
        """CiM area / replaced SRAM area - 1 (positive: the rounding added area)."""
        return self.arrays_per_group / self.area_ratio - 1.0

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(arrays=self.arrays, capacity_bytes=self.capacity_bytes,
                 weight_capacity_bytes=self.weight_capacity_bytes, area_overhead=self.area_overhead)
        return d


@dataclass
class PlacedArch:
    """An architecture with (or without) CiM at one placement.

    ``gemm``: the hierarchy GEMMs run on (the engine evaluates it); ``base``: the unmodified GPU, whose
    SIMT lanes and memories NonGEMM operators use; ``cim``: the CiM arrays (None for placement "none")."""

    name: str
    placement: str
    primitive: Optional[str]
    base: ir.Arch
    gemm: ir.Arch
    cim: Optional[CimPlacement] = None
    options: dict = field(default_factory=dict)

    @property
    def cim_level(self) -> Optional[ir.Level]:
        return None if self.cim is None else self.gemm.levels[-1]

    def describe(self) -> dict:
        return {
            "arch": self.name, "placement": self.placement, "primitive": self.primitive,
            "gemm_levels": [lv.name for lv in self.gemm.levels] + [self.gemm.compute.name],
            "cim": None if self.cim is None else self.cim.to_dict(),
        }


def equal_area_arrays(replaced_bytes: int, area_x: float, rounding: str = "www") -> tuple[int, float]:
    """(array count, exact ratio) for CiM arrays of ``area_x`` replacing ``replaced_bytes`` of SRAM."""
    if rounding not in ROUNDINGS:
        raise UnknownNameError("array rounding", rounding, ROUNDINGS)
    if area_x <= 0:
        raise InputError(f"CiM area factor must be positive, got {area_x}")
    ratio = replaced_bytes / ARRAY_BYTES / area_x
    eps = 1e-9
    if rounding == "floor":
        n = max(1, math.floor(ratio + eps))
    elif rounding == "ceil" or ratio <= ARRAY_ROW:
        n = max(1, math.ceil(ratio - eps))
    else:
        n = ARRAY_ROW * math.ceil(ratio / ARRAY_ROW - eps)
    return int(n), ratio


def valid_placements(arch: ir.Arch) -> list[str]:
    return ["none"] + [p for p in PLACEMENTS[1:] if p in (arch.attributes.get("placements") or {})]


def _level_index(arch: ir.Arch, name: str) -> int:
    for i, lv in enumerate(arch.levels):
        if lv.name == name:
            return i
    raise InputError(f"arch {arch.name!r} has no level {name!r}")


def cim_placement(base: ir.Arch, placement: str, primitive: CimPrimitive, rounding: str = "www") -> CimPlacement:
    """Count the equal-area arrays that replace ``placement``'s level of ``base``."""
    spec = (base.attributes.get("placements") or {}).get(placement)
    if spec is None:
        raise UnknownNameError("placement", placement, valid_placements(base),
                               hint=f"arch {base.name} has no level for placement {placement!r}")
    level = base.level(spec["level"])
    group = base.level(spec.get("group", spec["level"]))
    if level.depth is None:
        raise InputError(f"placement {placement}: level {level.name} has no capacity to replace")
    per_group_instances = level.instances // group.instances
    replaced = per_group_instances * level.depth * level.width // 8
    n, ratio = equal_area_arrays(replaced, primitive.area_x, rounding)
    return CimPlacement(placement=placement, primitive=primitive, level=level.name, group_level=group.name,
                        groups=group.instances, replaced_bytes_per_group=replaced, area_ratio=ratio,
                        arrays_per_group=n, rounding=rounding)


def cim_gemm_arch(base: ir.Arch, cp: CimPlacement) -> ir.Arch:
    """The hierarchy a GEMM runs on with CiM at ``cp``: the levels above the replaced one, then the CiM
    arrays (container, periphery registers, cells holding ``Rh x Ch`` weight words each) and their MACs."""
    prim = cp.primitive
    idx = _level_index(base, cp.level)
    if idx == 0:
        raise InputError(f"placement {cp.placement}: cannot replace the outermost level {cp.level}")
    gidx = _level_index(base, cp.group_level)
    if gidx > idx:
        raise InputError(f"placement {cp.placement}: group level {cp.group_level} is below {cp.level}")
    outer = [copy.deepcopy(lv) for lv in base.levels[:idx]]
    cells = cp.arrays * prim.Rp * prim.Cp
    word_bits = base.compute.word_bits
    cim_attrs = {
        "cim": True, "primitive": prim.name, "placement": cp.placement, "replaces": cp.level,
        "arrays": cp.arrays, "arrays_per_group": cp.arrays_per_group, "group_level": cp.group_level,
        "Rp": prim.Rp, "Cp": prim.Cp, "Rh": prim.Rh, "Ch": prim.Ch,
        "latency_cycles": prim.latency_cycles, "latency_s": prim.latency_s,
        "write_cycles_per_word": prim.write_latency_s / base.cycle_seconds,
        "source": prim.source,
    }
    # Timeloop container of the arrays (WWW's "CiMBank"): a dummy level whose fanout is the Cp x Rp cells of
    # one array, so that a dimension can be split both across arrays and within an array.
    arrays = ir.Level(
        name=f"CiM_{cp.level}_arrays", cls="dummy_storage", instances=cp.arrays, mesh_x=cp.arrays, mesh_y=1,
        depth=1, width=word_bits, word_bits=word_bits, action_energy_pJ={"read": 0.0, "write": 0.0,
                                                                         "update": 0.0, "leak": 0.0},
        attributes=dict(cim_attrs, cim=False, cim_container=True),
    )
    leak_per_cell_cycle = prim.leak_W * base.cycle_seconds * 1e12 / prim.parallel_macs
    zero = {"read": 0.0, "write": 0.0, "update": 0.0, "leak": 0.0}
    # Per-cell input and partial-sum registers of the array periphery (WWW's CiMInpBuffer of Rh words and
    # CiMOutBuffer of Ch words): their energy is part of the MAC energy of the primitive, so 0 here.
    out_buf = ir.Level(
        name=f"CiM_{cp.level}_out", cls="cim_buffer", instances=cells, mesh_x=cp.arrays * prim.Cp, mesh_y=prim.Rp,
        depth=prim.Ch, width=word_bits, word_bits=word_bits, action_energy_pJ=dict(zero),
        attributes=dict(cim_attrs, cim=False, cim_buffer="outputs",
                        ert_source="0: partial sums stay in the array periphery (in the MAC energy)"),
    )
    in_buf = ir.Level(
        name=f"CiM_{cp.level}_in", cls="cim_buffer", instances=cells, mesh_x=cp.arrays * prim.Cp, mesh_y=prim.Rp,
        depth=prim.Rh, width=word_bits, word_bits=word_bits, action_energy_pJ=dict(zero),
        attributes=dict(cim_attrs, cim=False, cim_buffer="inputs",
                        ert_source="0: input drivers hold the applied inputs (in the MAC energy)"),
    )
    cim_level = ir.Level(
        name=f"CiM_{cp.level}", cls="cim_storage", instances=cells, mesh_x=cp.arrays * prim.Cp, mesh_y=prim.Rp,
        depth=prim.Rh * prim.Ch, width=word_bits, word_bits=word_bits, n_banks=1,
        read_bandwidth=None, write_bandwidth=None,
        action_energy_pJ={"read": 0.0, "write": prim.write_energy_pJ, "update": prim.write_energy_pJ,
                          "leak": leak_per_cell_cycle},
        attributes=dict(cim_attrs, ert_source=f"cim_macro plug-in ({prim.name})"),
    )
    compute = ir.ComputeLevel(
        name=f"CiM_{cp.level}_MAC", cls="cim_mac", instances=cells, mesh_x=cp.arrays * prim.Cp, mesh_y=prim.Rp,
        word_bits=word_bits, action_energy_pJ={"compute": prim.mac_energy_pJ, "leak": 0.0},
        attributes=dict(cim_attrs, ert_source=f"cim_macro plug-in ({prim.name})"),
    )
    return ir.Arch(name=f"{base.name}+cim_{cp.placement}_{prim.name}",
                   levels=outer + [arrays, out_buf, in_buf, cim_level],
                   compute=compute, cycle_seconds=base.cycle_seconds, technology=base.technology,
                   attributes={**base.attributes, "cim": cp.to_dict()})


def place(arch_name: str, placement: str, primitive: Optional[str] = None, *, bits: int = 8,
          rounding: str = "www") -> PlacedArch:
    """Build ``arch_name`` with CiM ``primitive`` arrays at ``placement`` ("none": the baseline)."""
    return copy.deepcopy(_place_cached(arch_name, placement, primitive, int(bits), rounding))


@functools.lru_cache(maxsize=128)
def _place_cached(arch_name: str, placement: str, primitive: Optional[str], bits: int,
                  rounding: str) -> PlacedArch:
    from cimscope.arch.builders import build_arch
    base = build_arch(arch_name, bits=bits)
    if placement not in PLACEMENTS:
        raise UnknownNameError("placement", placement, valid_placements(base))
    if placement != "none" and placement not in valid_placements(base):
        raise UnknownNameError("placement", placement, valid_placements(base),
                               hint=f"arch {arch_name} has no level for placement {placement!r}")
    if placement == "none":
        return PlacedArch(name=arch_name, placement="none", primitive=None, base=base, gemm=base,
                          options={"rounding": rounding})
    if primitive not in PRIMITIVES:
        raise UnknownNameError("primitive", str(primitive), PRIMITIVES)
    from cimscope.arch.plugin_costs import cim_primitive
    prim = cim_primitive(primitive, technology_nm=float(base.technology.replace("nm", "")),
                         cycle_seconds=base.cycle_seconds, bits=bits)
    cp = cim_placement(base, placement, prim, rounding)
    return PlacedArch(name=arch_name, placement=placement, primitive=primitive, base=base,
                      gemm=cim_gemm_arch(base, cp), cim=cp, options={"rounding": rounding})
