"""The WWW architectures as cimscope ``ir.Arch``: the tensor-core-like SM baseline and CiM at the RF or SMEM.

Built as the artifact's timeloopfe designs are (github.com/tanvisharma/WWWtoCiM, www-cim/designs/, copied in
../shared/reference/www_artifact/designs/), after timeloopfe flattens them (one dummy storage level
``inter_<container>_spatial`` above each spatial container, the !Parallel CiM buffers one after another):

* baseline (``tensor_core_like/arch_split.yaml``): DRAM -> SMEM (keeps A, B; bypasses Z) -> 4 sub-partitions
  (X x Y = 1 x 4) x RF (keeps only Z) -> 16 x 16 PEs x LRF (keeps only A) -> int8 MAC;
* ``rf`` (``rf_compute/arch_split.yaml``): DRAM -> SMEM (keeps A, Z; B bypasses it) -> CiMBank (X x Y arrays)
  -> CiMArray (Cp x Rp cells) -> CiMInpBuffer (A, Rh words) -> CiMOutBuffer (Z, Ch words) -> CiMStorage (B,
  Rh rows of Ch 8-bit words) -> CiMUnit;
* ``smem`` (``smem_compute/arch_split.yaml``): the same CiM hierarchy right below DRAM.

CiMStorage rows are Ch words wide, so Timeloop charges a weight write per row: 16 words per write for the
analog primitives (Ch = 16), one word for the digital ones. Energies: :mod:`cimscope.www.ert`.
"""
from __future__ import annotations

from dataclasses import dataclass

from cimscope import ir
from cimscope.errors import UnknownNameError
from cimscope.www import ert

PLACEMENTS = ("none", "rf", "smem")
PRIMITIVES = tuple(ert.CIM_TABLE)
DS_ALL = ["A", "B", "Z"]
#: Array counts of the artifact's runs (run.py defaults --X 1 --Y 4).
DEFAULT_X, DEFAULT_Y = 1, 4
#: The SMEM as the artifact's designs size it: depth 8192 rows of 256 bits (256 KB of 8-bit words).
SMEM_DEPTH, SMEM_WIDTH = 8192, 256
#: What the artifact's run.py passes to the dataflow as the SMEM size in KB: the SMEM node's ``width``
#: attribute (256), which it multiplies by 1024 words; it equals the real capacity (8192 x 256 / 8 words).
SMEM_DATAFLOW_WORDS = SMEM_WIDTH * 1024
CYCLE_S = 1e-9          # global_cycle_seconds of every design (1 GHz)
#: The baseline's PE array is 16 x 16 and its constraints map N = 16 and K = 16 onto it.
PE_SIDE = 16


@dataclass(frozen=True)
class Geometry:
    """A CiM primitive as the designs use it: Rp x Cp cells compute at once, each holds Rh x Ch weights."""

    name: str
    Rp: int
    Cp: int
    Rh: int
    Ch: int
    latency_cycles: int

    @classmethod
    def of(cls, primitive: str) -> "Geometry":
        if primitive not in ert.CIM_TABLE:
            raise UnknownNameError("primitive", primitive, ert.CIM_TABLE)
        p = ert.CIM_TABLE[primitive]
        return cls(primitive, int(p["Rp"]), int(p["Cp"]), int(p["Rh"]), int(p["Ch"]), int(p["latency_cycles"]))


def _dram() -> ir.Level:
    return ir.Level(name="DRAM", cls="DRAM", instances=1, depth=None, width=64, word_bits=8, n_banks=2,
                    read_bandwidth=32.0, write_bandwidth=32.0, keep=list(DS_ALL),
                    action_energy_pJ=ert.sm_energy("DRAM"), attributes={"type": "LPDDR4"})


def _smem(keep: list[str]) -> ir.Level:
    return ir.Level(name="SMEM", cls="SRAM", instances=1, depth=SMEM_DEPTH, width=SMEM_WIDTH, word_bits=8,
                    n_banks=2, read_bandwidth=42.0, write_bandwidth=42.0, keep=keep,
                    bypass=[d for d in DS_ALL if d not in keep], action_energy_pJ=ert.sm_energy("SMEM"))


def _spatial(container: str, instances: int, mx: int, my: int) -> ir.Level:
    """timeloopfe's dummy level above a spatial container (holds nothing, costs nothing)."""
    return ir.Level(name=f"inter_{container}_spatial", cls="dummy_storage", instances=instances, mesh_x=mx,
                    mesh_y=my, depth=1, width=1, word_bits=1, n_banks=2, bypass=list(DS_ALL))


def baseline_arch(X: int = DEFAULT_X, Y: int = DEFAULT_Y) -> ir.Arch:
    """The tensor-core-like SM (tensor_core_like/arch_split.yaml: RF depth 4096, int8 MAC)."""
    sub = X * Y
    pes = sub * PE_SIDE * PE_SIDE
    levels = [
        _dram(), _smem(["A", "B"]),
        _spatial("Subpartition", 1, 1, 1),
        ir.Level(name="RF", cls="regfile", instances=sub, mesh_x=X, mesh_y=Y, depth=4096, width=8, word_bits=8,
                 n_banks=16, keep=["Z"], bypass=["A", "B"], action_energy_pJ=ert.sm_energy("RF")),
        _spatial("PE", sub, X, Y),
        ir.Level(name="LRF", cls="regfile", instances=pes, mesh_x=PE_SIDE * X, mesh_y=PE_SIDE * Y, depth=1,
                 width=8, word_bits=8, keep=["A"], bypass=["B", "Z"], action_energy_pJ=ert.sm_energy("LRF")),
    ]
    mac = ir.ComputeLevel(name="mac", cls="intmac", instances=pes, mesh_x=PE_SIDE * X, mesh_y=PE_SIDE * Y,
                          word_bits=8, action_energy_pJ=ert.sm_energy("mac"))
    return ir.Arch(name="www_tensor_core_like", levels=levels, compute=mac, cycle_seconds=CYCLE_S,
                   attributes={"methodology": "www", "placement": "none"})


def cim_arch(placement: str, primitive: str, X: int = DEFAULT_X, Y: int = DEFAULT_Y) -> ir.Arch:
    """CiM at ``placement`` ("rf" or "smem") built from ``primitive`` with X x Y arrays."""
    if placement not in ("rf", "smem"):
        raise UnknownNameError("CiM placement", placement, ("rf", "smem"))
    g = Geometry.of(primitive)
    e = ert.cim_energy(primitive)
    arrays = X * Y
    cells, mx, my = arrays * g.Rp * g.Cp, X * g.Cp, Y * g.Rp
    levels = [_dram()] + ([_smem(["A", "Z"])] if placement == "rf" else [])
    levels += [
        _spatial("CiMBank", 1, 1, 1),
        _spatial("CiMArray", arrays, X, Y),
        ir.Level(name="CiMInpBuffer", cls="storage", instances=cells, mesh_x=mx, mesh_y=my, depth=g.Rh, width=8,
                 word_bits=8, n_banks=2, keep=["A"], bypass=["B", "Z"], action_energy_pJ=dict(ert.ZERO)),
        ir.Level(name="CiMOutBuffer", cls="storage", instances=cells, mesh_x=mx, mesh_y=my, depth=g.Ch, width=8,
                 word_bits=8, n_banks=2, keep=["Z"], bypass=["A", "B"], action_energy_pJ=dict(ert.ZERO)),
        ir.Level(name="CiMStorage", cls="storage", instances=cells, mesh_x=mx, mesh_y=my, depth=g.Rh,
                 width=8 * g.Ch, word_bits=8, n_banks=2, keep=["B"], bypass=["A", "Z"],
                 action_energy_pJ=e["storage"], attributes={"type": primitive}),
    ]
    unit = ir.ComputeLevel(name="CiMUnit", cls="cimmac_unit", instances=cells, mesh_x=mx, mesh_y=my, word_bits=8,
                           action_energy_pJ=e["unit"], attributes={"type": primitive})
    return ir.Arch(name=f"www_{placement}_compute_{primitive}", levels=levels, compute=unit, cycle_seconds=CYCLE_S,
                   attributes={"methodology": "www", "placement": placement, "primitive": primitive,
                               "X": X, "Y": Y, "geometry": g})


def baseline_constraints() -> list[dict]:
    """The baseline's mapspace constraints (tensor_core_like/arch_split.yaml), as Timeloop v0.4 targets."""
    return [
        {"target": "DRAM", "type": "dataspace", "keep": list(DS_ALL)},
        {"target": "SMEM", "type": "dataspace", "keep": ["A", "B"], "bypass": ["Z"]},
        {"target": "RF", "type": "dataspace", "keep": ["Z"], "bypass": ["A", "B"]},
        {"target": "LRF", "type": "dataspace", "keep": ["A"], "bypass": ["B", "Z"]},
        {"target": "RF", "type": "temporal", "permutation": "KNM", "factors": "M=1 N=1"},
        {"target": "LRF", "type": "temporal", "permutation": "NKM", "factors": "M=1 N<=128 K=1"},
        {"target": "inter_PE_spatial", "type": "spatial", "permutation": "KNM", "split": 1, "factors": "N=16 K=16"},
        {"target": "inter_Subpartition_spatial", "type": "spatial", "permutation": "NKM", "split": 0},
        # timeloopfe pins the temporal loops of its dummy spatial levels to 1
        {"target": "inter_PE_spatial", "type": "temporal", "factors": "M=1 N=1 K=1"},
        {"target": "inter_Subpartition_spatial", "type": "temporal", "factors": "M=1 N=1 K=1"},
    ]
