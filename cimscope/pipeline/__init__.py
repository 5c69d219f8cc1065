"""The per-operator evaluation as passes over typed records, then network assembly.

candidates (:mod:`.candidates`) -> map (:mod:`.cim_map`, or the engine's mapper in :mod:`.gemm`) -> evaluate
(:mod:`.score`: vectorised scoring, exact winner) -> CiM latency (:mod:`.cim_latency`) -> residency
(:mod:`.residency`) -> reduce (:mod:`.reduce`: one objective, ties to the first) -> network (:mod:`.network`).
NonGEMM operators: :mod:`.nongemm` (SIMT lanes, :mod:`cimscope.gpu.simt`).
"""
