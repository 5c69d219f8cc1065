"""CiM latency pass: the array latency Timeloop does not model, applied to an engine result (every engine).

Timeloop counts one MAC per cell per cycle. A CiM array instead completes one wave of ``Rp x Cp`` MACs every
``latency_cycles`` and cannot compute while its weights are written. With ``T`` the number of temporal steps
of the mapping (the product of all temporal loop bounds: the waves each array runs one after the other),
``W`` the weight words written per busy array (the CiM level's fills / busy arrays) and ``t_w`` the CiM
plug-in's write latency per word in cycles (one array cycle per word, the plug-in's stated assumption),

    cycles = max(engine cycles, T x latency_cycles + W x t_w)

(the engine's cycles already bound the transfers by each level's bandwidth). Energies come from the ERT the
engine used: MAC energy per MAC, write energy per weight word filled, 0 per compute read.
"""
from __future__ import annotations

import numpy as np

from cimscope import ir
from cimscope.pipeline.cim_map import CimMappingInfo

FORMULA = ("cycles = max(engine cycles, waves x latency_cycles + weight words per array x write cycles per "
           "word)")


def cim_cycles(engine_cycles, fills, info: CimMappingInfo, cim: ir.Level):
    """(cycles, compute cycles, write cycles) of the formula above; ``engine_cycles`` and ``fills`` (weight
    words written into the CiM level, all instances) may be NumPy arrays over candidates."""
    lat = int(cim.attributes["latency_cycles"])
    write_cycles = fills / max(1, info.arrays_busy) * float(cim.attributes["write_cycles_per_word"])
    compute_cycles = info.temporal_steps * lat
    return np.maximum(engine_cycles, compute_cycles + write_cycles), compute_cycles, write_cycles


def postprocess(result: ir.Result, arch: ir.Arch, info: CimMappingInfo) -> ir.Result:
    """Apply the CiM array latency (see the module doc) to an engine result on a CiM hierarchy."""
    cim = arch.levels[-1]
    a = cim.attributes
    acc = result.accesses.get(cim.name, {})
    fills = sum(x.fills for x in acc.values())
    cycles, compute_cycles, write_cycles = cim_cycles(float(result.cycles), fills, info, cim)
    cycles = float(cycles)
    extra = dict(result.extra)
    extra["cim"] = {
        "primitive": a["primitive"], "placement": a["placement"], "latency_cycles_per_wave": int(a["latency_cycles"]),
        "waves_per_array": info.temporal_steps, "compute_cycles": compute_cycles,
        "weight_words_written": fills, "write_cycles": write_cycles,
        "engine_cycles": float(result.cycles), "bound": "cim" if compute_cycles + write_cycles >= result.cycles
        else "bandwidth",
        "mapping": info.to_dict(),
        "formula": FORMULA,
    }
    util = result.computes / (cycles * cim.instances) if cycles > 0 else 0.0
    return ir.Result(energy_pJ=result.energy_pJ, cycles=cycles, computes=result.computes, utilization=util,
                     energy_pJ_per_level=dict(result.energy_pJ_per_level), accesses=result.accesses,
                     engine=result.engine, op_name=result.op_name, cycle_seconds=arch.cycle_seconds, extra=extra,
                     level_stats=result.level_stats)
