"""The vectorised model scoring CiM candidates (pipeline.score) against the exact model, the reference.

For every WWW mapping variant of convolutions (strided, 7x7, 1x1, grouped-like blocks), plain and padded
GEMMs, on CiM hierarchies at rf/smem/l2 of a100_like and a100_sm: the vectorised model's result
(:func:`fast_result`) equals the exact model's energy, cycles, energy per level and accesses, and the CiM
latency applied to either gives the same cycles; the pass picks the same candidate the exact model would.
"""
import pytest

from cimscope import ir
from cimscope.engine import get_engine
from cimscope.evaluate import gemm_op
from cimscope.pipeline.candidates import padded_cim_mappings
from cimscope.pipeline.cim_latency import postprocess
from cimscope.pipeline.cim_map import CimOptions
from cimscope.pipeline.reduce import best_index, edp
from cimscope.pipeline.score import choose, exact, fast_result, fast_scores
from cimscope.study import Study, placed


def conv(C, K, R, S, P, Q, stride=1, N=1):
    return ir.Op(
        name=f"conv{C}x{K}x{R}s{stride}", target="aten.convolution.default", module="m", op_class="GEMM",
        kind="conv", dims={"N": N, "C": C, "K": K, "R": R, "S": S, "P": P, "Q": Q},
        tensors=[ir.Tensor("Inputs", "input", [[("N", 1)], [("C", 1)], [("R", 1), ("P", "Wstride")],
                                               [("S", 1), ("Q", "Hstride")]], 8),
                 ir.Tensor("Weights", "weight", [[("C", 1)], [("K", 1)], [("R", 1)], [("S", 1)]], 8),
                 ir.Tensor("Outputs", "output", [[("N", 1)], [("K", 1)], [("Q", 1)], [("P", 1)]], 8, True)],
        coefficients={"Wstride": stride, "Hstride": stride}, macs=N * C * K * R * S * P * Q)


OPS = [conv(3, 64, 7, 7, 14, 14, stride=2), conv(64, 64, 3, 3, 14, 14), conv(256, 512, 1, 1, 7, 7, stride=2),
       gemm_op(197, 256, 128), gemm_op(13, 64, 64), gemm_op(64, 1024, 1024)]
STUDIES = [Study(arch="a100_like", placement=pl, primitive=pr)
           for pl, pr in (("rf", "analog6T"), ("smem", "digital6T"), ("l2", "analog8T"), ("smem", "digital8T"))]
STUDIES += [Study(arch="a100_sm", placement="rf", primitive="analog6T"),
            Study(arch="a100_sm", placement="smem", primitive="digital6T", interleave=False, duplicate=False)]


@pytest.mark.parametrize("study", STUDIES, ids=lambda s: f"{s.arch}-{s.label()}")
def test_vectorised_cim_scoring_equals_the_exact_model(study):
    engine = get_engine("builtin")
    for op in OPS:
        arch = placed(study, 8).gemm
        cands = padded_cim_mappings(op.to_problem(), arch, CimOptions(study.interleave, study.duplicate))
        scores, rows = fast_scores(cands, arch)
        exact_results = [exact(c, arch, engine) for c in cands]
        for c, s, ex, i in zip(cands, scores, exact_results, range(len(cands))):
            fr = fast_result(c.problem, arch, *rows[i])
            raw = engine.evaluate(c.problem, arch, c.mapping)
            assert fr.energy_pJ == pytest.approx(raw.energy_pJ, rel=1e-9)
            assert fr.cycles == raw.cycles and fr.computes == raw.computes
            assert list(fr.energy_pJ_per_level) == list(raw.energy_pJ_per_level)
            for lv, e in raw.energy_pJ_per_level.items():
                assert fr.energy_pJ_per_level[lv] == pytest.approx(e, rel=1e-9, abs=1e-9)
            for lv, per in raw.accesses.items():
                for ds, a in per.items():
                    f = fr.accesses[lv].get(ds, ir.DataspaceAccesses())
                    assert (f.reads, f.fills, f.updates) == pytest.approx((a.reads, a.fills, a.updates))
            assert postprocess(fr, arch, c.info).cycles == ex.cycles
            assert s == pytest.approx(edp(ex), rel=1e-9)
        # the pass keeps the candidate the exact model would keep
        best, result = choose(cands, arch, engine)
        assert best is cands[best_index(edp(r) for r in exact_results)]
        assert result.energy_pJ == pytest.approx(exact_results[cands.index(best)].energy_pJ, rel=1e-9)
