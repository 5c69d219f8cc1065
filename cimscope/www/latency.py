"""WWW's latency and energy post-processing of a CiM run, a separate figure next to the engine's cycles.

Timeloop counts one cycle per MAC step of a CiM unit; a CiM primitive needs ``latency_cycles`` cycles per
step. The artifact's post-processing (github.com/tanvisharma/WWWtoCiM, www-cim/post-process/get_stats.py,
``dump_stats``) turns a run's statistics into its reported cycles and energy as follows, and this module does
the same from cimscope's typed counts:

* arithmetic cycles = CiMUnit cycles x (K loop x N loop of CiMStorage) x primitive latency. The CiMUnit cycles
  already count the CiMStorage loops once (they are temporal loops of every unit), so Rh x Ch is counted twice
  when the held weights are used; written as the artifact computes it;
* memory cycles of a level = max(reads / read bandwidth, updates / write bandwidth), per instance and summed
  over data spaces, with 42 words/cycle at SMEM, 32 at DRAM and 1 at every other level (fills do not count);
* cycles = max(arithmetic cycles, memory cycles of every level);
* energy = engine energy + 0.05 pJ (an 8-bit adder) x the temporal reductions per instance, summed over levels
  and data spaces (the reductions of one instance, not of all instances, as the artifact sums them).

The baseline (no CiM) is not post-processed: its cycles and energy are the engine's.
"""
from __future__ import annotations

from dataclasses import dataclass, field

#: Bandwidths (words/cycle) the post-processing assumes per level (get_stats.py calculate_new_cycles).
POST_BANDWIDTH = {"SMEM": 42.0, "DRAM": 32.0}
#: Energy of one temporal reduction outside the CiM arrays: an 8-bit integer adder, 45 nm (get_stats.py).
REDUCTION_PJ = 0.05


@dataclass(frozen=True)
class LevelTraffic:
    """Per-instance scalar traffic of one storage level, summed over the data spaces it keeps."""

    reads: float
    updates: float
    temporal_reductions: float


@dataclass(frozen=True)
class WwwLatency:
    """The post-processed figures of one CiM run."""

    timeloop_cycles: float                   # the engine's cycles (before post-processing)
    arithmetic_cycles: float
    memory_cycles: dict[str, float] = field(default_factory=dict)
    cycles: float = 0.0                      # after post-processing
    bound: str = ""                          # "arithmetic" or the level whose traffic sets ``cycles``
    reduction_energy_pJ: float = 0.0
    energy_pJ: float = 0.0                   # engine energy + reduction energy
    cycles_hold_once: float = 0.0            # the same with CiMStorage's loops counted once (not the artifact's)


def post_process(timeloop_cycles: float, energy_pJ: float, compute_cycles: float, hold_k: int, hold_n: int,
                 latency_cycles: int, traffic: dict[str, LevelTraffic]) -> WwwLatency:
    """WWW's cycles and energy of a CiM run from the engine's figures and per-level ``traffic``."""
    arithmetic = float(compute_cycles) * hold_k * hold_n * latency_cycles
    memory = {name: max(t.reads / POST_BANDWIDTH.get(name, 1.0), t.updates / POST_BANDWIDTH.get(name, 1.0))
              for name, t in traffic.items()}
    cycles, bound = arithmetic, "arithmetic"
    for name, c in memory.items():
        if c > cycles:
            cycles, bound = c, name
    reductions = sum(t.temporal_reductions for t in traffic.values()) * REDUCTION_PJ
    once = max([float(compute_cycles) * latency_cycles] + list(memory.values()))
    return WwwLatency(timeloop_cycles=float(timeloop_cycles), arithmetic_cycles=arithmetic, memory_cycles=memory,
                      cycles=cycles, bound=bound, reduction_energy_pJ=reductions, energy_pJ=energy_pJ + reductions,
                      cycles_hold_once=once)
