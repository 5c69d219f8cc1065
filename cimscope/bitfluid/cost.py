"""The cost record of one operator on BF-IMNA (:class:`LayerCost`) and the integer helpers the GEMM and NonGEMM
mappings share."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from cimscope.plugins.ap import ApPasses


@dataclass
class LayerCost:
    """Energy and latency of one operator on BF-IMNA, split by cause."""

    op_name: str
    module: str
    op_class: str
    kind: str
    target: str
    w_bits: int
    a_bits: int
    out_bits: int
    rows: float = 0.0                      # CAP row activations, all waves
    waves: int = 0
    cycles: float = 0.0                    # AP cycles of compute (all waves)
    passes_per_row: dict[str, ApPasses] = field(default_factory=dict)   # per phase
    energy_pJ: dict[str, float] = field(default_factory=dict)           # compute phases, movement, dram
    time_s: dict[str, float] = field(default_factory=dict)              # compute, movement, dram
    bus_bits: float = 0.0
    weight_bits: float = 0.0
    macs: int = 0
    note: str = ""
    count: int = 1

    @property
    def energy_total_pJ(self) -> float:
        return sum(self.energy_pJ.values())

    @property
    def compute_energy_pJ(self) -> float:
        return sum(v for k, v in self.energy_pJ.items() if k not in ("movement", "dram"))

    def latency_s(self, overlap_movement: bool = False) -> float:
        c = self.time_s.get("compute", 0.0)
        m = self.time_s.get("movement", 0.0) + self.time_s.get("dram", 0.0)
        return max(c, m) if overlap_movement else c + m

    def to_dict(self) -> dict:
        return {
            "op": self.op_name, "module": self.module, "class": self.op_class, "kind": self.kind,
            "target": self.target, "w_bits": self.w_bits, "a_bits": self.a_bits, "out_bits": self.out_bits,
            "rows": self.rows, "waves": self.waves, "cycles": self.cycles, "macs": self.macs,
            "energy_pJ": dict(self.energy_pJ), "energy_total_pJ": self.energy_total_pJ,
            "time_s": dict(self.time_s), "bus_bits": self.bus_bits, "weight_bits": self.weight_bits,
            "passes_per_row": {k: dict(p._asdict()) for k, p in self.passes_per_row.items()},
            "note": self.note, "count": self.count,
        }


def prod(xs) -> int:
    out = 1
    for x in xs:
        out *= int(x)
    return out


def clog2(n: int) -> int:
    return 0 if n <= 1 else math.ceil(math.log2(n))
