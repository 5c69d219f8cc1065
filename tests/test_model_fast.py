"""The vectorised model (evaluate_many) against the exact one (evaluate) on random mappings.

Both implement the same semantics; evaluate_many does not model link transfers between spatial neighbours,
so the comparison uses ``evaluate(..., link_transfers=False)`` (exact match required for every valid
mapping), and checks that link transfers, where the exact model finds them, only lower the energy.
"""
import numpy as np
import pytest

from cimscope.errors import MappingError
from cimscope.mappers.mapspace import MapSpace
from cimscope.model import evaluate, evaluate_many
from cimscope.model.fast import evaluate_batch, make_static
from cimscope.timeloop.yaml_io import arch_from_yaml, problem_from_yaml
from cimscope.timeloop.ert import apply_ert, ert_table
import yaml

ARCH = yaml.safe_load("""
subtree:
- name: system
  attributes: {technology: 45nm, global_cycle_seconds: 1e-9}
  local:
  - {name: DRAM, class: DRAM, attributes: {width: 64, datawidth: 8}}
  - {name: GlobalBuffer, class: SRAM, attributes: {depth: 512, width: 64, datawidth: 8, read_bandwidth: 8}}
  subtree:
  - name: PE[0..15]
    attributes: {meshX: 4, meshY: 4}
    local:
    - {name: Scratchpad, class: regfile, attributes: {depth: 48, width: 8, datawidth: 8}}
    - {name: MAC, class: intmac, attributes: {width: 8}}
""")
ERT = {"tables": [
    {"name": "system.DRAM", "actions": [{"name": n, "energy": 512} for n in ("read", "write", "update")]},
    {"name": "system.GlobalBuffer", "actions": [{"name": "read", "energy": 20}, {"name": "write", "energy": 22},
                                                {"name": "update", "energy": 23}, {"name": "leak", "energy": 0.01}]},
    {"name": "system.PE[0..15].Scratchpad", "actions": [{"name": "read", "energy": 0.5}, {"name": "write", "energy": 0.6},
                                                        {"name": "update", "energy": 0.7}]},
    {"name": "system.PE[0..15].MAC", "actions": [{"name": "compute", "energy": 1.0}]}]}


def conv(**inst):
    base = {"C": 4, "M": 8, "R": 3, "S": 3, "N": 1, "P": 6, "Q": 6}
    base.update(inst)
    return problem_from_yaml({"shape": {
        "name": "conv", "dimensions": ["C", "M", "R", "S", "N", "P", "Q"],
        "coefficients": [{"name": "Wstride", "default": 1}, {"name": "Hstride", "default": 1}],
        "data_spaces": [
            {"name": "Weights", "projection": [[["C"]], [["M"]], [["R"]], [["S"]]]},
            {"name": "Inputs", "projection": [[["N"]], [["C"]], [["R"], ["P", "Wstride"]], [["S"], ["Q", "Hstride"]]]},
            {"name": "Outputs", "projection": [[["N"]], [["M"]], [["Q"]], [["P"]]], "read_write": True}]},
        "instance": base})


def arch():
    a = arch_from_yaml(ARCH)
    apply_ert(a, ert_table(ERT))
    return a


@pytest.mark.parametrize("inst", [{}, {"Wstride": 2, "Hstride": 2, "P": 4, "Q": 3, "C": 2}])
def test_fast_equals_exact_on_random_mappings(inst):
    problem, a = conv(**inst), arch()
    space = MapSpace(problem, a)
    rng = np.random.default_rng(7)
    cand = space.mutate(rng, space.sample(rng, 1500), 1500)
    out = evaluate_batch(make_static(problem, a), cand.batch())
    valid = np.nonzero(out["valid"])[0]
    assert len(valid) >= 60
    lt_seen = 0
    for i in valid[:60]:
        m = space.to_mapping(cand, i)
        r = evaluate(problem, a, m, link_transfers=False)
        assert out["energy_pJ"][i] == pytest.approx(r.energy_pJ, rel=1e-9)
        assert out["cycles"][i] == r.cycles
        for s, lv in enumerate(space.levels):
            for k, ds in enumerate(space.ds):
                if ds in r.accesses[lv.name]:
                    acc = r.accesses[lv.name][ds]
                    assert (out["reads"][i, s, k], out["fills"][i, s, k], out["updates"][i, s, k]) == \
                        pytest.approx((acc.reads, acc.fills, acc.updates))
        full = evaluate(problem, a, m)
        if full.extra["link_transfers_used"]:
            lt_seen += 1
            assert full.energy_pJ <= r.energy_pJ + 1e-9
    if not inst:
        assert lt_seen > 0                      # the exact model's link-transfer path was exercised
    for i in np.nonzero(~out["valid"])[0][:15]:
        with pytest.raises(MappingError):
            evaluate(problem, a, space.to_mapping(cand, i))


def test_evaluate_many_accepts_mapping_lists():
    problem, a = conv(), arch()
    space = MapSpace(problem, a)
    cand = space.sample(np.random.default_rng(3), 200)
    maps = [space.to_mapping(cand, i) for i in range(cand.n)]
    out1 = evaluate_many(problem, a, maps)
    out2 = evaluate_batch(make_static(problem, a), cand.batch())
    assert np.array_equal(out1["valid"], out2["valid"])
    np.testing.assert_allclose(out1["energy_pJ"][out1["valid"]], out2["energy_pJ"][out2["valid"]])
    assert out1["energy_pJ_per_level"].shape == (200, 1 + len(a.levels))


EXAMPLES = ["simba_like", "simple_weight_stationary"]


@pytest.mark.parametrize("name", EXAMPLES)
def test_fast_equals_exact_with_leakage_and_clusters(name):
    """simba_like (cluster_size 64, leakage) and simple_weight_stationary (leakage of partly used PEs): the
    mapper's vectorised scores follow the same leakage, cluster and MAC rules as the exact model."""
    from refpaths import REFERENCE
    from cimscope.timeloop import load_inputs
    d = REFERENCE / "timeloop_exercises" / "example_designs" / "example_designs" / name / "ref_outputs" / \
        "default_problem"
    ti = load_inputs([d / "parsed-processed-input.yaml"], ert=d / "timeloop-mapper.ERT.yaml",
                     check_mapping_constraints=False)
    space = MapSpace(ti.problem, ti.arch, ti.constraints)
    rng = np.random.default_rng(11)
    cand = space.sample(rng, 400)
    out = evaluate_batch(make_static(ti.problem, ti.arch), cand.batch())
    valid = np.nonzero(out["valid"])[0]
    assert len(valid) >= 5
    for i in valid[:8]:
        r = evaluate(ti.problem, ti.arch, space.to_mapping(cand, i), link_transfers=False)
        assert out["energy_pJ"][i] == pytest.approx(r.energy_pJ, rel=1e-9)
        assert out["cycles"][i] == r.cycles
