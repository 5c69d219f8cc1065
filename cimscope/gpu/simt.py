"""SIMT cost of NonGEMM operators on the GPU baseline (every placement: NonGEMM operators never run on CiM).

NonGEMM operators run on the GPU's FP32 lanes; they stream their bytes from the outermost on-chip level that
holds their working set (else from DRAM/HBM), through the levels below it down to the register file:

    cycles = max(elem_ops / lanes, max over the path of bytes / bandwidth)
    energy = elem_ops x lane op energy + sum over the path of bytes x energy per byte

The lane op energy is the mean of an fp32 add and an fp32 multiply of the ``simt_lane`` plug-in at the
architecture's node (:func:`lane_op_pJ`). A level a CiM placement replaced keeps its bandwidth and energy per
byte (dual-mode CiM memory) with the arrays' capacity (:func:`stream_levels`).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

from cimscope import ir
from cimscope.plugins.base import estimate


def lane_op_pJ(arch: ir.Arch) -> tuple[float, str]:
    """Energy of one NonGEMM element operation on a SIMT lane: the mean of an fp32 add and an fp32 multiply
    (simt_lane plug-in at the architecture's node), and where it comes from."""
    return lane_op_pJ_at(float(arch.technology.replace("nm", "")))


@lru_cache(maxsize=None)
def lane_op_pJ_at(tech: float) -> tuple[float, str]:
    """:func:`lane_op_pJ` at node ``tech`` (nm); a pure function of the node, computed once per process."""
    add = estimate("simt_lane", {"op": "add", "datatype": "fp", "bits": 32, "technology": tech})
    mul = estimate("simt_lane", {"op": "mul", "datatype": "fp", "bits": 32, "technology": tech})
    e = 0.5 * (add.actions["op"].energy_pJ + mul.actions["op"].energy_pJ)
    return e, f"mean of fp32 add and mul (simt_lane plug-in, {tech:g} nm)"


def simt_lanes(arch: ir.Arch) -> int:
    """FP32 lanes the architecture's ``simt`` attribute declares (64 per SM on a100_like)."""
    return int((arch.attributes.get("simt") or {}).get("lanes", 64))


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
