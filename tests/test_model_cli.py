"""`cimscope model`: drop-in for timeloop-model (same inputs, same stats), JSON output, errors."""
import json
from pathlib import Path

import pytest

from cimscope.cli import main
from cimscope.timeloop.stats import parse_stats
from refpaths import REFERENCE

REF = REFERENCE / "timeloop_cases"
KP = REF / "04-conv1d+oc-3levelspatial-kp"
pytestmark = pytest.mark.skipif(not KP.exists(), reason="reference Timeloop runs not available")


def test_model_json_matches_timeloop(capsys):
    rc = main(["model", str(KP / "parsed-processed-input.yaml"), "--ert", str(KP / "timeloop-model.ERT.yaml"),
               "--art", str(KP / "timeloop-model.ART.yaml"), "--json"])
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    ref = parse_stats(KP / "timeloop-model.stats.txt")
    assert doc["cycles"] == 3072 and doc["computes"] == 49152 and doc["utilization"] == 1.0
    assert doc["energy_pJ"] == pytest.approx(ref.energy_pJ, rel=1e-3)
    assert set(doc["energy_pJ_per_level"]) >= {"MACC", "RegisterFile", "GlobalBuffer", "MainMemory"}
    rf = doc["accesses"]["RegisterFile"]["Outputs"]
    assert (rf["reads"], rf["fills"], rf["updates"]) == (3040 * 16, 992 * 16, 3072 * 16)
    assert doc["energy_by_action_pJ"]["GlobalBuffer"]["read"] > 0


def test_model_writes_timeloop_files(tmp_path, capsys):
    # ERT given as one more input file, like timeloop-model accepts it
    rc = main(["model", str(KP / "parsed-processed-input.yaml"), str(KP / "timeloop-model.ERT.yaml"),
               str(KP / "timeloop-model.ART.yaml"), "--out", str(tmp_path)])
    assert rc == 0
    err = capsys.readouterr().err
    assert "energy" in err and "pJ" in err and "cycles" in err
    assert (tmp_path / "timeloop-model.map.txt").read_text() == (KP / "timeloop-model.map.txt").read_text()
    ours = parse_stats(tmp_path / "timeloop-model.stats.txt")
    ref = parse_stats(KP / "timeloop-model.stats.txt")
    assert ours.energy_pJ == pytest.approx(ref.energy_pJ, rel=1e-4)
    assert (tmp_path / "timeloop-model.map.yaml").exists()


def test_missing_energies_are_not_silent_zeros(tmp_path, capsys):
    rc = main(["model", str(KP / "parsed-processed-input.yaml")])
    assert rc == 2
    err = capsys.readouterr().err
    assert "no energy per action for" in err and "--ert" in err and "GlobalBuffer" in err
    rc = main(["model", str(KP / "parsed-processed-input.yaml"), "--counts-only", "--json"])
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["accesses"]["GlobalBuffer"]["Inputs"]["reads"] == 1152
    assert any("no ERT energy" in w for w in doc["warnings"])


def test_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("architecture: [\n")
    assert main(["model", str(bad)]) == 2
    assert "bad.yaml: malformed YAML" in capsys.readouterr().err
    nomap = tmp_path / "nomap.yaml"
    import yaml
    raw = yaml.safe_load((KP / "parsed-processed-input.yaml").read_text())
    del raw["mapping"]
    nomap.write_text(yaml.safe_dump(raw))
    assert main(["model", str(nomap), "--ert", str(KP / "timeloop-model.ERT.yaml")]) == 2
    assert "no 'mapping' in the inputs" in capsys.readouterr().err
    raw2 = yaml.safe_load((KP / "parsed-processed-input.yaml").read_text())
    raw2["mapping"][1]["factors"] = "R=3,P=1,K=2,C=16"
    over = tmp_path / "over.yaml"
    over.write_text(yaml.safe_dump(raw2))
    assert main(["model", str(over), "--ert", str(KP / "timeloop-model.ERT.yaml")]) == 2
    assert "dimension C multiply to 16, not to its size 32" in capsys.readouterr().err


def test_unwritable_out_folder_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    rc = main(["model", str(KP / "parsed-processed-input.yaml"), "--ert", str(KP / "timeloop-model.ERT.yaml"),
               "--out", str(blocker / "out")])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("cimscope: error: --out ") and "cannot write there" in err and "Traceback" not in err


def test_human_summary_numbers_have_units(capsys):
    assert main(["model", str(KP / "parsed-processed-input.yaml"), "--ert", str(KP / "timeloop-model.ERT.yaml")]) == 0
    err = capsys.readouterr().err
    assert "578705 pJ" in err and "3072 cycles" in err and "49152 computes" in err and "100.00 %" in err


def test_model_usage_errors_are_one_line_and_the_module_needs_no_typer(capsys):
    """Usage errors are one line (exit 2); cli/model.py imports no typer itself and its run(argv) evaluates
    without the typer app, so a dispatcher that skips typer pays only for the model (see docs/engine.md)."""
    assert main(["model", str(KP / "parsed-processed-input.yaml"), "--bogus"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unrecognized arguments: --bogus" in err[0] and "usage: cimscope model" in err[0]
    import importlib.util
    import subprocess
    import sys
    code = ("import importlib.util, sys; s = importlib.util.spec_from_file_location('m', sys.argv[1]); "
            "m = importlib.util.module_from_spec(s); s.loader.exec_module(m); "
            "print('typer' in sys.modules, file=sys.stderr); m.run(sys.argv[2:])")
    src = importlib.util.find_spec("cimscope.cli.model").origin
    res = subprocess.run([sys.executable, "-c", code, src, str(KP / "parsed-processed-input.yaml"), "--ert",
                          str(KP / "timeloop-model.ERT.yaml"), "--json"], capture_output=True, text=True, check=True)
    assert json.loads(res.stdout)["cycles"] == 3072
    assert res.stderr.strip().splitlines()[0] == "False"           # loading cli/model.py imports no typer
