"""CiM placements: replace the storage of one level of a GPU hierarchy (register file, shared memory or L2)
by compute-in-memory arrays of equal area (WWW, arXiv 2312.15896, Sec. "Where").

Rules (documented in docs/placement.md):

* One CiM array holds ``array_bytes`` (4096 bytes for the WWW primitives, cim_macros.yaml) and costs
  ``area_x`` times the area of a plain SRAM array of the same bytes. A level's storage is counted as
  ``capacity / array_bytes`` such SRAM subarrays (large SRAMs are tiled from subarrays; WWW counts it the
  same way), so the equal-area array count for the storage under one instance of the *group* level is
  ``ratio = capacity / array_bytes / area_x``.
* The CiM arrays a placement can use (:func:`primitives`, one catalog): the WWW macros of the ``cim_macro``
  plug-in's table, every parametric CiM plug-in (a registered component named ``<name>_cim_array``,
  offered as ``parametric_<name>`` with its default attributes), and one data file per further array in ``arch/data/cim_arrays/`` (or a folder named by
  ``$CIMSCOPE_CIM_ARRAYS``): ``{component: analog_cim_array, attributes: {rows: 128, ...}}``.
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
  ``arrays x array_bytes``, the replaced level's bandwidth and the replaced level's energy per byte
  (:func:`cimscope.gpu.simt.stream_levels`; the primitive's ``read_energy_pJ`` is not used there).
"""
from __future__ import annotations

import copy
import functools
import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

import yaml

from cimscope import ir
from cimscope.arch.builders import build_arch
from cimscope.arch.plugin_costs import cim_array
from cimscope.errors import InputError, UnknownNameError
from cimscope.plugins import cim_macro, load_all
from cimscope.plugins.base import REGISTRY

#: Where CiM can go ("none" = the baseline GPU).
PLACEMENTS: tuple[str, ...] = ("none", "rf", "smem", "l2")
#: The four WWW primitives: the cim_macro plug-in's table (plugins/data/cim_macros.yaml).
PRIMITIVES: tuple[str, ...] = tuple(cim_macro.PRIMITIVES)
ROUNDINGS: tuple[str, ...] = ("www", "floor", "ceil")

#: Bytes per WWW primitive array (cim_macros.yaml: "Each primitive is a 4096-byte array"; the plug-in's).
ARRAY_BYTES = cim_macro.ARRAY_BYTES
#: Arrays are laid out in rows of this many when more than one row is needed (rounding="www").
ARRAY_ROW = 8
#: One data file per CiM array beyond the plug-ins' own (name = file stem).
ARRAY_DIR = Path(__file__).with_name("data") / "cim_arrays"
#: Environment variable naming further folders of CiM array data files (os.pathsep separated).
ARRAY_DIR_ENV = "CIMSCOPE_CIM_ARRAYS"
#: Suffix of the component name that marks a plug-in as a parametric CiM array; it is offered as
#: ``parametric_<name>`` (``analog_cim_array`` -> ``parametric_analog``) with its default attributes.
CIM_PLUGIN_SUFFIX = "_cim_array"
PARAMETRIC_PREFIX = "parametric_"


def catalog_key() -> str:
    """What the catalog depends on beyond the code: the extra data folders named in the environment."""
    return os.environ.get(ARRAY_DIR_ENV, "")


def _data_files() -> list[Path]:
    dirs = [ARRAY_DIR] + [Path(p) for p in catalog_key().split(os.pathsep) if p]
    return [f for d in dirs if d.is_dir() for f in sorted(d.glob("*.yaml"))]


def catalog() -> dict[str, dict]:
    """Every CiM array a placement can use: name -> {component, attributes[, Rh, Ch]} (see the module doc)."""
    out: dict[str, dict] = {name: {"component": "cim_macro", "attributes": {"primitive": name}}
                            for name in PRIMITIVES}
    load_all()
    for cls in sorted(set(REGISTRY.values()), key=lambda c: c.component_name):
        if cls.component_name.endswith(CIM_PLUGIN_SUFFIX):
            out[PARAMETRIC_PREFIX + cls.component_name[:-len(CIM_PLUGIN_SUFFIX)]] = {
                "component": cls.component_name, "attributes": {}}
    for f in _data_files():
        spec = yaml.safe_load(f.read_text(encoding="utf-8")) or {}
        if not isinstance(spec, dict) or "component" not in spec:
            raise InputError(f"CiM array file {f}: needs a 'component' (a CiM plug-in) and optional 'attributes'")
        out[f.stem] = spec
    return out


def primitives() -> tuple[str, ...]:
    """Names of every CiM array a placement can use (the WWW primitives first)."""
    return tuple(catalog())


#: The former name of :class:`ir.CimArray`.
CimPrimitive = ir.CimArray


@dataclass
class CimPlacement:
    """How many arrays replace which level, and what they hold."""

    placement: str
    primitive: ir.CimArray
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
        return self.arrays * self.primitive.array_bytes

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

    @functools.cached_property
    def fingerprint(self) -> str:
        """Hash of the GEMM hierarchy (its full ERT included) and the CiM arrays."""
        blob = json.dumps({"gemm": asdict(self.gemm), "cim": None if self.cim is None else self.cim.to_dict()},
                          sort_keys=True, default=str)
        return hashlib.sha1(blob.encode()).hexdigest()[:16]

    @property
    def cim_level(self) -> Optional[ir.Level]:
        return None if self.cim is None else self.gemm.levels[-1]

    def describe(self) -> dict:
        return {
            "arch": self.name, "placement": self.placement, "primitive": self.primitive,
            "gemm_levels": [lv.name for lv in self.gemm.levels] + [self.gemm.compute.name],
            "cim": None if self.cim is None else self.cim.to_dict(),
        }


def equal_area_arrays(replaced_bytes: int, area_x: float, rounding: str = "www",
                      array_bytes: int = ARRAY_BYTES) -> tuple[int, float]:
    """(array count, exact ratio) for CiM arrays of ``array_bytes`` and ``area_x`` replacing
    ``replaced_bytes`` of SRAM."""
    if rounding not in ROUNDINGS:
        raise UnknownNameError("array rounding", rounding, ROUNDINGS)
    if area_x <= 0:
        raise InputError(f"CiM area factor must be positive, got {area_x}")
    ratio = replaced_bytes / array_bytes / area_x
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


def cim_placement(base: ir.Arch, placement: str, primitive: ir.CimArray, rounding: str = "www") -> CimPlacement:
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
    n, ratio = equal_area_arrays(replaced, primitive.area_x, rounding, primitive.array_bytes)
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
        attributes=dict(cim_attrs, ert_source=prim.source),
    )
    compute = ir.ComputeLevel(
        name=f"CiM_{cp.level}_MAC", cls="cim_mac", instances=cells, mesh_x=cp.arrays * prim.Cp, mesh_y=prim.Rp,
        word_bits=word_bits, action_energy_pJ={"compute": prim.mac_energy_pJ, "leak": 0.0},
        attributes=dict(cim_attrs, ert_source=prim.source),
    )
    return ir.Arch(name=f"{base.name}+cim_{cp.placement}_{prim.name}",
                   levels=outer + [arrays, out_buf, in_buf, cim_level],
                   compute=compute, cycle_seconds=base.cycle_seconds, technology=base.technology,
                   attributes={**base.attributes, "cim": cp.to_dict()})


def place(arch_name: str, placement: str, primitive: Optional[str] = None, *, bits: int = 8,
          rounding: str = "www", input_bits: Optional[int] = None, weight_bits: Optional[int] = None
          ) -> PlacedArch:
    """Build ``arch_name`` with CiM ``primitive`` arrays at ``placement`` ("none": the baseline). A fresh
    object each call (:func:`cimscope.study.placed` caches them per study). ``bits``: the datapath word width
    (memories, tensor cores); ``input_bits``/``weight_bits``: the CiM arrays' input passes and weight cells
    (default ``bits``)."""
    base = build_arch(arch_name, bits=bits)
    if placement not in PLACEMENTS:
        raise UnknownNameError("placement", placement, valid_placements(base))
    if placement != "none" and placement not in valid_placements(base):
        raise UnknownNameError("placement", placement, valid_placements(base),
                               hint=f"arch {arch_name} has no level for placement {placement!r}")
    if placement == "none":
        return PlacedArch(name=arch_name, placement="none", primitive=None, base=base, gemm=base,
                          options={"rounding": rounding})
    arrays = catalog()
    if primitive not in arrays:
        raise UnknownNameError("primitive", str(primitive), tuple(arrays))
    prim = cim_array(primitive, arrays[primitive], technology_nm=float(base.technology.replace("nm", "")),
                     cycle_seconds=base.cycle_seconds, bits=bits, input_bits=input_bits,
                     weight_bits=weight_bits)
    cp = cim_placement(base, placement, prim, rounding)
    return PlacedArch(name=arch_name, placement=placement, primitive=primitive, base=base,
                      gemm=cim_gemm_arch(base, cp), cim=cp, options={"rounding": rounding})
