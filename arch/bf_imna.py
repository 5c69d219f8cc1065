"""BF-IMNA: a bit-fluid accelerator of Associative Processors (Rakka et al., arXiv 2411.01417).

A chip of ``clusters``; each cluster holds ``caps`` 2D APs used as compute (CAPs) and ``maps`` 1D APs used as
memory (MAPs), linked by a MAP<->CAP bus; weights that do not fit in the MAPs stream from DRAM. The whole
configuration is one YAML file (default: ``presets/bf_imna.yaml``) loaded into the typed
:class:`BfImnaConfig`; :func:`resolve` scales the AP cell figures to the node and supply and gives the
:class:`BfImnaArch` that the mapper (:mod:`cimscope.bitfluid`) costs layers on.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Optional

import yaml

from cimscope.errors import InputError, UnknownNameError

PRESET = Path(__file__).with_name("presets") / "bf_imna.yaml"


@dataclass(frozen=True)
class ApArrayConfig:
    """One AP array: ``rows`` words x ``columns`` bit columns; ``variant`` 1d (MAP) or 2d (CAP)."""

    variant: str
    rows: int
    columns: int

    @property
    def bits(self) -> int:
        return self.rows * self.columns


@dataclass(frozen=True)
class BfImnaConfig:
    """Typed BF-IMNA configuration (see presets/bf_imna.yaml for the meaning and sources of each field)."""

    name: str
    cell: str
    node_nm: float
    vdd_V: Optional[float]
    clusters: int
    caps_per_cluster: int
    maps_per_cluster: int
    cap: ApArrayConfig
    map: ApArrayConfig
    bus_bits_per_cycle: int
    bus_clock_GHz: float
    bus_energy_pJ_per_bit: float
    bus_energy_node_nm: float
    bus_energy_vdd_V: float
    dram_pJ_per_bit: float
    dram_bandwidth_GBps: float
    overlap_movement: bool = False
    fold_batchnorm: bool = True
    row_packing: str = "edp"
    cell_overrides: dict[str, float] = field(default_factory=dict)

    @property
    def n_caps(self) -> int:
        return self.clusters * self.caps_per_cluster

    @property
    def n_maps(self) -> int:
        return self.clusters * self.maps_per_cluster

    @property
    def map_capacity_bits(self) -> int:
        return self.n_maps * self.map.bits

    def with_(self, **changes: Any) -> "BfImnaConfig":
        """A copy with fields changed (``cell``, ``node_nm``, ``vdd_V`` ...), validated again."""
        unknown = [k for k in changes if k not in self.__dataclass_fields__]
        if unknown:
            raise UnknownNameError("BF-IMNA config field", unknown[0], self.__dataclass_fields__)
        out = replace(self, **changes)
        _validate(out)
        return out

    def to_dict(self) -> dict:
        return asdict(self)


def _get(d: dict, path: str, where: str, default: Any = ..., kind: type = float, low: Optional[float] = None,
         allow_none: bool = False) -> Any:
    cur: Any = d
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            if default is ...:
                raise InputError(f"{where}: missing field {path!r}")
            return default
        cur = cur[part]
    if cur is None:
        if allow_none:
            return None
        raise InputError(f"{where}: field {path!r} must not be empty")
    if kind is bool:
        if not isinstance(cur, bool):
            raise InputError(f"{where}: field {path!r}={cur!r} must be true or false")
        return cur
    if kind is str:
        return str(cur)
    try:
        if kind is int and (isinstance(cur, bool) or float(cur) != int(float(cur))):
            raise ValueError
        v = kind(cur)
    except (TypeError, ValueError):
        raise InputError(f"{where}: field {path!r}={cur!r} is not {'an integer' if kind is int else 'a number'}") \
            from None
    if low is not None and v < low:
        raise InputError(f"{where}: field {path!r}={cur!r} must be >= {low}")
    return v


def _array(d: dict, path: str, where: str, variant: str) -> ApArrayConfig:
    v = _get(d, f"{path}.variant", where, variant, kind=str)
    if v not in ("1d", "2d"):
        raise InputError(f"{where}: field {path}.variant={v!r} must be 1d or 2d")
    if v != variant:
        raise InputError(f"{where}: {path} must be a {variant} AP ({'CAPs reduce across rows: 2d' if variant == '2d' else 'MAPs: 1d'}), got {v}")
    return ApArrayConfig(v, _get(d, f"{path}.rows", where, kind=int, low=2),
                         _get(d, f"{path}.columns", where, kind=int, low=8))


def config_from_dict(d: Any, where: str = "BF-IMNA config") -> BfImnaConfig:
    """Build and validate a :class:`BfImnaConfig` from the YAML structure of presets/bf_imna.yaml."""
    if not isinstance(d, dict):
        raise InputError(f"{where}: expected a mapping at the top level, got {type(d).__name__}")
    known = {"name", "technology", "hierarchy", "interconnect", "dram", "options", "cell_overrides"}
    extra = sorted(set(d) - known)
    if extra:
        raise InputError(f"{where}: unknown section(s) {', '.join(extra)}; valid sections: {', '.join(sorted(known))}")
    overrides = d.get("cell_overrides") or {}
    if not isinstance(overrides, dict):
        raise InputError(f"{where}: cell_overrides must be a mapping")
    cfg = BfImnaConfig(
        name=str(d.get("name", "bf_imna")),
        cell=_get(d, "technology.cell", where, "sram", kind=str).lower(),
        node_nm=_get(d, "technology.node_nm", where, 16.0),
        vdd_V=_get(d, "technology.vdd_V", where, None, allow_none=True),
        clusters=_get(d, "hierarchy.clusters", where, kind=int, low=1),
        caps_per_cluster=_get(d, "hierarchy.cluster.caps", where, kind=int, low=1),
        maps_per_cluster=_get(d, "hierarchy.cluster.maps", where, kind=int, low=1),
        cap=_array(d, "hierarchy.cap", where, "2d"),
        map=_array(d, "hierarchy.map", where, "1d"),
        bus_bits_per_cycle=_get(d, "interconnect.bus_bits_per_cycle", where, kind=int, low=1),
        bus_clock_GHz=_get(d, "interconnect.bus_clock_GHz", where, low=1e-6),
        bus_energy_pJ_per_bit=_get(d, "interconnect.bus_energy_pJ_per_bit", where, low=0.0),
        bus_energy_node_nm=_get(d, "interconnect.bus_energy_node_nm", where, 45.0),
        bus_energy_vdd_V=_get(d, "interconnect.bus_energy_vdd_V", where, 0.9),
        dram_pJ_per_bit=_get(d, "dram.pJ_per_bit", where, low=0.0),
        dram_bandwidth_GBps=_get(d, "dram.bandwidth_GBps", where, low=1e-6),
        overlap_movement=_get(d, "options.overlap_movement", where, False, kind=bool),
        fold_batchnorm=_get(d, "options.fold_batchnorm", where, True, kind=bool),
        row_packing=_get(d, "options.row_packing", where, "edp", kind=str),
        cell_overrides={str(k): v for k, v in overrides.items()},
    )
    _validate(cfg, where)
    return cfg


def _validate(cfg: BfImnaConfig, where: str = "BF-IMNA config") -> None:
    from cimscope.plugins import ap, scaling

    if cfg.cell not in ap.CELLS:
        raise UnknownNameError("AP cell", cfg.cell, ap.CELLS)
    scaling.nominal_vdd(cfg.node_nm)                           # node range check (InputError)
    if cfg.vdd_V is not None:
        scaling.energy_factor(cfg.node_nm, cfg.node_nm, None, cfg.vdd_V)   # supply window check
    if cfg.row_packing not in ("edp", "energy", "latency", "dense"):
        raise InputError(f"{where}: options.row_packing={cfg.row_packing!r} is not one of edp, energy, latency, "
                         f"dense")
    for k in cfg.cell_overrides:
        if k not in ap.OVERRIDES:
            raise UnknownNameError("AP cell override", k, ap.OVERRIDES)


def load_config(path: Optional[str | Path] = None) -> BfImnaConfig:
    """Load a BF-IMNA YAML (default: the packaged preset)."""
    p = Path(path) if path is not None else PRESET
    if not p.is_file():
        raise InputError(f"BF-IMNA config file {str(p)!r} does not exist")
    try:
        d = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InputError(f"BF-IMNA config {p}: not valid YAML ({str(exc).splitlines()[0]})") from None
    return config_from_dict(d, where=f"BF-IMNA config {p.name}")


# ---------------------------------------------------------------------------------------------------------
# Resolved architecture: per-bit figures at the node and supply
# ---------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BfImnaArch:
    """A configuration with its cell figures scaled to the node/supply (what the mapper needs)."""

    config: BfImnaConfig
    cell: Any                      # cimscope.plugins.ap.CellParams
    bus_pJ_per_bit: float          # bus energy per bit at the node/supply
    bus_bits_per_s: float          # aggregate over clusters
    dram_bits_per_s: float

    @property
    def cycle_s(self) -> float:
        return self.cell.cycle_s

    @property
    def cap_rows_total(self) -> int:
        return self.config.n_caps * self.config.cap.rows

    def move_pJ_per_bit(self) -> float:
        """Energy of one bit moved MAP -> CAP or CAP -> MAP: a cell read at the source, the bus, a cell write
        at the destination (one row: charged fully whatever the write charging of the cell)."""
        return self.bus_pJ_per_bit + (self.cell.read_fJ + self.cell.write_fJ) * 1e-3

    def summary(self) -> dict:
        c = self.config
        return {
            "name": c.name, "cell": c.cell, "node_nm": c.node_nm, "vdd_V": self.cell.voltage_V,
            "clusters": c.clusters, "caps": c.n_caps, "maps": c.n_maps,
            "cap": f"{c.cap.rows}x{c.cap.columns}", "map": f"{c.map.rows}x{c.map.columns}",
            "ap_clock_GHz": 1e-9 / self.cell.cycle_s, "write_cycles": self.cell.write_cycles,
            "compare_fJ_per_bit_row": self.cell.compare_fJ, "write_fJ_per_bit_row": self.cell.write_fJ,
            "read_fJ_per_bit_row": self.cell.read_fJ, "bus_pJ_per_bit": self.bus_pJ_per_bit,
            "map_capacity_MB": c.map_capacity_bits / 8e6,
            "cap_area_mm2": c.n_caps * c.cap.bits * self.cell.cell_area_um2 * 1e-6,
            "map_area_mm2": c.n_maps * c.map.bits * self.cell.cell_area_um2 * 1e-6,
        }


def resolve(cfg: BfImnaConfig) -> BfImnaArch:
    """Scale the AP cell and bus figures to ``cfg.node_nm``/``cfg.vdd_V``."""
    from cimscope.plugins import ap, scaling

    cell = ap.cell_params(cfg.cell, cfg.node_nm, cfg.vdd_V, cfg.cell_overrides)
    bus = cfg.bus_energy_pJ_per_bit * scaling.energy_factor(cfg.bus_energy_node_nm, cfg.node_nm,
                                                            cfg.bus_energy_vdd_V, cell.voltage_V)
    return BfImnaArch(config=cfg, cell=cell, bus_pJ_per_bit=bus,
                      bus_bits_per_s=cfg.clusters * cfg.bus_bits_per_cycle * cfg.bus_clock_GHz * 1e9,
                      dram_bits_per_s=cfg.dram_bandwidth_GBps * 8e9)


def build(path: Optional[str | Path] = None, **changes: Any) -> BfImnaArch:
    """Load (default preset), apply ``changes`` (e.g. ``cell="reram", vdd_V=0.8``) and resolve."""
    cfg = load_config(path)
    if changes:
        cfg = cfg.with_(**{k: v for k, v in changes.items() if v is not None})
    return resolve(cfg)


def to_ir_arch(arch: BfImnaArch):
    """The hierarchy as a :class:`cimscope.ir.Arch` (DRAM -> MAPs -> CAPs -> bit-serial AP compute), for
    reports and for tools that read the common IR. DRAM and MAP entries are per access of one ``width``-bit
    row, as Timeloop's ERT (vector access energy); CAP entries are per bit per row (an AP pass's unit)."""
    from cimscope.ir import Arch, ComputeLevel, Level

    c, p = arch.config, arch.cell
    dram_width = 64                                    # LPDDR4 channel of the WWW baseline (a100.yaml)
    row = c.map.columns
    return Arch(
        name=c.name,
        levels=[
            Level("DRAM", "DRAM", instances=1, depth=None, width=dram_width, word_bits=8,
                  action_energy_pJ={"read": c.dram_pJ_per_bit * dram_width,
                                    "write": c.dram_pJ_per_bit * dram_width}),
            Level("MAP", "associative_processor", instances=c.n_maps, depth=c.map.rows, width=row,
                  word_bits=8, action_energy_pJ={"read": row * (p.read_fJ * 1e-3 + arch.bus_pJ_per_bit),
                                                 "write": row * (p.write_fJ * 1e-3 + arch.bus_pJ_per_bit)},
                  area_um2=c.map.bits * p.cell_area_um2, attributes={"variant": "1d", "cell": c.cell}),
            Level("CAP", "associative_processor", instances=c.n_caps, depth=c.cap.rows, width=c.cap.columns,
                  word_bits=8, action_energy_pJ={"compare": p.compare_fJ * 1e-3, "write": p.write_fJ * 1e-3},
                  area_um2=c.cap.bits * p.cell_area_um2, attributes={"variant": "2d", "cell": c.cell}),
        ],
        compute=ComputeLevel("AP_rows", cls="ap_row", instances=c.n_caps * c.cap.rows, word_bits=8,
                             attributes={"bit_serial": True}),
        cycle_seconds=p.cycle_s, technology=f"{c.node_nm:g}nm",
        attributes={"bf_imna": arch.summary()},
    )


def nominal_capacity_note(cfg: BfImnaConfig, weight_bits: int) -> str:
    cap = cfg.map_capacity_bits
    if weight_bits <= cap:
        return f"weights {weight_bits / 8e6:.2f} MB fit in the MAPs ({cap / 8e6:.2f} MB)"
    return (f"weights {weight_bits / 8e6:.2f} MB exceed the MAPs ({cap / 8e6:.2f} MB): "
            f"{(weight_bits - cap) / 8e6:.2f} MB streamed from DRAM per inference")


__all__ = ["ApArrayConfig", "BfImnaConfig", "BfImnaArch", "PRESET", "load_config", "config_from_dict",
           "resolve", "build", "to_ir_arch", "nominal_capacity_note"]
