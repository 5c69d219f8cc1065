"""Energy, cycles and utilisation from access counts (Timeloop model/buffer.cpp, arithmetic.cpp,
topology.cpp), and the labelled per-level blocks of a timeloop-model stats file.

* Vector accesses per action = ceil(scalar accesses per instance / block size), block size = width /
  datawidth words; energy = vector accesses x ERT energy of the action, per instance, times the utilized
  instances. ERT action names are looked up in Timeloop's priority order (model/topology.hpp):
  read: random_read, read; fill: random_fill, random_write, fill, write; update: random_update,
  random_write, update, write; compute: mac_random, mult_random, mac, mult, compute.
* Leakage of a storage level = ERT ``leak`` (pJ per instance per cycle) x cycles x its most utilized
  instances (at least 1); the arithmetic units have no leakage in this Timeloop.
* Cycles of a storage level = ceil(compute cycles / slowdown), slowdown = min(1, read_bandwidth /
  read demand, write_bandwidth / write demand, shared_bandwidth / total demand), demands in words per cycle
  per instance (reads; fills + updates), in Timeloop's double arithmetic (per data space, summed; no
  tolerance on the ceil). Total cycles = the maximum over levels and compute.
* Utilisation = computes / (cycles x compute instances).
"""
from __future__ import annotations

import math
from typing import Any, Optional, Sequence, Union

import numpy as np

from cimscope import ir
from cimscope.model.analysis import NestStats
from cimscope.model.nest import Nest, min_utilization
from cimscope.model.tiling import TileCounts

READ_ACTIONS = ("random_read", "read")
FILL_ACTIONS = ("random_fill", "random_write", "fill", "write")
UPDATE_ACTIONS = ("random_update", "random_write", "update", "write")
COMPUTE_ACTIONS = ("mac_random", "mult_random", "mac", "mult", "compute")


def action_energy(table: dict[str, float], names: tuple[str, ...]) -> Optional[float]:
    for n in names:
        if n in table:
            return float(table[n])
    return None


def vector_accesses(x: float, block: int) -> float:
    """Vector (row) accesses for ``x`` scalar accesses of a level whose rows hold ``block`` words:
    ceil(x / block), with a 1e-9 tolerance so that float counts that divide evenly are not rounded up."""
    if x <= 0:
        return 0.0
    q = x / block
    r = round(q)
    return float(r) if abs(q - r) < 1e-9 else float(math.ceil(q))



def demand(accesses: Union[float, Sequence[float]], compute_cycles: float) -> float:
    """Words per cycle per instance: Timeloop's double arithmetic (BufferLevel::ComputePerformance), each data
    space's accesses / compute cycles, summed in data-space order (``accesses`` a sequence), or one total."""
    if isinstance(accesses, (int, float)):
        return accesses / compute_cycles
    total = 0.0
    for a in accesses:
        total += a / compute_cycles
    return total


def bandwidth_slowdown(level: ir.Level, reads: Union[float, Sequence[float]], writes: Union[float, Sequence[float]],
                       compute_cycles: float) -> float:
    """How much a level's bandwidth slows the computation down (1: not at all): min(1, read bandwidth /
    reads per cycle, write bandwidth / (fills + updates) per cycle, shared bandwidth / both per cycle), with
    ``reads``/``writes`` the scalar accesses per instance over ``compute_cycles`` (Timeloop's model; per data
    space for Timeloop's exact floating-point result, see :func:`demand`)."""
    slow = 1.0
    if compute_cycles > 0:
        rd, wr, lv = demand(reads, compute_cycles), demand(writes, compute_cycles), level
        if lv.read_bandwidth is not None and rd > lv.read_bandwidth:
            slow = min(slow, lv.read_bandwidth / rd)
        if lv.write_bandwidth is not None and wr > lv.write_bandwidth:
            slow = min(slow, lv.write_bandwidth / wr)
        if lv.shared_bandwidth is not None and wr + rd > lv.shared_bandwidth:
            slow = min(slow, lv.shared_bandwidth / (wr + rd))
    return slow


def level_cycles(compute_cycles: float, slowdown: float) -> int:
    """Cycles of a level: ceil(compute cycles / slowdown) in double precision, as Timeloop computes them
    (``std::uint64_t(ceil(compute_cycles / stats_.slowdown))``): a demand of 116.571... words/cycle on a
    32 words/cycle port over 224 compute cycles gives 817, not 816 (real timeloop-model 4cf6d4c)."""
    return int(math.ceil(compute_cycles / slowdown)) if slowdown > 0 else int(compute_cycles)


def cluster_size(level: ir.Level) -> int:
    """Timeloop's ``cluster_size`` (instances that share one access port row; default 1)."""
    return max(1, int(level.attributes.get("cluster_size", 1) or 1))


def cluster_utilization(level: ir.Level, utilized: float) -> float:
    """Timeloop (model/buffer.cpp, FinalizeBufferEnergy): a cluster access is spread over the utilized
    instances of the cluster: utilized / min(utilized, instances / cluster_size); 1 without clusters."""
    clusters = level.instances // cluster_size(level)
    if utilized <= 0 or clusters <= 0:
        return 1.0
    return utilized / min(utilized, clusters)


def leaking_instances(level_counts: list[TileCounts]) -> float:
    """Instances that leak (model/buffer.cpp, ComputeLeaksPerCycle without power gating): the most utilized
    instances over the data spaces, at least 1."""
    return max([1.0] + [float(c.replication) for c in level_counts if c.kept])


def _f2(x: float) -> str:
    return f"{x:.2f}"


def _cnt(x: float) -> str:
    r = round(x)
    return str(int(r)) if abs(x - r) < 1e-6 else f"{x:.2f}"


def _level_costs(nest: Nest, s: int, counts: list[TileCounts], compute_cycles: int, warnings: list[str]
                 ) -> dict[str, Any]:
    """Energy per action and data space (per instance), reads/writes and the bandwidth slowdown of level s."""
    lv = nest.storage[s]
    e = lv.action_energy_pJ or {}
    er, ef, eu = (action_energy(e, READ_ACTIONS), action_energy(e, FILL_ACTIONS), action_energy(e, UPDATE_ACTIONS))
    missing = [n for n, v in (("read", er), ("write/fill", ef), ("update", eu)) if v is None]
    if any(c.kept for c in counts) and missing and not lv.is_dummy:
        warnings.append(f"{lv.name}: no ERT energy for {', '.join(missing)}; counted as 0 pJ")
    er, ef, eu = er or 0.0, ef or 0.0, eu or 0.0
    block = lv.block_size
    rds: list[float] = []
    wrs: list[float] = []
    ds_energy = {}
    for d, c in enumerate(counts):
        if not c.kept:
            continue
        rds.append(c.reads)
        wrs.append(c.fills + c.updates)
        ds_energy[d] = {"read": vector_accesses(c.reads, block) * er, "fill": vector_accesses(c.fills, block) * ef,
                        "update": vector_accesses(c.updates, block) * eu}
    rd, wr = sum(rds), sum(wrs)
    slow = bandwidth_slowdown(lv, rds, wrs, compute_cycles)
    cyc = level_cycles(compute_cycles, slow)
    return {"er": er, "ef": ef, "eu": eu, "ds_energy": ds_energy, "reads": rd, "writes": wr, "slowdown": slow,
            "cycles": cyc}


def _compute_block(comp: ir.ComputeLevel, stats: NestStats, computes: float, warnings: list[str]
                   ) -> tuple[float, dict[str, float], dict]:
    """Compute energy (this Timeloop's arithmetic units charge computes only: an ERT ``leak`` of the MAC is not
    used, model/arithmetic.cpp has no leakage term), its actions, and its stats block."""
    ec = action_energy(comp.action_energy_pJ or {}, COMPUTE_ACTIONS)
    if ec is None:
        warnings.append(f"{comp.name}: no ERT energy for compute; counted as 0 pJ")
        ec = 0.0
    energy = computes * ec
    block = {
        "index": 0, "name": comp.name, "kind": "arithmetic",
        "specs": {"Word bits": "16" if "datawidth" not in comp.attributes else str(comp.word_bits),
                  "Instances": f"{comp.instances} ({comp.mesh_x}*{comp.mesh_y})",
                  "Compute energy": f"{_f2(ec)} pJ"},
        "stats": {"Utilized instances": str(stats.compute_instances), "Computes (total)": _cnt(computes),
                  "Cycles": str(stats.compute_cycles), "Energy (total)": f"{_f2(energy)} pJ",
                  "Area (total)": f"{_f2(comp.area_um2 * comp.instances)} um^2"},
        "dataspaces": {},
    }
    return energy, {"compute": energy, "leak": 0.0}, block


def _dataspace_block(c: TileCounts, de: dict[str, float], compute_cycles: int, slowdown: float) -> dict[str, str]:
    """The labelled per-data-space lines of a buffer block in timeloop-model's stats file."""
    per_inst = de["read"] + de["fill"] + de["update"]
    inst = c.replication
    n_acc = c.reads + c.fills + c.updates
    addr = (c.updates + c.fills) if c.rw else (c.reads + c.fills)
    rbw = c.reads / compute_cycles * slowdown if compute_cycles else 0.0
    wbw = (c.fills + c.updates) / compute_cycles * slowdown if compute_cycles else 0.0
    return {
        "Partition size": str(c.partition_size), "Utilized capacity": str(c.size),
        "Utilized instances (max)": str(inst), "Utilized clusters (max)": str(inst),
        "Scalar reads (per-instance)": _cnt(c.reads), "Scalar fills (per-instance)": _cnt(c.fills),
        "Scalar updates (per-instance)": _cnt(c.updates),
        "Temporal reductions (per-instance)": _cnt(c.temporal_reductions),
        "Address generations (per-cluster)": _cnt(addr),
        "Energy (per-scalar-access)": f"{_f2(per_inst / n_acc if n_acc else 0.0)} pJ",
        "Energy (per-instance)": f"{_f2(per_inst)} pJ", "Energy (total)": f"{_f2(per_inst * inst)} pJ",
        "Temporal Reduction Energy (per-instance)": "0.00 pJ", "Temporal Reduction Energy (total)": "0.00 pJ",
        "Address Generation Energy (per-cluster)": "0.00 pJ", "Address Generation Energy (total)": "0.00 pJ",
        "Bandwidth Consumption Scale": "1.00",
        "Shared Bandwidth (per-instance)": f"{_f2(rbw + wbw)} words/cycle",
        "Shared Bandwidth (total)": f"{_f2((rbw + wbw) * inst)} words/cycle",
        "Read Bandwidth (per-instance)": f"{_f2(rbw)} words/cycle",
        "Read Bandwidth (total)": f"{_f2(rbw * inst)} words/cycle",
        "Write Bandwidth (per-instance)": f"{_f2(wbw)} words/cycle",
        "Write Bandwidth (total)": f"{_f2(wbw * inst)} words/cycle",
    }


def _buffer_specs(lv: ir.Level, pl: dict[str, Any], leak_per: float, leak_total: float) -> dict[str, str]:
    size_words = None if lv.depth is None else lv.depth * lv.block_size
    eff = None if size_words is None else int(math.floor(size_words / max(lv.multiple_buffering, 1e-12)))

    def bw(x: Optional[float]) -> str:
        return "-" if x is None else _f2(x)

    return {
        "Technology": "DRAM" if "DRAM" in lv.cls else "SRAM", "Size": "-" if size_words is None else str(size_words),
        "Word bits": str(lv.word_bits), "Block size": str(lv.block_size), "Cluster size": str(cluster_size(lv)),
        "Instances": f"{lv.instances} ({lv.mesh_x}*{lv.mesh_y})", "Shared bandwidth": bw(lv.shared_bandwidth),
        "Read bandwidth": bw(lv.read_bandwidth), "Write bandwidth": bw(lv.write_bandwidth),
        "Multiple buffering": _f2(lv.multiple_buffering), "Effective size": "-" if eff is None else str(eff),
        "Min utilization": _f2(min_utilization(lv)),
        "Vector access energy": f"{_f2(max(pl['er'], pl['ef'], pl['eu']))} pJ",
        "Vector access energy source": "ERT" if lv.action_energy_pJ else "-",
        "Per-instance-cycle leakage": f"{_f2(leak_per)} pJ", "Instances sharing power gating": "1.00",
        "Non-power-gated utilization": "100.00%", "Leakage energy (total)": f"{_f2(leak_total)} pJ",
        "Area": f"{_f2(lv.area_um2)} um^2",
    }


def _buffer_level(nest: Nest, s: int, counts: list[TileCounts], pl: dict[str, Any], cycles: float,
                  compute_cycles: int) -> dict[str, Any]:
    """Energy (leakage by utilized instances, cluster utilization), accesses and the stats block of level s."""
    lv = nest.storage[s]
    leak_per = float((lv.action_energy_pJ or {}).get("leak", 0.0))
    leak_total = leak_per * cycles * leaking_instances(counts)
    act = {"read": 0.0, "fill": 0.0, "update": 0.0, "leak": leak_total}
    energy, total_scalar = leak_total, 0.0
    ds_blocks: dict[str, dict[str, str]] = {}
    accesses: dict[str, ir.DataspaceAccesses] = {}
    for d, c in enumerate(counts):
        if not c.kept:
            continue
        name = nest.ds_names[d]
        cu = cluster_utilization(lv, c.replication)
        de = {k: v / cu for k, v in pl["ds_energy"][d].items()}
        inst = c.replication
        energy += (de["read"] + de["fill"] + de["update"]) * inst
        for k in ("read", "fill", "update"):
            act[k] += de[k] * inst
        total_scalar += (c.reads + c.fills + c.updates) * inst
        accesses[name] = ir.DataspaceAccesses(reads=c.reads * inst, fills=c.fills * inst,
                                              updates=c.updates * inst, tile_words=float(c.size))
        ds_blocks[name] = _dataspace_block(c, de, compute_cycles, pl["slowdown"])
    block = {"index": 1 + s, "name": lv.name, "kind": "buffer", "specs": _buffer_specs(lv, pl, leak_per, leak_total),
             "stats": {"Cycles": str(pl["cycles"]), "Bandwidth throttling": _f2(pl["slowdown"])},
             "dataspaces": ds_blocks}
    return {"energy": energy, "actions": act, "accesses": accesses, "block": block, "scalar": total_scalar}


def _summaries(nest: Nest, energy_per_level: dict[str, float], blocks: list[dict], computes: float,
               cycles: float) -> dict[str, Any]:
    """Summary, operational-intensity and fJ/compute lines of the stats file."""
    arch, nds = nest.arch, len(nest.ds_names)
    comp = arch.compute
    energy = sum(energy_per_level.values())
    total_ops = computes + max(0.0, computes - _output_size(nest))
    word_bits = nest.storage[-1].word_bits if nest.storage else 8
    required = float(sum(_full_size(nest, d) for d in range(nds)))
    summary = {
        "GFLOPs (@1GHz)": _f2(total_ops / cycles if cycles else 0.0),
        "Utilization": f"{100.0 * computes / (cycles * comp.instances) if cycles else 0.0:.2f}%",
        "Cycles": str(int(cycles)), "Energy": f"{energy * 1e-6:.2f} uJ",
        "EDP(J*cycle)": f"{energy * 1e-12 * cycles:.2e}", "Area": f"{_area_mm2(arch):.2f} mm^2",
    }
    intensity_total = {
        "Total elementwise ops": _cnt(computes),
        "Total reduction ops": _cnt(max(0.0, computes - _output_size(nest))), "Total ops": _cnt(total_ops),
        "Total memory accesses required": _cnt(required),
        "Optimal Op per Byte": _f2(total_ops / (required * word_bits / 8.0) if required else 0.0),
    }
    fj: dict[str, float] = {}
    if computes:
        fj[comp.name] = energy_per_level[comp.name] / computes * 1000.0
        for s, lv in enumerate(nest.storage):
            if blocks[s + 1]["dataspaces"]:
                fj[lv.name] = energy_per_level[lv.name] / computes * 1000.0
        fj["Total"] = energy / computes * 1000.0
    names = [comp.name] + [lv.name for lv in nest.storage]
    nets = [f"{nest.storage[s + 1].name} <==> {nest.storage[s].name}" for s in range(nest.n_levels - 1)]
    nets.append(f"{nest.storage[0].name} <==> {comp.name}")
    return {"summary": summary, "intensity_total": intensity_total, "fJ_per_compute": fj,
            "fJ_width": max(len(n) for n in names + nets) + 1, "total_ops": total_ops}


def build_result(nest: Nest, stats: NestStats, counts: list[list[TileCounts]]) -> ir.Result:
    """Energy, cycles, accesses and the stats-file blocks from the collapsed tile counts of ``nest``."""
    arch, problem = nest.arch, nest.problem
    warnings = list(stats.warnings)
    compute_cycles = stats.compute_cycles
    computes = float(compute_cycles * stats.compute_instances)
    per_level = [_level_costs(nest, s, counts[s], compute_cycles, warnings) for s in range(nest.n_levels)]
    cycles = float(max([compute_cycles] + [pl["cycles"] for pl in per_level]))
    comp = arch.compute
    comp_energy, comp_actions, comp_block = _compute_block(comp, stats, computes, warnings)
    energy_per_level: dict[str, float] = {comp.name: comp_energy}
    by_action: dict[str, dict[str, float]] = {comp.name: comp_actions}
    accesses: dict[str, dict[str, ir.DataspaceAccesses]] = {}
    blocks: list[dict] = [comp_block]
    buffers = [_buffer_level(nest, s, counts[s], per_level[s], cycles, compute_cycles) for s in range(nest.n_levels)]
    for lv, b in zip(nest.storage, buffers):
        energy_per_level[lv.name] = b["energy"]
        by_action[lv.name] = b["actions"]
        accesses[lv.name] = b["accesses"]
        blocks.append(b["block"])
    # Timeloop numbers levels: arithmetic 0, then storage levels innermost first.
    for i, blk in enumerate(blocks):
        blk["index"] = i
    sm = _summaries(nest, energy_per_level, blocks, computes, cycles)
    intensity_levels: dict[str, dict[str, str]] = {}
    for lv, b in zip(nest.storage, buffers):
        bytes_acc = b["scalar"] * lv.word_bits / 8.0
        intensity_levels[lv.name] = ({"Total scalar accesses": _cnt(b["scalar"]),
                                      "Op per Byte": _f2(sm["total_ops"] / bytes_acc if bytes_acc else 0.0)}
                                     if b["block"]["dataspaces"] else {})
    energy = sum(energy_per_level.values())
    utilization = computes / (cycles * comp.instances) if cycles else 0.0
    extra: dict[str, Any] = {
        "levels": blocks,
        "summary": sm["summary"],
        "intensity": {"total": sm["intensity_total"], "levels": intensity_levels},
        "fJ_per_compute": sm["fJ_per_compute"],
        "fJ_width": sm["fJ_width"],
        "energy_by_action_pJ": by_action,
        "level_cycles": {lv.name: pl["cycles"] for lv, pl in zip(nest.storage, per_level)},
        "compute_cycles": compute_cycles,
        "warnings": warnings,
        "link_transfers_used": stats.link_transfers_used,
    }
    level_stats = _level_stats(nest, counts, per_level, comp.name, float(compute_cycles), energy_per_level)
    return ir.Result(energy_pJ=energy, cycles=cycles, computes=computes, utilization=utilization,
                     energy_pJ_per_level=energy_per_level, accesses=accesses, engine="builtin",
                     op_name=problem.name, cycle_seconds=arch.cycle_seconds, extra=extra, level_stats=level_stats)


def _level_stats(nest: Nest, counts: list[list[TileCounts]], per_level: list[dict], comp_name: str,
                 compute_cycles: float, energy_per_level: dict[str, float]) -> dict[str, ir.LevelStats]:
    """Typed per-level stats (arithmetic first, then storage innermost first) that later passes read."""
    stats = {comp_name: ir.LevelStats(comp_name, "arithmetic", compute_cycles, energy_per_level[comp_name])}
    for s, lv in enumerate(nest.storage):
        stats[lv.name] = ir.LevelStats(lv.name, "buffer", float(per_level[s]["cycles"]), energy_per_level[lv.name], {
            nest.ds_names[d]: ir.DataspaceStats(float(c.replication), float(c.reads), float(c.fills),
                                                float(c.updates), float(c.size))
            for d, c in enumerate(counts[s]) if c.kept})
    return stats


def _output_size(nest: Nest) -> float:
    return float(sum(_full_size(nest, d) for d in range(len(nest.ds_names)) if nest.read_write[d]))


def _full_size(nest: Nest, d: int) -> int:
    return nest.tile_size(d, np.array(nest.sizes, dtype=np.int64))


def _area_mm2(arch: ir.Arch) -> float:
    a = sum(lv.area_um2 * lv.instances for lv in arch.levels) + arch.compute.area_um2 * arch.compute.instances
    return a * 1e-6
