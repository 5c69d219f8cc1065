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
    cache = ["--cache-dir", str(tmp_path / "c")] if methodology == "cimscope" else []
    rc = _script().main(["--methodology", methodology, "--shapes", "512x1024x1024", "--json", *cache])
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


def test_artifact_sets_count_repeated_layers():
    from cimscope.www.workloads import workload_shapes
    sets = workload_shapes("all")
    assert list(sets) == ["BERT-Large", "GPT-J", "ResNet50", "DLRM"]
    assert sum(sets["ResNet50"].values()) == 50 and sets["ResNet50"][(196, 256, 2304)] == 6
    assert [len(c) for c in sets.values()] == [5, 6, 18, 2]        # unique shapes


@pytest.mark.parametrize("argv, msg", [
    (["--methodology", "www", "--shapes", "512x1024"], "is not MxNxK"),
    (["--methodology", "www", "--shapes", "512x0x4"], "is not MxNxK"),
    (["--methodology", "www", "--shapes", "8x8x8", "--dataflow", "v9"], "--dataflow 'v9' is not one of"),
    (["--methodology", "cimscope", "--shapes", "8x8x8", "--dataflow", "v2"], "add --methodology www"),
    (["--methodology", "www", "--shapes", "8x8x8", "--cache-dir", "x"], "caches nothing"),
    (["--methodology", "www", "--shapes", "8x8x8", "--set", "bert"], "not both"),
])
def test_bad_input_is_one_line_and_exit_2(argv, msg, capsys):
    assert _script().main(argv) == 2
    err = capsys.readouterr().err
    assert msg in err and err.count("\n") == 1


@pytest.mark.parametrize("opt", ["--plot", "--timeloop-dir"])
def test_www_only_options_need_the_www_methodology(opt, tmp_path, capsys):
    assert _script().main(["--methodology", "cimscope", "--shapes", "8x8x8", opt, str(tmp_path)]) == 2
    assert f"{opt} is an option of the www methodology" in capsys.readouterr().err


def test_timeloop_inputs_reload_to_the_same_figures(tmp_path):
    from cimscope.model import evaluate as model_evaluate
    from cimscope.timeloop import load_inputs
    from cimscope.www.grid import www_rows
    rows = www_rows({"G": {(64, 64, 128): 1}}, configs=[("none", None), ("rf", "analog6T")],
                    timeloop_dir=str(tmp_path))
    for r in rows:
        name = "tensor_core_like" if r["placement"] == "none" else "rf_compute_analog6T"
        folder = tmp_path / name / "64_64_128"
        ti = load_inputs([folder / "input.yaml"], ert=folder / "ert.yaml")
        again = model_evaluate(ti.problem, ti.arch, ti.mapping)
        assert again.energy_pJ == pytest.approx(r["timeloop_energy_pJ"]) and again.cycles == r["timeloop_cycles"]
        assert (ti.constraints is not None and ti.constraints.levels) or r["placement"] != "none"


def test_workload_gains_weight_repeated_layers():
    from cimscope.www.figures import gains

    def r(gemm, pl, pr, e, c, count):
        m, n, k = (int(x) for x in gemm.split("x"))
        return {"workload": "W", "gemm": gemm, "M": m, "N": n, "K": k, "count": count, "placement": pl,
                "primitive": pr, "energy_pJ": e, "cycles": c, "timeloop_cycles": c if pl == "none" else c / 2}
    rows = [r("1x2x3", "none", None, 10.0, 100.0, 3), r("1x2x3", "rf", "analog6T", 5.0, 400.0, 3),
            r("4x5x6", "none", None, 20.0, 100.0, 1), r("4x5x6", "rf", "analog6T", 20.0, 50.0, 1)]
    g = gains(rows)[("W", "rf", "analog6T")]
    assert g["energy"] == pytest.approx((3 * 10 + 20) / (3 * 5 + 20))
    assert g["throughput"] == pytest.approx((3 * 100 + 100) / (3 * 400 + 50))
    assert g["throughput_raw"] == pytest.approx(2 * g["throughput"])
