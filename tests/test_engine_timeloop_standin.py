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
