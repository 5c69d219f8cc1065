"""The builtin mapper: valid, deterministic for a seed, honours constraints, caches, explains failures."""
import json
from pathlib import Path

import numpy as np
import pytest

from cimscope import ir
from cimscope.errors import InputError, MappingError
from cimscope.mappers import cache as mcache
from cimscope.mappers import map_problem
from cimscope.mappers.mapspace import MapSpace, prime_factors
from cimscope.model import evaluate
from cimscope.timeloop import Constraints, load_inputs
from cimscope.timeloop.constraints import LevelConstraint, check_mapping
from refpaths import REFERENCE

REF = REFERENCE / "timeloop_cases"
KP = REF / "04-conv1d+oc-3levelspatial-kp"


def gemm(M=8, N=16, K=12, name="gemm"):
    return ir.Problem(name=name, dims={"M": M, "N": N, "K": K}, dataspaces=[
        ir.Tensor("A", "input", [[("M", 1)], [("K", 1)]], 8),
        ir.Tensor("B", "weight", [[("K", 1)], [("N", 1)]], 8),
        ir.Tensor("Z", "output", [[("M", 1)], [("N", 1)]], 8, read_write=True)])


def arch(rf_depth=32, n_pe=4):
    e = lambda r, w: {"read": r, "write": w, "update": w}  # noqa: E731
    return ir.Arch("a3", [
        ir.Level("DRAM", "DRAM", depth=None, action_energy_pJ=e(200.0, 200.0)),
        ir.Level("GLB", "SRAM", depth=512, action_energy_pJ={**e(6.0, 7.0), "leak": 0.01}),
        ir.Level("RF", "regfile", instances=n_pe, mesh_x=n_pe, depth=rf_depth, action_energy_pJ=e(0.4, 0.5)),
    ], ir.ComputeLevel("MAC", instances=n_pe, mesh_x=n_pe, action_energy_pJ={"compute": 0.8}))


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CIMSCOPE_CACHE", str(tmp_path / "cache"))
    mcache.clear_memory()
    yield
    mcache.clear_memory()


def test_prime_factors():
    assert prime_factors(224) == [2, 2, 2, 2, 2, 7]
    assert prime_factors(1) == []


def test_mapping_is_valid_exact_and_deterministic():
    p, a = gemm(), arch()
    m1, r1 = map_problem(p, a, max_evaluations=2500, seed=3, cache=False, progress=False)
    m2, r2 = map_problem(p, a, max_evaluations=2500, seed=3, cache=False, progress=False)
    assert m1 == m2 and r1.energy_pJ == r2.energy_pJ
    again = evaluate(p, a, m1)                     # the returned result is the exact model's
    assert again.energy_pJ == pytest.approx(r1.energy_pJ) and again.cycles == r1.cycles
    assert r1.extra["mapper"]["evaluations"] <= 2500
    # uses the 4 PEs: 8*16*12 MACs over 4 MACs
    assert r1.cycles == 8 * 16 * 12 / 4


@pytest.mark.skipif(not KP.exists(), reason="reference Timeloop runs not available")
def test_mapper_beats_the_hand_written_reference_mapping():
    ti = load_inputs([KP / "parsed-processed-input.yaml", KP / "timeloop-model.ERT.yaml"])
    ref = evaluate(ti.problem, ti.arch, ti.mapping)
    m, r = map_problem(ti.problem, ti.arch, objective="edp", max_evaluations=4000, cache=False, progress=False)
    assert r.energy_pJ * r.cycles <= ref.energy_pJ * ref.cycles
    m_e, r_e = map_problem(ti.problem, ti.arch, objective="energy", max_evaluations=4000, cache=False, progress=False)
    assert r_e.energy_pJ <= r.energy_pJ * 1.01
    m_d, r_d = map_problem(ti.problem, ti.arch, objective="delay", max_evaluations=4000, cache=False, progress=False)
    assert r_d.cycles == 3072                      # 49152 MACs on 16 MACs: the minimum


def test_constraints_are_honoured():
    p, a = gemm(), arch()
    c = Constraints()
    c.for_level("RF").temporal_factors = {"K": ("=", 3), "N": ("<=", 2)}
    c.for_level("RF").temporal_permutation = ["K", "N"]
    c.for_level("RF").bypass = ["A"]
    c.for_level("GLB").spatial_factors = {"M": ("=", 4)}
    m, r = map_problem(p, a, constraints=c, max_evaluations=2000, cache=False, progress=False)
    rf = m.for_level("RF")
    assert rf.temporal_factors["K"] == 3 and rf.temporal_factors["N"] <= 2
    assert rf.temporal_permutation.startswith("KN")
    assert rf.bypass == ["A"] and "A" not in r.accesses["RF"]
    assert m.for_level("GLB").spatial_factors["M"] == 4
    check_mapping(c, m, p)                          # what timeloop-model would check (raises if violated)
    # the same constraints as Timeloop YAML targets
    m2, _ = map_problem(p, a, constraints=[{"target": "RF", "type": "temporal", "factors": "K=3"}],
                        max_evaluations=1500, cache=False, progress=False)
    assert m2.for_level("RF").temporal_factors["K"] == 3


def test_impossible_constraint_and_objective_are_rejected():
    p, a = gemm(), arch()
    c = Constraints({"RF": LevelConstraint("RF", temporal_factors={"K": ("=", 5)})})
    with pytest.raises(MappingError, match="K=5 at RF does not divide"):
        map_problem(p, a, constraints=c, cache=False, progress=False)
    with pytest.raises(InputError, match="unknown objective 'speed'"):
        map_problem(p, a, objective="speed", cache=False, progress=False)


def test_nothing_fits_names_level_and_dataspace():
    # The RF must keep all three data spaces but holds 2 words: even 1-word tiles need 3.
    p, a = gemm(), arch(rf_depth=2)
    c = Constraints({"RF": LevelConstraint("RF", keep=["A", "B", "Z"])})
    with pytest.raises(MappingError, match=r"level RF: data space \w overflows it: the kept tiles need 3 words"):
        map_problem(p, a, constraints=c, max_evaluations=600, cache=False, progress=False)


def test_cache_memory_and_disk(tmp_path):
    p, a = gemm(name="layer1"), arch()
    m1, r1 = map_problem(p, a, max_evaluations=1500, progress=False)
    files = list((tmp_path / "cache" / "mapper").glob("*.json"))
    assert len(files) == 1
    data = json.loads(files[0].read_text())
    assert data["mapping"] and data["meta"]["evaluations"] <= 1500
    assert not list((tmp_path / "cache" / "mapper").glob(".*.tmp"))       # atomic: no leftovers
    # same shape under another name: served from memory
    m2, r2 = map_problem(gemm(name="layer7"), a, max_evaluations=1500, progress=False)
    assert m2 == m1 and r2.extra["mapper"]["cached"]
    # fresh process (memory cleared): served from disk
    mcache.clear_memory()
    m3, r3 = map_problem(p, a, max_evaluations=1500, progress=False)
    assert m3 == m1 and r3.extra["mapper"]["cached"] and r3.energy_pJ == pytest.approx(r1.energy_pJ)
    # a different objective is a different entry
    map_problem(p, a, objective="energy", max_evaluations=1500, progress=False)
    assert len(list((tmp_path / "cache" / "mapper").glob("*.json"))) == 2


def test_mapspace_samples_fit_fanouts():
    p, a = gemm(M=16, N=16, K=16), arch(n_pe=8)
    space = MapSpace(p, a)
    c = space.sample(np.random.default_rng(0), 500)
    assert (np.prod(c.tf * c.sf, axis=1) == [16, 16, 16]).all()
    assert (np.prod(c.sf, axis=2)[:, 1] <= 8).all()            # GLB fans out to 8 PEs
    assert (c.sf[:, [0, 2]] == 1).all()                         # no fanout below RF or DRAM


def test_cache_key_covers_everything_that_changes_the_answer():
    # Another seed or budget is another search; other energies, bandwidths, constraints or objective are
    # another problem: none of them may be served the first run's cached mapping.
    p, a = gemm(), arch()
    _, r0 = map_problem(p, a, max_evaluations=400, seed=0, progress=False)
    assert not r0.extra["mapper"].get("cached")
    assert map_problem(p, a, max_evaluations=400, seed=0, progress=False)[1].extra["mapper"]["cached"]
    variants = []
    a_e = arch()
    a_e.level("GLB").action_energy_pJ["read"] = 60.0
    a_bw = arch()
    a_bw.level("GLB").read_bandwidth = 1.0
    variants = [dict(arch=a, seed=1), dict(arch=a, max_evaluations=500), dict(arch=a_e), dict(arch=a_bw),
                dict(arch=a, objective="delay"),
                dict(arch=a, constraints=Constraints({"RF": LevelConstraint("RF", keep=["A", "B", "Z"])}))]
    for v in variants:
        kw = {"max_evaluations": 400, "seed": 0, "progress": False, **v}
        _, r = map_problem(p, kw.pop("arch"), **kw)
        assert not r.extra["mapper"].get("cached"), v


def test_evaluation_budget_is_respected_and_errors_name_the_level():
    p, a = gemm(), arch()
    _, r = map_problem(p, a, max_evaluations=300, cache=False, progress=False)
    assert r.extra["mapper"]["evaluations"] <= 300
    c = Constraints({"GLB": LevelConstraint("GLB", temporal_factors={"K": ("=", 3)},
                                            spatial_factors={"K": ("=", 1)}),
                     "RF": LevelConstraint("RF", temporal_factors={"K": ("=", 2)}),
                     "DRAM": LevelConstraint("DRAM", temporal_factors={"K": ("=", 1)})})
    with pytest.raises(MappingError, match=r"constraints fix every factor of K \(DRAM temporal K=1, GLB temporal "
                                           r"K=3, GLB spatial K=1, RF temporal K=2\) but they multiply to 6, not 12"):
        map_problem(p, a, constraints=c, max_evaluations=100, cache=False, progress=False)
