"""The mapper never writes a mapping that breaks a constraint, a fanout or a capacity.

Property (hypothesis): over random architectures (2-3 storage levels, a spatial fanout, bounded buffers) and
random constraint sets (exact and bounded factors, partial permutations, spatial splits, keep/bypass), every
mapping the mapper returns passes the checker ``cimscope model`` uses, evaluates exactly, and, written as
v0.4 YAML with the constraints as architecture constraints, is read back by ``load_inputs`` with the same
numbers. Then the same on the public exercises' mapper cases (05-*, 06, the example designs).
"""
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cimscope import ir
from cimscope.errors import MappingError
from cimscope.mappers.search import search
from cimscope.model import evaluate
from cimscope.timeloop import Constraints, inputs_to_yaml, load_inputs
from cimscope.timeloop.ert import arch_to_ert
from cimscope.timeloop.constraints import LevelConstraint, check_mapping
from cimscope.timeloop.stats import parse_stats
from refpaths import REFERENCE

DIMS = ("M", "N", "K")


def _problem(sizes):
    return ir.Problem(name="gemm", dims=dict(zip(DIMS, sizes)), dataspaces=[
        ir.Tensor("A", "input", [[("M", 1)], [("K", 1)]], 8),
        ir.Tensor("B", "weight", [[("K", 1)], [("N", 1)]], 8),
        ir.Tensor("Z", "output", [[("M", 1)], [("N", 1)]], 8, read_write=True)])


def _arch(mx, my, glb_depth, rf_depth, inter=False):
    """DRAM -> GLB -> [timeloopfe's spatial-only dummy level ``inter``] -> mx x my RFs -> MACs."""
    e = {"read": 2.0, "write": 2.5, "update": 2.5}
    pes = mx * my
    levels = [ir.Level("DRAM", "DRAM", depth=None, action_energy_pJ={"read": 100.0, "write": 100.0, "update": 100.0}),
              ir.Level("GLB", "SRAM", depth=glb_depth, action_energy_pJ=e)]
    if inter:
        levels.append(ir.Level("inter", "dummy_storage", depth=1, width=1, word_bits=1))
    levels.append(ir.Level("RF", "regfile", instances=pes, mesh_x=mx, mesh_y=my, depth=rf_depth,
                           action_energy_pJ={"read": 0.3, "write": 0.4, "update": 0.4}))
    return ir.Arch("rand", levels, ir.ComputeLevel("MAC", instances=pes, mesh_x=mx, mesh_y=my,
                                                  action_energy_pJ={"compute": 0.5}))


def _divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


@st.composite
def cases(draw):
    sizes = [draw(st.sampled_from([1, 2, 3, 4, 6, 8, 12, 16])) for _ in DIMS]
    mx, my = draw(st.sampled_from([1, 2, 4])), draw(st.sampled_from([1, 2]))
    inter = draw(st.booleans())
    a = _arch(mx, my, draw(st.sampled_from([64, 256, 1024])), draw(st.sampled_from([4, 16, 64])), inter)
    p = _problem(sizes)
    cons = Constraints()
    if inter:                           # as timeloopfe writes it: no temporal loop, nothing kept, at the dummy level
        lc = LevelConstraint(target="inter", bypass=["A", "B", "Z"])
        lc.temporal_factors = {d: ("=", 1) for d in DIMS}
        cons.levels["inter"] = lc
    for name in ("DRAM", "GLB", "RF"):
        if not draw(st.booleans()):
            continue
        lc = LevelConstraint(target=name)
        for d, n in zip(DIMS, sizes):
            pick = draw(st.sampled_from(["", "=", "<="]))
            if pick:
                lc.temporal_factors[d] = (pick, draw(st.sampled_from(_divisors(n))))
        if draw(st.booleans()):
            lc.temporal_permutation = list(draw(st.permutations(DIMS)))[:draw(st.integers(1, 3))]
        if name == "GLB" and not inter and mx * my > 1 and draw(st.booleans()):
            lc.spatial_permutation = list(draw(st.permutations(DIMS)))
            lc.spatial_split = draw(st.integers(0, 3))
        if name != "DRAM" and draw(st.booleans()):
            lc.bypass = [draw(st.sampled_from(["A", "B", "Z"]))]
        cons.levels[name] = lc
    if inter and mx * my > 1 and draw(st.booleans()):
        cons.levels["inter"].spatial_permutation = list(draw(st.permutations(DIMS)))
        cons.levels["inter"].spatial_split = draw(st.integers(0, 3))
    return p, a, cons


def _roundtrip(tmp_path, p, a, cons, m, r):
    """The mapping as v0.4 YAML, the constraints as architecture constraints: timeloop-model's check."""
    doc = inputs_to_yaml(a, p, m)
    doc["architecture_constraints"] = cons.to_yaml()
    doc.update(arch_to_ert(a))
    f = tmp_path / "in.yaml"
    f.write_text(yaml.safe_dump(doc))
    ti = load_inputs([f])
    r2 = evaluate(ti.problem, ti.arch, ti.mapping)
    assert (r2.energy_pJ, r2.cycles) == pytest.approx((r.energy_pJ, r.cycles), rel=1e-9)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(cases())
def test_mapper_output_satisfies_every_constraint(tmp_path, case):
    p, a, cons = case
    try:
        res = search(p, a, constraints=cons, max_evaluations=400, seed=1, progress=False)
    except MappingError:
        return                                       # nothing fits: refused, never a broken mapping
    assert check_mapping(cons, res.mapping, p, label="constraint") == []
    r = evaluate(p, a, res.mapping)                  # fanout and capacity checks of the exact model
    assert r.energy_pJ == pytest.approx(res.result.energy_pJ)
    _roundtrip(tmp_path, p, a, cons, res.mapping, r)


EX = REFERENCE / "timeloop_exercises"
TUT = EX / "tutorial_exercises" / "01_accelergy_timeloop_2020_ispass"
MAPPER_CASES = [TUT / "timeloop" / "05-mapper-conv1d+oc-3level" / "ref-output" / v for v in ("baked", "freebypass",
                                                                                             "null")]
MAPPER_CASES += [TUT / "timeloop" / "06-mapper-convlayer-eyeriss" / "ref-output",
                 TUT / "timeloop+accelergy" / "ref-output" / "intmac",
                 EX / "tutorial_exercises" / "02_interface_and_design_space_exploration_2024" / "outputs"]
MAPPER_CASES += [EX / "example_designs" / "example_designs" / n / "ref_outputs" / "default_problem"
                 for n in ("eyeriss_like", "simba_like", "simple_weight_stationary", "simple_output_stationary")]


@pytest.mark.parametrize("d", MAPPER_CASES, ids=lambda d: str(d.relative_to(EX)))
def test_exercise_mapper_cases_are_accepted_by_the_model(tmp_path, d):
    """cimscope mapper's map for the processed input is accepted by cimscope model with the same numbers."""
    from cimscope.timeloop import mapping_to_yaml
    st_ = next(d.glob("*.stats.txt"))
    ert = d / f"{st_.name.split('.')[0]}.ERT.yaml"
    ti = load_inputs([d / "parsed-processed-input.yaml"], ert=ert, check_mapping_constraints=False)
    res = search(ti.problem, ti.arch, constraints=ti.constraints, max_evaluations=600, seed=0, progress=False)
    assert check_mapping(ti.constraints, res.mapping, ti.problem, label="constraint") == []
    m = tmp_path / "map.yaml"
    m.write_text(yaml.safe_dump({"mapping": mapping_to_yaml(res.mapping, ti.problem)}))
    back = load_inputs([d / "parsed-processed-input.yaml", m], ert=ert)
    r = evaluate(back.problem, back.arch, back.mapping)
    assert (r.energy_pJ, r.cycles) == pytest.approx((res.result.energy_pJ, res.result.cycles), rel=1e-9)
    assert parse_stats(st_).energy_pJ > 0
