"""The real-Timeloop backend, exercised with fake timeloop-model / timeloop-mapper executables on PATH.

The fakes check that every YAML input they are given parses and that together they hold an architecture,
a problem and a mapping (or mapper settings), record their arguments, and write a reference run's
statistics under Timeloop's output names in their working directory.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cimscope.engine import get_engine
from cimscope.errors import EngineError, UnknownNameError
from cimscope.timeloop import load_inputs
from cimscope.timeloop.stats import parse_stats
from refpaths import REFERENCE

REF = REFERENCE / "timeloop_cases"
KP = REF / "04-conv1d+oc-3levelspatial-kp"
pytestmark = pytest.mark.skipif(not KP.exists(), reason="reference Timeloop runs not available")
ROOT = Path(__file__).resolve().parents[1]

FAKE = r'''#!{python}
import json, shutil, sys, yaml
from pathlib import Path
prog = Path(sys.argv[0]).name
merged = {{}}
for a in sys.argv[1:]:
    doc = yaml.safe_load(open(a))
    assert isinstance(doc, dict), a
    merged.update(doc)
need = {{"architecture", "problem"}} | ({{"mapping"}} if prog == "timeloop-model" else {{"mapper"}})
missing = need - set(merged)
if missing or {fail}:
    print("ERROR: missing " + ", ".join(sorted(missing)), file=sys.stderr)
    sys.exit(1)
Path("args.json").write_text(json.dumps(sys.argv[1:]))
ref = Path({ref!r})
shutil.copy(ref / "timeloop-model.stats.txt", prog + ".stats.txt")
shutil.copy(ref / "timeloop-model.map.txt", prog + ".map.txt")
if prog == "timeloop-mapper":
    raw = yaml.safe_load(open(ref / "parsed-processed-input.yaml"))
    Path(prog + ".map.yaml").write_text(yaml.safe_dump({{"mapping": raw["mapping"]}}))
'''


def _install(bin_dir: Path, name: str, fail: bool = False) -> Path:
    bin_dir.mkdir(parents=True, exist_ok=True)
    p = bin_dir / name
    p.write_text(FAKE.format(python=sys.executable, ref=str(KP), fail=fail))
    p.chmod(0o755)
    return p


@pytest.fixture
def fake_path(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    _install(bin_dir, "timeloop-model")
    _install(bin_dir, "timeloop-mapper")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("TIMELOOP_BIN", raising=False)
    return bin_dir


def _inputs():
    return load_inputs([KP / "parsed-processed-input.yaml", KP / "timeloop-model.ERT.yaml",
                        KP / "timeloop-model.ART.yaml"])


def test_missing_binaries_give_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("TIMELOOP_BIN", raising=False)
    with pytest.raises(EngineError, match=r"timeloop-model not found .*PATH=.*install Timeloop"):
        get_engine("timeloop")
    with pytest.raises(UnknownNameError, match="valid engines: builtin, timeloop"):
        get_engine("maestro")


def test_timeloop_engine_runs_model_and_parses_stats(fake_path, tmp_path):
    ti = _inputs()
    out = tmp_path / "run"
    r = get_engine("timeloop", out_dir=str(out)).evaluate(ti.problem, ti.arch, ti.mapping)
    ref = parse_stats(KP / "timeloop-model.stats.txt")
    assert r.engine == "timeloop"
    assert (r.energy_pJ, r.cycles, r.computes) == (ref.energy_pJ, ref.cycles, ref.computes)
    assert r.accesses["GlobalBuffer"]["Inputs"].reads == 1152
    assert (out / "timeloop-model.stats.txt").exists() and "map_txt" in r.extra
    # the inputs it was given describe the same architecture, problem and mapping
    args = json.loads((out / "args.json").read_text())
    assert {Path(a).name for a in args} >= {"arch.yaml", "problem.yaml", "map.yaml", "ERT.yaml", "ART.yaml"}
    again = load_inputs(args)
    assert [(lv.name, lv.instances, lv.depth, lv.block_size) for lv in again.arch.levels] == \
        [(lv.name, lv.instances, lv.depth, lv.block_size) for lv in ti.arch.levels]
    assert again.arch.level("GlobalBuffer").action_energy_pJ == ti.arch.level("GlobalBuffer").action_energy_pJ
    assert again.mapping == ti.mapping
    # and the builtin engine agrees with what 'timeloop-model' reported
    b = get_engine("builtin").evaluate(ti.problem, ti.arch, ti.mapping)
    assert b.energy_pJ == pytest.approx(r.energy_pJ, rel=1e-3) and b.cycles == r.cycles


def test_failing_binary_reports_its_error(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    _install(bin_dir, "timeloop-model", fail=True)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    ti = _inputs()
    with pytest.raises(EngineError, match=r"timeloop-model failed with exit status 1 .*ERROR: missing"):
        get_engine("timeloop").evaluate(ti.problem, ti.arch, ti.mapping)


def test_failed_run_leaves_no_temporary_folder(tmp_path, monkeypatch):
    """Without an output folder each run works in a temporary one, removed also when the binary fails."""
    import tempfile
    bin_dir, scratch = tmp_path / "bin", tmp_path / "scratch"
    scratch.mkdir()
    _install(bin_dir, "timeloop-model", fail=True)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    ti = _inputs()
    with pytest.raises(EngineError):
        get_engine("timeloop").evaluate(ti.problem, ti.arch, ti.mapping)
    assert list(scratch.iterdir()) == []


def test_timeloop_mapper_backend(fake_path, tmp_path):
    ti = _inputs()
    m, r = get_engine("timeloop", out_dir=str(tmp_path / "m")).map(ti.problem, ti.arch, objective="energy",
                                                                    max_evaluations=100)
    assert m == ti.mapping
    assert r.cycles == 3072 and r.extra["mapper"]["engine"] == "timeloop"
    cfg = yaml.safe_load((tmp_path / "m" / "extra.yaml").read_text())["mapper"]
    assert cfg["optimization_metrics"] == ["energy"] and cfg["search_size"] == 100


def test_cli_model_with_timeloop_engine(fake_path, tmp_path):
    out = subprocess.run([sys.executable, "-m", "cimscope", "model", str(KP / "parsed-processed-input.yaml"),
                          "--ert", str(KP / "timeloop-model.ERT.yaml"), "--engine", "timeloop", "--json"],
                         capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["engine"] == "timeloop" and doc["cycles"] == 3072


def test_run_timeloop_model_script(fake_path, tmp_path):
    folder = tmp_path / "export"
    (folder / "problems").mkdir(parents=True)
    raw = yaml.safe_load((KP / "parsed-processed-input.yaml").read_text())
    (folder / "problems" / "000-conv-abc.yaml").write_text(yaml.safe_dump({"problem": raw["problem"]}))
    (folder / "problems" / "index.yaml").write_text("model: x\n")
    (folder / "arch.yaml").write_text(yaml.safe_dump({"architecture": raw["architecture"]}))
    (folder / "ERT.yaml").write_text((KP / "timeloop-model.ERT.yaml").read_text())
    (folder / "mappings").mkdir()
    (folder / "mappings" / "000-conv-abc.map.yaml").write_text(yaml.safe_dump({"mapping": raw["mapping"]}))
    out = subprocess.run(["bash", str(ROOT / "scripts" / "run_timeloop_model.sh"), str(folder)],
                         capture_output=True, text=True, env={**os.environ, "CIMSCOPE_PYTHON": sys.executable})
    assert out.returncode == 0, out.stderr
    assert (folder / "timeloop" / "000-conv-abc" / "timeloop-model.stats.txt").exists()
    lines = (folder / "timeloop" / "summary.csv").read_text().splitlines()
    assert lines[0].startswith("problem,timeloop_energy_pJ")
    name, tl_e, bi_e, ratio, tl_c, bi_c, c_ratio = lines[1].split(",")
    assert name == "000-conv-abc" and abs(float(ratio) - 1) < 1e-3 and tl_c == bi_c == "3072"


def test_run_timeloop_model_script_without_binary(tmp_path):
    out = subprocess.run(["bash", str(ROOT / "scripts" / "run_timeloop_model.sh"), str(tmp_path)],
                         capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "CIMSCOPE_PYTHON": sys.executable, "HOME": str(tmp_path)})
    assert out.returncode == 3
    assert "timeloop-model not found" in out.stderr and "install Timeloop" in out.stderr
