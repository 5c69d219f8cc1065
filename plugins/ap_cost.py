"""Energy and cycles of an Associative Processor operation: pass counts
(:mod:`cimscope.plugins.ap_programs`) x per-bit cell costs (:mod:`cimscope.plugins.ap_cells`)."""
from __future__ import annotations

import math
from typing import NamedTuple, Optional

from cimscope.errors import InputError
from cimscope.plugins.ap_cells import CellParams, cell_params
from cimscope.plugins.ap_programs import (ApPasses, ap_passes, canonical_operation, reduce_stage,
                                          reduction_stages)


class ApCost(NamedTuple):
    energy_pJ: float
    cycles: float


def passes_energy_pJ(passes: ApPasses, rows: float, p: CellParams) -> float:
    """Energy of executing ``passes`` on ``rows`` active rows (see the module docstring)."""
    wbits = passes.write_bits if p.write_charges == "rows" else passes.matched_write_bits
    return rows * (passes.compare_bits * p.compare_fJ + wbits * p.write_fJ) * 1e-3


def passes_cycles(passes: ApPasses, p: CellParams) -> float:
    return passes.cycles(p.write_cycles)


def ap_operation_cost(operation: str, bits: int, rows_active: float, bits_b: Optional[int] = None, *,
                      cell: str = "sram", technology: float = 16.0, voltage: Optional[float] = None,
                      params: Optional[CellParams] = None) -> ApCost:
    """(energy in pJ, AP clock cycles) of one ``operation`` on ``rows_active`` rows in parallel.

    Energy = rows x (compare key bits x compare energy/bit + written bits x write energy/bit) over the passes;
    cycles = compares + writes x write_cycles (one compare per clock; the clock is the compare cycle).
    For ``reduce``, ``rows_active`` is the number N of words summed (``bits_b`` ignored): stage s runs on
    ceil(N / 2^(s-1)) rows. Latency in seconds: ``cycles * params.cycle_s``."""
    op = canonical_operation(operation)
    if rows_active < 0:
        raise InputError(f"AP {op}: rows_active={rows_active} must be >= 0")
    p = params or cell_params(cell, technology, voltage)
    if op == "reduce":
        n = int(math.ceil(rows_active))
        e = 0.0
        cyc = 0.0
        stage = reduce_stage(bits)
        for s in range(1, reduction_stages(n) + 1):
            e += passes_energy_pJ(stage, math.ceil(n / 2 ** (s - 1)), p)
            cyc += passes_cycles(stage, p)
        return ApCost(e, cyc)
    ps = ap_passes(op, bits, bits_b)
    return ApCost(passes_energy_pJ(ps, rows_active, p), passes_cycles(ps, p))
