"""`cimscope mapper`: drop-in for timeloop-mapper (writes the best mapping as v0.4 YAML + stats)."""
import json
from pathlib import Path

import pytest
import yaml

from cimscope.cli import main
from cimscope.model import evaluate
from cimscope.timeloop import load_inputs
from refpaths import REFERENCE

REF = REFERENCE / "timeloop_cases"
KP = REF / "04-conv1d+oc-3levelspatial-kp"
pytestmark = pytest.mark.skipif(not KP.exists(), reason="reference Timeloop runs not available")


@pytest.fixture
def inputs(tmp_path, monkeypatch):
    monkeypatch.setenv("CIMSCOPE_CACHE", str(tmp_path / "cache"))
    from cimscope.mappers import cache
    cache.clear_memory()
    raw = yaml.safe_load((KP / "parsed-processed-input.yaml").read_text())
    del raw["mapping"]
    p = tmp_path / "in.yaml"
    p.write_text(yaml.safe_dump(raw))
    return p


def test_mapper_writes_mapping_and_stats(inputs, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["mapper", str(inputs), str(KP / "timeloop-model.ERT.yaml"), "--objective", "edp",
               "--max-evaluations", "3000", "--seed", "1", "--out", str(out), "--json"])
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["objective"] == "edp" and doc["cycles"] == 3072
    assert doc["mapper"]["evaluations"] <= 3000
    # the written mapping is a v0.4 mapping that evaluates to the reported numbers
    ti = load_inputs([inputs, KP / "timeloop-model.ERT.yaml", out / "timeloop-mapper.map.yaml"])
    r = evaluate(ti.problem, ti.arch, ti.mapping)
    assert r.energy_pJ == pytest.approx(doc["energy_pJ"]) and r.cycles == doc["cycles"]
    assert (out / "timeloop-mapper.stats.txt").read_text().startswith("Buffer and Arithmetic Levels")
    assert "<< Compute >>" in (out / "timeloop-mapper.map.txt").read_text()
    # hand-written reference mapping of this case is not better
    ref = load_inputs([KP / "parsed-processed-input.yaml", KP / "timeloop-model.ERT.yaml"])
    rr = evaluate(ref.problem, ref.arch, ref.mapping)
    assert doc["energy_pJ"] * doc["cycles"] <= rr.energy_pJ * rr.cycles


def test_mapper_bad_options(inputs, capsys):
    assert main(["mapper", str(inputs), str(KP / "timeloop-model.ERT.yaml"), "--objective", "speed"]) == 2
    assert "unknown objective 'speed'; objectives are edp, energy, delay" in capsys.readouterr().err
    assert main(["mapper", str(inputs)]) == 2                   # no energies, objective needs them
    assert "no energy per action" in capsys.readouterr().err
