"""One NonGEMM operator under one Study: SIMT lanes of the GPU baseline in every placement
(:mod:`cimscope.gpu.simt`); never dropped. Views/reshapes that move 0 bytes cost 0 and say so."""
from __future__ import annotations

from cimscope import ir
from cimscope.gpu.simt import StreamLevel, lane_op_pJ, simt_cost, simt_lanes, stream_levels
from cimscope.study import Study, placed

#: SIMT streams bytes; the GEMM datapath width (which sets word counts) does not matter here.
SIMT_BITS = 8


def simt_setup(study: Study) -> tuple[list[StreamLevel], int, float, str, float]:
    """(levels streamed through, lanes, lane op energy pJ, its source, cycle seconds) of ``study``."""
    pa = placed(study, SIMT_BITS)
    e_op, src = lane_op_pJ(pa.base)
    return stream_levels(pa.base, pa.cim), simt_lanes(pa.base), e_op, src, pa.base.cycle_seconds


def evaluate_nongemm(op: ir.Op, study: Study) -> dict:
    """One occurrence of NonGEMM ``op`` on the SIMT lanes (the record layout of
    :func:`cimscope.pipeline.gemm.evaluate_gemm`)."""
    levels, lanes, e_op, src, cycle_s = simt_setup(study)
    c = simt_cost(op, levels, lanes, e_op, src)
    return {"energy_pJ": c.energy_pJ, "cycles": c.cycles, "cycle_seconds": cycle_s,
            "computes": float(op.elem_ops), "utilization": 0.0, "energy_pJ_per_level": c.energy_pJ_per_level,
            "bound": c.bound, "engine": "simt", "extra": {"unit": "simt" if c.cycles or c.energy_pJ else "none",
                                                         "lanes": lanes, "lane_op_pJ": e_op,
                                                         "lane_op_source": src, "stream_level": c.stream_level},
            "note": c.note}
