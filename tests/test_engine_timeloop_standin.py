"""`--engine timeloop` end to end, with cimscope's own drop-ins standing in for the binaries.

`cimscope model` / `cimscope mapper` read the same positional v0.4 inputs as timeloop-model / timeloop-mapper
and write the same files (timeloop-model.stats.txt, timeloop-mapper.map.yaml ...) into the working folder.
Put on $TIMELOOP_BIN under the real names, they let the timeloop engine's whole path run here: the inputs
evaluate_network writes must be valid Timeloop v0.4 files (read back by an independent reader), the stats
must parse, and the network totals must equal the builtin engine's. With the real binaries installed, the
same path runs them instead.
"""
import os

import pytest

from cimscope.evaluate import evaluate_network
from cimscope.workloads import export_model

FACTORY = """
import torch
def make():
    net = torch.nn.Sequential(torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(),
                              torch.nn.Flatten(), torch.nn.Linear(16 * 8 * 8, 32))
    return net, (torch.zeros(1, 8, 8, 8),)
"""




@pytest.fixture()
def tiny(tmp_path):
    f = tmp_path / "tiny.py"
    f.write_text(FACTORY)
    return export_model(f"{f}:make")


@pytest.mark.parametrize("placement,primitive", [("smem", "analog6T"), ("rf", "digital6T")])
def test_cim_placement_through_timeloop_model_equals_builtin(standin_binaries, tiny, placement, primitive):
    kw = dict(cache=None, progress=False)
    tl = evaluate_network(tiny, "a100_sm", placement, primitive, engine="timeloop", **kw)
    bi = evaluate_network(tiny, "a100_sm", placement, primitive, engine="builtin", **kw)
    assert tl.engine == "timeloop" and bi.engine == "builtin"
    assert [o.name for o in tl.ops] == [o.name for o in bi.ops]
    assert tl.energy_pJ == pytest.approx(bi.energy_pJ, rel=1e-6)
    assert tl.latency_s == pytest.approx(bi.latency_s, rel=1e-6)
    for a, b in zip(tl.ops, bi.ops):
        assert a.energy_pJ == pytest.approx(b.energy_pJ, rel=1e-6), a.name


def test_baseline_through_timeloop_mapper_is_a_complete_evaluation(standin_binaries, tiny):
    """Placement none maps with timeloop-mapper: every operator is evaluated, nothing costs zero."""
    tl = evaluate_network(tiny, "a100_sm", "none", None, engine="timeloop", cache=None, progress=False)
    gemms = [o for o in tl.ops if o.op_class == "GEMM"]
    assert len(gemms) == 2 and all(o.energy_pJ > 0 and o.latency_s > 0 for o in gemms)
    assert tl.energy_pJ > 0 and tl.latency_s >= sum(o.latency_s * o.count for o in gemms)


def test_timeloop_engine_without_binaries_says_what_to_install(tmp_path, monkeypatch, tiny):
    from cimscope.errors import EngineError
    monkeypatch.setenv("TIMELOOP_BIN", str(tmp_path / "empty"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(EngineError, match="timeloop-model not found"):
        evaluate_network(tiny, "a100_sm", "none", None, engine="timeloop", cache=None, progress=False)


def test_baseline_on_timeloop_engine_keeps_the_better_of_the_two_searches(standin_binaries, tiny):
    """A timeloop-mapper that stops after 300 evaluations (a weak search): the baseline on the timeloop engine
    takes the builtin mapper's mapping, scored by timeloop-model, so each GEMM equals the builtin engine's, and
    the result says which search it kept."""
    import sys

    weak = standin_binaries / "timeloop-mapper"
    weak.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m cimscope mapper "$@" --max-evaluations 300 --out .\n')
    kw = dict(cache=None, progress=False)
    tl = evaluate_network(tiny, "a100_sm", "none", None, engine="timeloop", **kw)
    bi = evaluate_network(tiny, "a100_sm", "none", None, engine="builtin", **kw)
    gemms = [(a, b) for a, b in zip(tl.ops, bi.ops) if a.op_class == "GEMM"]
    assert len(gemms) == 2
    for a, b in gemms:
        assert a.energy_pJ == pytest.approx(b.energy_pJ, rel=1e-6), a.name
        assert a.latency_s == pytest.approx(b.latency_s, rel=1e-6), a.name


def test_objective_values_compare_as_timeloop_metrics():
    """map_best_known ranks the two mappers' results with the builtin mapper's own score."""
    from cimscope import ir
    from cimscope.mappers.search import result_score as objective_value

    def result(energy_pJ, cycles):
        return ir.Result(energy_pJ=energy_pJ, cycles=cycles, computes=1, utilization=1.0, energy_pJ_per_level={},
                         accesses={})

    fast_costly = result(10.0, 5)
    slow_cheap = result(4.0, 20)
    assert objective_value(fast_costly, "edp") < objective_value(slow_cheap, "edp")
    assert objective_value(slow_cheap, "energy") < objective_value(fast_costly, "energy")
    assert objective_value(fast_costly, "delay") < objective_value(slow_cheap, "delay")
    assert objective_value(result(1.0, 5), "delay") < objective_value(fast_costly, "delay")


def test_map_best_known_names_the_search_it_kept(standin_binaries):
    import sys

    from cimscope.arch.builders import build_arch
    from cimscope.engine import get_engine
    from cimscope.evaluate import gemm_op

    weak = standin_binaries / "timeloop-mapper"
    weak.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m cimscope mapper "$@" --max-evaluations 300 --out .\n')
    problem = gemm_op(64, 256, 256, name="fc").to_problem()
    _, r = get_engine("timeloop").map_best_known(problem, build_arch("a100_sm"), objective="edp")
    m = r.extra["mapper"]
    assert m["scored_by"] == "timeloop-model"
    assert m["chosen"] == "cimscope mapper" and m["edp_cimscope_mapper"] < m["edp_timeloop_mapper"]
    assert r.energy_pJ * r.cycles == pytest.approx(m["edp_cimscope_mapper"], rel=1e-9)
