"""--budget-s: counted in evaluations (same budget and seed, same mapping on any load), spent in full unless the
mapspace is exhausted (reported), and a larger budget repeats a smaller one's evaluations first."""
import pytest

from cimscope import ir
from cimscope.mappers.search import EVALUATIONS_PER_SECOND, search


def _gemm(M, N, K):
    return ir.Problem(name="gemm", dims={"M": M, "N": N, "K": K}, dataspaces=[
        ir.Tensor("A", "input", [[("M", 1)], [("K", 1)]], 8),
        ir.Tensor("B", "weight", [[("K", 1)], [("N", 1)]], 8),
        ir.Tensor("Z", "output", [[("M", 1)], [("N", 1)]], 8, read_write=True)])


def _arch():
    e = lambda r, w: {"read": r, "write": w, "update": w}  # noqa: E731
    return ir.Arch("a3", [
        ir.Level("DRAM", "DRAM", depth=None, action_energy_pJ=e(200.0, 200.0)),
        ir.Level("GLB", "SRAM", depth=512, action_energy_pJ=e(6.0, 7.0)),
        ir.Level("RF", "regfile", instances=4, mesh_x=4, depth=32, action_energy_pJ=e(0.4, 0.5)),
    ], ir.ComputeLevel("MAC", instances=4, mesh_x=4, action_energy_pJ={"compute": 0.8}))


def test_budget_is_counted_in_evaluations_and_spent():
    p, a = _gemm(16, 32, 24), _arch()
    r1 = search(p, a, budget_s=0.5, seed=2, progress=False)
    r2 = search(p, a, budget_s=0.5, seed=2, progress=False)
    assert r1.mapping == r2.mapping and r1.result.energy_pJ == r2.result.energy_pJ
    assert r1.evaluations == int(0.5 * EVALUATIONS_PER_SECOND)           # spent in full
    assert r1.result.extra["mapper"]["budget_evaluations"] == r1.evaluations
    assert not r1.result.extra["mapper"]["exhausted"]


def test_larger_budget_repeats_the_smaller_one_first():
    p, a = _gemm(16, 32, 24), _arch()
    small = search(p, a, budget_s=0.3, seed=5, progress=False)
    big = search(p, a, budget_s=1.0, seed=5, progress=False)
    sv, bv = [v for _, v in small.history], [v for _, v in big.history]
    assert bv[:len(sv) - 1] == sv[:-1]              # the same improvements (the small run's last batch is cut)
    assert bv[-1] <= sv[-1]


def test_a_tiny_mapspace_is_exhausted_and_said_so():
    p, a = _gemm(2, 1, 1), _arch()
    r = search(p, a, budget_s=5.0, seed=0, progress=False)
    assert r.evaluations < 5.0 * EVALUATIONS_PER_SECOND
    assert r.result.extra["mapper"]["exhausted"]
    assert r.result.energy_pJ == pytest.approx(search(p, a, budget_s=1.0, seed=0, progress=False).result.energy_pJ)


def test_no_mapping_error_tells_a_small_budget_from_an_architecture_that_cannot_fit():
    """The first-found error names the true reason: a level too small for even the smallest footprint (with every
    data space bypassed where the mapspace may bypass it), or a budget that found no valid candidate."""
    from cimscope.arch.builders import build_arch
    from cimscope.errors import MappingError
    from cimscope.evaluate import gemm_op
    from cimscope.mappers import map_problem

    fc = gemm_op(64, 256, 256, name="fc").to_problem()
    with pytest.raises(MappingError, match=r"no valid mapping of fc found in 1 evaluations"):
        map_problem(fc, build_arch("a100_sm"), max_evaluations=1, cache=False, progress=False)
    tiny = _arch()
    tiny.levels[2].depth = 1
    tiny.levels[2].keep = ["A", "B", "Z"]            # forced to keep all three in a one-word RF
    with pytest.raises(MappingError, match=r"no mapping of gemm fits a3: even with the smallest tiles.*RF"):
        map_problem(_gemm(8, 8, 8), tiny, max_evaluations=50, cache=False, progress=False)
