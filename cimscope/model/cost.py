"""Energy, cycles and utilisation from access counts (Timeloop model/buffer.cpp, arithmetic.cpp,
topology.cpp), and the labelled per-level blocks of a timeloop-model stats file.

* Vector accesses per action = ceil(scalar accesses per instance / block size), block size = width /
  datawidth words; energy = vector accesses x ERT energy of the action, per instance, times the utilized
  instances. ERT action names are looked up in Timeloop's priority order (model/topology.hpp):
  read: random_read, read; fill: random_fill, random_write, fill, write; update: random_update,
  random_write, update, write; compute: mac_random, mult_random, mac, mult, compute.
* Leakage = ERT ``leak`` (pJ per instance per cycle) x cycles x instances.
* Cycles of a storage level = ceil(compute cycles / slowdown), slowdown = min(1, read_bandwidth /
  read demand, write_bandwidth / write demand, shared_bandwidth / total demand), demands in words per cycle
  per instance (reads; fills + updates). Total cycles = the maximum over levels and compute.
* Utilisation = computes / (cycles x compute instances).
"""
from __future__ import annotations

import math
from typing import Any, Optional

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



def bandwidth_slowdown(level: ir.Level, reads: float, writes: float, compute_cycles: float) -> float:
    """How much a level's bandwidth slows the computation down (1: not at all): min(1, read bandwidth /
    reads per cycle, write bandwidth / (fills + updates) per cycle, shared bandwidth / both per cycle), with
    ``reads``/``writes`` the scalar accesses per instance over ``compute_cycles`` (Timeloop's model)."""
    slow = 1.0
    if compute_cycles > 0:
        rd, wr, lv = reads, writes, level
        if lv.read_bandwidth is not None and rd / compute_cycles > lv.read_bandwidth:
            slow = min(slow, lv.read_bandwidth / (rd / compute_cycles))
        if lv.write_bandwidth is not None and wr / compute_cycles > lv.write_bandwidth:
            slow = min(slow, lv.write_bandwidth / (wr / compute_cycles))
        if lv.shared_bandwidth is not None and (rd + wr) / compute_cycles > lv.shared_bandwidth:
            slow = min(slow, lv.shared_bandwidth / ((rd + wr) / compute_cycles))
    return slow


def _f2(x: float) -> str:
    return f"{x:.2f}"


def _cnt(x: float) -> str:
    r = round(x)
    return str(int(r)) if abs(x - r) < 1e-6 else f"{x:.2f}"


def build_result(nest: Nest, stats: NestStats, counts: list[list[TileCounts]]) -> ir.Result:
    arch, problem = nest.arch, nest.problem
    nlev, nds = nest.n_levels, len(nest.ds_names)
    warnings = list(stats.warnings)
    compute_cycles = stats.compute_cycles
    computes = float(compute_cycles * stats.compute_instances)
    # Per-level energies and bandwidth-limited cycles.
    level_cycles: list[int] = []
    slowdowns: list[float] = []
    per_level: list[dict[str, Any]] = []
    for s in range(nlev):
        lv = nest.storage[s]
        e = lv.action_energy_pJ or {}
        er, ef, eu = (action_energy(e, READ_ACTIONS), action_energy(e, FILL_ACTIONS),
                      action_energy(e, UPDATE_ACTIONS))
        kept_any = any(counts[s][d].kept for d in range(nds))
        missing = [n for n, v in (("read", er), ("write/fill", ef), ("update", eu)) if v is None]
        if kept_any and missing and not lv.is_dummy:
            warnings.append(f"{lv.name}: no ERT energy for {', '.join(missing)}; counted as 0 pJ")
        er, ef, eu = er or 0.0, ef or 0.0, eu or 0.0
        block = lv.block_size
        rd = wr = 0.0
        ds_energy = {}
        for d in range(nds):
            c = counts[s][d]
            if not c.kept:
                continue
            rd += c.reads
            wr += c.fills + c.updates
            vr, vf, vu = (vector_accesses(c.reads, block), vector_accesses(c.fills, block),
                          vector_accesses(c.updates, block))
            ds_energy[d] = {"read": vr * er, "fill": vf * ef, "update": vu * eu}
        slow = bandwidth_slowdown(lv, rd, wr, compute_cycles)
        slowdowns.append(slow)
        level_cycles.append(int(math.ceil(compute_cycles / slow - 1e-9)) if slow > 0 else compute_cycles)
        per_level.append({"er": er, "ef": ef, "eu": eu, "ds_energy": ds_energy, "reads": rd, "writes": wr})
    cycles = float(max([compute_cycles] + level_cycles))
    comp = arch.compute
    ec = action_energy(comp.action_energy_pJ or {}, COMPUTE_ACTIONS)
    if ec is None:
        warnings.append(f"{comp.name}: no ERT energy for compute; counted as 0 pJ")
        ec = 0.0
    compute_energy = computes * ec
    comp_leak = float((comp.action_energy_pJ or {}).get("leak", 0.0)) * cycles * comp.instances
    compute_energy_total = compute_energy + comp_leak

    energy_per_level: dict[str, float] = {comp.name: compute_energy_total}
    by_action: dict[str, dict[str, float]] = {comp.name: {"compute": compute_energy, "leak": comp_leak}}
    accesses: dict[str, dict[str, ir.DataspaceAccesses]] = {}
    blocks: list[dict] = []
    total_ops = computes + max(0.0, computes - _output_size(nest))
    # Arithmetic block.
    blocks.append({
        "index": 0, "name": comp.name, "kind": "arithmetic",
        "specs": {"Word bits": "16" if "datawidth" not in comp.attributes else str(comp.word_bits),
                  "Instances": f"{comp.instances} ({comp.mesh_x}*{comp.mesh_y})",
                  "Compute energy": f"{_f2(ec)} pJ"},
        "stats": {"Utilized instances": str(stats.compute_instances), "Computes (total)": _cnt(computes),
                  "Cycles": str(compute_cycles), "Energy (total)": f"{_f2(compute_energy_total)} pJ",
                  "Area (total)": f"{_f2(comp.area_um2 * comp.instances)} um^2"},
        "dataspaces": {},
    })
    intensity_levels: dict[str, dict[str, str]] = {}
    for s in range(nlev):
        lv = nest.storage[s]
        pl = per_level[s]
        leak_per = float((lv.action_energy_pJ or {}).get("leak", 0.0))
        leak_total = leak_per * cycles * lv.instances
        level_energy = leak_total
        act = {"read": 0.0, "fill": 0.0, "update": 0.0, "leak": leak_total}
        ds_blocks: dict[str, dict[str, str]] = {}
        accesses[lv.name] = {}
        total_scalar = 0.0
        for d in range(nds):
            c = counts[s][d]
            if not c.kept:
                continue
            name = nest.ds_names[d]
            de = pl["ds_energy"][d]
            per_inst = de["read"] + de["fill"] + de["update"]
            inst = c.replication
            total_e = per_inst * inst
            level_energy += total_e
            for k in ("read", "fill", "update"):
                act[k] += de[k] * inst
            n_acc = c.reads + c.fills + c.updates
            total_scalar += n_acc * inst
            accesses[lv.name][name] = ir.DataspaceAccesses(reads=c.reads * inst, fills=c.fills * inst,
                                                           updates=c.updates * inst, tile_words=float(c.size))
            addr = (c.updates + c.fills) if c.rw else (c.reads + c.fills)
            sl = slowdowns[s]
            rbw = c.reads / compute_cycles * sl if compute_cycles else 0.0
            wbw = (c.fills + c.updates) / compute_cycles * sl if compute_cycles else 0.0
            ds_blocks[name] = {
                "Partition size": str(c.partition_size),
                "Utilized capacity": str(c.size),
                "Utilized instances (max)": str(inst),
                "Utilized clusters (max)": str(inst),
                "Scalar reads (per-instance)": _cnt(c.reads),
                "Scalar fills (per-instance)": _cnt(c.fills),
                "Scalar updates (per-instance)": _cnt(c.updates),
                "Temporal reductions (per-instance)": _cnt(c.temporal_reductions),
                "Address generations (per-cluster)": _cnt(addr),
                "Energy (per-scalar-access)": f"{_f2(per_inst / n_acc if n_acc else 0.0)} pJ",
                "Energy (per-instance)": f"{_f2(per_inst)} pJ",
                "Energy (total)": f"{_f2(total_e)} pJ",
                "Temporal Reduction Energy (per-instance)": "0.00 pJ",
                "Temporal Reduction Energy (total)": "0.00 pJ",
                "Address Generation Energy (per-cluster)": "0.00 pJ",
                "Address Generation Energy (total)": "0.00 pJ",
                "Bandwidth Consumption Scale": "1.00",
                "Shared Bandwidth (per-instance)": f"{_f2(rbw + wbw)} words/cycle",
                "Shared Bandwidth (total)": f"{_f2((rbw + wbw) * inst)} words/cycle",
                "Read Bandwidth (per-instance)": f"{_f2(rbw)} words/cycle",
                "Read Bandwidth (total)": f"{_f2(rbw * inst)} words/cycle",
                "Write Bandwidth (per-instance)": f"{_f2(wbw)} words/cycle",
                "Write Bandwidth (total)": f"{_f2(wbw * inst)} words/cycle",
            }
        energy_per_level[lv.name] = level_energy
        by_action[lv.name] = act
        size_words = None if lv.depth is None else lv.depth * lv.block_size
        eff = None if size_words is None else int(math.floor(size_words / max(lv.multiple_buffering, 1e-12)))
        vae = max(pl["er"], pl["ef"], pl["eu"])

        def bw(x: Optional[float]) -> str:
            return "-" if x is None else _f2(x)

        blocks.append({
            "index": 1 + s + 0, "name": lv.name, "kind": "buffer",
            "specs": {
                "Technology": "DRAM" if "DRAM" in lv.cls else "SRAM",
                "Size": "-" if size_words is None else str(size_words),
                "Word bits": str(lv.word_bits),
                "Block size": str(lv.block_size),
                "Cluster size": "1",
                "Instances": f"{lv.instances} ({lv.mesh_x}*{lv.mesh_y})",
                "Shared bandwidth": bw(lv.shared_bandwidth),
                "Read bandwidth": bw(lv.read_bandwidth),
                "Write bandwidth": bw(lv.write_bandwidth),
                "Multiple buffering": _f2(lv.multiple_buffering),
                "Effective size": "-" if eff is None else str(eff),
                "Min utilization": _f2(min_utilization(lv)),
                "Vector access energy": f"{_f2(vae)} pJ",
                "Vector access energy source": "ERT" if lv.action_energy_pJ else "-",
                "Per-instance-cycle leakage": f"{_f2(leak_per)} pJ",
                "Instances sharing power gating": "1.00",
                "Non-power-gated utilization": "100.00%",
                "Leakage energy (total)": f"{_f2(leak_total)} pJ",
                "Area": f"{_f2(lv.area_um2)} um^2",
            },
            "stats": {"Cycles": str(level_cycles[s]), "Bandwidth throttling": _f2(slowdowns[s])},
            "dataspaces": ds_blocks,
        })
        if ds_blocks:
            bytes_acc = total_scalar * lv.word_bits / 8.0
            intensity_levels[lv.name] = {"Total scalar accesses": _cnt(total_scalar),
                                         "Op per Byte": _f2(total_ops / bytes_acc if bytes_acc else 0.0)}
        else:
            intensity_levels[lv.name] = {}
    # Timeloop numbers levels: arithmetic 0, then storage levels innermost first.
    for i, blk in enumerate(blocks):
        blk["index"] = i
    energy = sum(energy_per_level.values())
    word_bits = nest.storage[-1].word_bits if nest.storage else 8
    required = float(sum(_full_size(nest, d) for d in range(nds)))
    summary = {
        "GFLOPs (@1GHz)": _f2(total_ops / cycles if cycles else 0.0),
        "Utilization": f"{100.0 * computes / (cycles * comp.instances) if cycles else 0.0:.2f}%",
        "Cycles": str(int(cycles)),
        "Energy": f"{energy * 1e-6:.2f} uJ",
        "EDP(J*cycle)": f"{energy * 1e-12 * cycles:.2e}",
        "Area": f"{_area_mm2(arch):.2f} mm^2",
    }
    intensity_total = {
        "Total elementwise ops": _cnt(computes),
        "Total reduction ops": _cnt(max(0.0, computes - _output_size(nest))),
        "Total ops": _cnt(total_ops),
        "Total memory accesses required": _cnt(required),
        "Optimal Op per Byte": _f2(total_ops / (required * word_bits / 8.0) if required else 0.0),
    }
    fj: dict[str, float] = {}
    if computes:
        fj[comp.name] = energy_per_level[comp.name] / computes * 1000.0
        for s in range(nlev):
            if blocks[s + 1]["dataspaces"]:
                fj[nest.storage[s].name] = energy_per_level[nest.storage[s].name] / computes * 1000.0
        fj["Total"] = energy / computes * 1000.0
    names = [comp.name] + [lv.name for lv in nest.storage]
    nets = [f"{nest.storage[s + 1].name} <==> {nest.storage[s].name}" for s in range(nlev - 1)]
    nets.append(f"{nest.storage[0].name} <==> {comp.name}")
    fj_width = max(len(n) for n in names + nets) + 1
    utilization = computes / (cycles * comp.instances) if cycles else 0.0
    extra: dict[str, Any] = {
        "levels": blocks,
        "summary": summary,
        "intensity": {"total": intensity_total, "levels": intensity_levels},
        "fJ_per_compute": fj,
        "fJ_width": fj_width,
        "energy_by_action_pJ": by_action,
        "level_cycles": {nest.storage[s].name: level_cycles[s] for s in range(nlev)},
        "compute_cycles": compute_cycles,
        "warnings": warnings,
        "link_transfers_used": stats.link_transfers_used,
    }
    level_stats = {comp.name: ir.LevelStats(comp.name, "arithmetic", float(compute_cycles),
                                            energy_per_level[comp.name])}
    for s in range(nlev):
        lv = nest.storage[s]
        level_stats[lv.name] = ir.LevelStats(lv.name, "buffer", float(level_cycles[s]), energy_per_level[lv.name], {
            nest.ds_names[d]: ir.DataspaceStats(float(c.replication), float(c.reads), float(c.fills),
                                                float(c.updates), float(c.size))
            for d, c in enumerate(counts[s]) if c.kept})
    return ir.Result(energy_pJ=energy, cycles=cycles, computes=computes, utilization=utilization,
                     energy_pJ_per_level=energy_per_level, accesses=accesses, engine="builtin",
                     op_name=problem.name, cycle_seconds=arch.cycle_seconds, extra=extra, level_stats=level_stats)


def _output_size(nest: Nest) -> float:
    return float(sum(_full_size(nest, d) for d in range(len(nest.ds_names)) if nest.read_write[d]))


def _full_size(nest: Nest, d: int) -> int:
    import numpy as np
    return nest.tile_size(d, np.array(nest.sizes, dtype=np.int64))


def _area_mm2(arch: ir.Arch) -> float:
    a = sum(lv.area_um2 * lv.instances for lv in arch.levels) + arch.compute.area_um2 * arch.compute.instances
    return a * 1e-6
