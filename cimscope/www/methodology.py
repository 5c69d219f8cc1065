"""The ``www`` methodology: one GEMM on the WWW architectures as the artifact evaluates it.

* CiM (``rf`` or ``smem`` x a primitive, 4 arrays): the priority-based dataflow
  (:func:`cimscope.www.dataflow.priority_dataflow`) fixes every loop factor, so the mapping is built from it
  and evaluated once with cimscope's Timeloop model; WWW's post-processing (:mod:`cimscope.www.latency`) gives
  the reported cycles and energy next to the engine's.
* Baseline (``none``): cimscope's mapper under the artifact's baseline constraints, best EDP (the artifact ran
  timeloop-mapper with ``optimization_metrics: [edp]``).

Which dataflow rule a placement uses (``DATAFLOWS``): ``artifact`` follows the artifact's stored runs (RF:
the priority rule with threshold 4, outputs_consv2p1; SMEM: the earlier K-over-banks rule, outputs_cons);
``v2`` uses the published constraints/main.py at both placements (threshold 32).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Optional

from cimscope import ir
from cimscope.errors import InputError, UnknownNameError
from cimscope.www import arch as www_arch
from cimscope.www.dataflow import RF_THRESHOLD, THRESHOLD, Dataflow, priority_dataflow
from cimscope.www.latency import LevelTraffic, WwwLatency, post_process

DATAFLOWS = ("artifact", "v2")
#: Mapper budget of the baseline search (evaluations; deterministic for a seed).
BASELINE_EVALUATIONS = 6000


@dataclass
class WwwResult:
    """One GEMM on one WWW configuration (one occurrence)."""

    M: int
    N: int
    K: int
    placement: str
    primitive: Optional[str]
    energy_pJ: float                         # reported energy (CiM: engine + WWW's reduction energy)
    timeloop_energy_pJ: float                # the engine's energy
    timeloop_cycles: float                   # the engine's cycles, before CiM latency post-processing
    cycles: float                            # after WWW's post-processing (baseline: the engine's)
    energy_pJ_per_level: dict[str, float]
    macs: int
    bound: str = ""
    dataflow: Optional[dict[str, Any]] = None
    post: Optional[dict[str, Any]] = None
    mapping: Optional[ir.Mapping] = None     # the mapping the engine evaluated (of ``padded_to`` if set)
    padded_to: Optional[str] = None          # baseline: the GEMM the PE array computed (N, K rounded up to 16)

    @property
    def edp_Js(self) -> float:
        return self.energy_pJ * 1e-12 * self.cycles * www_arch.CYCLE_S

    @property
    def tops_per_W(self) -> float:
        """Operations (MACs + reductions, Timeloop's 'Total ops') per joule / 1e12."""
        ops = 2 * self.macs - self.M * self.N
        return ops / self.energy_pJ if self.energy_pJ else 0.0


def gemm_problem(M: int, N: int, K: int) -> ir.Problem:
    """The artifact's GEMM problem (designs/_include/mm-example.yaml): Z[M,N] += A[M,K] B[N,K], 8-bit."""
    def t(name, role, proj, rw=False):
        return ir.Tensor(name=name, role=role, projection=[[(d, 1)] for d in proj], bits=8, read_write=rw)
    return ir.Problem(name=f"gemm_{M}x{N}x{K}", dims={"M": M, "N": N, "K": K},
                      dataspaces=[t("A", "input", "MK"), t("B", "weight", "NK"), t("Z", "output", "MN", True)])


def dataflow_for(placement: str, primitive: str, M: int, N: int, K: int, variant: str = "artifact",
                 X: int = www_arch.DEFAULT_X, Y: int = www_arch.DEFAULT_Y) -> Dataflow:
    if variant not in DATAFLOWS:
        raise UnknownNameError("dataflow variant", variant, DATAFLOWS)
    g = www_arch.Geometry.of(primitive)
    smem = www_arch.SMEM_DATAFLOW_WORDS if placement == "rf" else None
    if variant == "artifact":
        threshold = RF_THRESHOLD if placement == "rf" else THRESHOLD
        rule = "priority" if placement == "rf" else "k_banks"
    else:
        threshold, rule = THRESHOLD, "priority"
    return priority_dataflow(M, N, K, g.Rp, g.Cp, g.Rh, g.Ch, X, Y, smem_words=smem, threshold=threshold,
                             bank_rule=rule)


def _lm(target, factors, perm, keep, spatial=None, split=None) -> ir.LevelMapping:
    return ir.LevelMapping(target=target, temporal_factors=factors, temporal_permutation=perm,
                           spatial_factors=spatial or {}, spatial_permutation="NKM" if spatial else "",
                           spatial_split=split, keep=keep, bypass=[d for d in www_arch.DS_ALL if d not in keep])


def cim_mapping(df: Dataflow, placement: str) -> ir.Mapping:
    """The mapping a dataflow fixes on the CiM hierarchy (outermost level first)."""
    one = {"M": 1, "N": 1, "K": 1}
    levels = [_lm("DRAM", df.dram.as_dict(), df.dram_order, list(www_arch.DS_ALL))]
    if placement == "rf":
        levels.append(_lm("SMEM", df.smem.as_dict(), df.smem_order, ["A", "Z"]))
    levels += [
        _lm("inter_CiMBank_spatial", dict(one), "MNK", [], spatial=df.bank.as_dict(), split=0),
        _lm("inter_CiMArray_spatial", dict(one), "MNK", [], spatial=df.array.as_dict(), split=1),
        _lm("CiMInpBuffer", dict(one), "MNK", ["A"]),
        _lm("CiMOutBuffer", dict(one), "MNK", ["Z"]),
        _lm("CiMStorage", df.hold.as_dict(), "MKN", ["B"]),
    ]
    return ir.Mapping(levels=levels)


def run_model(problem: ir.Problem, arch: ir.Arch, mapping: ir.Mapping
              ) -> tuple[ir.Result, float, dict[str, LevelTraffic]]:
    """cimscope's Timeloop model (the steps of :func:`cimscope.model.evaluate`), keeping the per-instance
    counts the post-processing needs: (result, compute cycles per instance, traffic per kept level)."""
    from cimscope.model import check_capacity
    from cimscope.model.analysis import analyse
    from cimscope.model.cost import build_result
    from cimscope.model.nest import build_nest
    from cimscope.model.tiling import collapse

    nest = build_nest(problem, arch, mapping)
    stats = analyse(nest)
    check_capacity(nest, stats)
    counts = collapse(nest, stats)
    result = build_result(nest, stats, counts)
    traffic = {}
    for s, lv in enumerate(nest.storage):
        kept = [c for c in counts[s] if c.kept]
        if kept:
            traffic[lv.name] = LevelTraffic(reads=sum(c.reads for c in kept), updates=sum(c.updates for c in kept),
                                            temporal_reductions=sum(c.temporal_reductions for c in kept))
    return result, float(stats.compute_cycles), traffic


def evaluate_cim(M: int, N: int, K: int, placement: str, primitive: str, variant: str = "artifact",
                 X: int = www_arch.DEFAULT_X, Y: int = www_arch.DEFAULT_Y) -> WwwResult:
    df = dataflow_for(placement, primitive, M, N, K, variant, X, Y)
    arch = www_arch.cim_arch(placement, primitive, X, Y)
    mapping = cim_mapping(df, placement)
    res, compute_cycles, traffic = run_model(gemm_problem(M, N, K), arch, mapping)
    lat: WwwLatency = post_process(res.cycles, res.energy_pJ, compute_cycles, df.hold.K, df.hold.N,
                                   www_arch.Geometry.of(primitive).latency_cycles, traffic)
    post = {k: v for k, v in asdict(lat).items() if k not in ("timeloop_cycles", "cycles", "energy_pJ")}
    return WwwResult(M=M, N=N, K=K, placement=placement, primitive=primitive, energy_pJ=lat.energy_pJ,
                     timeloop_energy_pJ=res.energy_pJ, timeloop_cycles=res.cycles, cycles=lat.cycles,
                     energy_pJ_per_level=dict(res.energy_pJ_per_level), macs=M * N * K, bound=lat.bound,
                     dataflow=df.to_artifact(), post=post, mapping=mapping)


def evaluate_baseline(M: int, N: int, K: int, max_evaluations: int = BASELINE_EVALUATIONS,
                      seed: int = 0) -> WwwResult:
    """Best-EDP mapping on the baseline SM. Its PEs take exactly N = 16 x K = 16 (arch_split.yaml), so an N or
    K that 16 does not divide is rounded up to the next multiple of 16, as a tensor core zero-fills a partial
    tile; the padded MACs are computed and costed (``padded_to`` names the GEMM that ran)."""
    from cimscope.mappers import map_problem
    n_pad, k_pad = -(-N // www_arch.PE_SIDE) * www_arch.PE_SIDE, -(-K // www_arch.PE_SIDE) * www_arch.PE_SIDE
    mapping, res = map_problem(gemm_problem(M, n_pad, k_pad), www_arch.baseline_arch(), objective="edp",
                               max_evaluations=max_evaluations, seed=seed,
                               constraints=www_arch.baseline_constraints(), cache=False, progress=False)
    return WwwResult(M=M, N=N, K=K, placement="none", primitive=None, energy_pJ=res.energy_pJ,
                     timeloop_energy_pJ=res.energy_pJ, timeloop_cycles=res.cycles, cycles=res.cycles,
                     energy_pJ_per_level=dict(res.energy_pJ_per_level), macs=M * N * K, bound="timeloop",
                     mapping=mapping,
                     padded_to=f"{M}x{n_pad}x{k_pad}" if (n_pad, k_pad) != (N, K) else None)


def evaluate(M: int, N: int, K: int, placement: str, primitive: Optional[str] = None, variant: str = "artifact",
             **kw) -> WwwResult:
    """One GEMM at ``placement`` (none, rf, smem) with ``primitive`` (None for none)."""
    if placement not in www_arch.PLACEMENTS:
        raise UnknownNameError("placement", placement, www_arch.PLACEMENTS)
    if placement == "none":
        if primitive is not None:
            raise InputError("placement none takes no primitive")
        return evaluate_baseline(M, N, K, **kw)
    if primitive is None:
        raise InputError(f"placement {placement} needs a primitive; primitives: {', '.join(www_arch.PRIMITIVES)}")
    return evaluate_cim(M, N, K, placement, primitive, variant, **kw)
