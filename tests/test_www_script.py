"""scripts/www_gemms.py: both methodologies print one JSON list of rows; bad input exits 2 with one line."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

KEYS = {"placement", "primitive", "energy_pJ", "timeloop_cycles", "cycles", "throughput_x", "energy_x",
        "energy_pJ_per_level", "workload", "gemm"}


def _script():
    path = Path(__file__).resolve().parents[1] / "scripts" / "www_gemms.py"
    spec = importlib.util.spec_from_file_location("www_gemms_script_www", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("methodology", ["www", "cimscope"])
def test_json_rows_for_one_shape(methodology, tmp_path, capsys):
    rc = _script().main(["--methodology", methodology, "--shapes", "512x1024x1024", "--json",
                         "--cache-dir", str(tmp_path / "c")])
    assert rc == 0
    rows = json.loads(capsys.readouterr().out)
    assert isinstance(rows, list) and len(rows) == 9
    assert all(KEYS <= set(r) for r in rows)
    base = [r for r in rows if r["placement"] == "none"]
    assert len(base) == 1 and base[0]["primitive"] is None and base[0]["throughput_x"] == 1.0
    assert {(r["placement"], r["primitive"]) for r in rows if r["placement"] != "none"} == {
        (pl, pr) for pl in ("rf", "smem") for pr in ("analog6T", "analog8T", "digital6T", "digital8T")}
    for r in rows:
        assert r["energy_x"] == pytest.approx(r["energy_pJ"] / base[0]["energy_pJ"])
        assert r["cycles"] >= r["timeloop_cycles"] or methodology == "cimscope"


def test_www_set_counts_repeated_layers(capsys):
    assert _script().main(["--methodology", "www", "--set", "dlrm", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["gemm"] for r in rows} == {"1x256x512", "1x64x256"} and len(rows) == 18


@pytest.mark.parametrize("argv, msg", [
    (["--methodology", "www", "--shapes", "512x1024"], "is not MxNxK"),
    (["--methodology", "www", "--shapes", "512x0x4"], "is not MxNxK"),
    (["--methodology", "www", "--shapes", "8x8x8", "--dataflow", "v9"], "--dataflow 'v9' is not one of"),
])
def test_bad_input_is_one_line_and_exit_2(argv, msg, capsys):
    assert _script().main(argv) == 2
    err = capsys.readouterr().err
    assert msg in err and err.count("\n") == 1
