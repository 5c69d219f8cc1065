"""`cimscope bitfluid` end to end on the exported resnet18: HAWQ-V3 table/CSV/JSON/plots, a tech x Vdd sweep,
a dynamic sequence, and a mismatched configuration (exit 2, the differing layers named, no traceback)."""
import csv
import json
import subprocess
import sys

import pytest


def run(*args):
    return subprocess.run([sys.executable, "-m", "cimscope", "bitfluid", *args], capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("export-cache"))


@pytest.mark.slow
def test_hawq_v3_sweep_and_dynamic(tmp_path, cache):
    out = tmp_path / "o"
    r = run("--model", "resnet18", "--configs", "hawq-v3", "--tech", "sram,reram", "--vdd", "0.7,0.8",
            "--sequence", "uniform8,uniform4", "--out", str(out), "--cache-dir", cache, "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)                               # one JSON document, nothing else on stdout
    runs = doc["runs"]
    assert len(runs) == 5 * 2 * 2
    sram07 = [x for x in runs if x["cell"] == "sram" and x["vdd_V"] == 0.7]
    assert [x["config"] for x in sram07] == ["uniform8", "latency_0.75", "latency_0.5", "latency_0.25", "uniform4"]
    assert [x["top1"] for x in sram07] == [71.56, 70.40, 70.34, 68.56, 68.45]
    edp = [x["edp_Js"] for x in sram07]
    assert edp == sorted(edp, reverse=True)                  # fewer bits, lower EDP
    for x in runs:
        assert x["edp_Js"] == pytest.approx(x["energy_mJ"] * 1e-3 * x["latency_ms"] * 1e-3)
        assert x["throughput_inf_per_s"] == pytest.approx(1e3 / x["latency_ms"])
        assert x["gemm_nongemm"]["NonGEMM"]["energy_pJ"] > 0       # NonGEMM operators are costed
    assert len(doc["dynamic"]) == 4 and doc["dynamic"][0]["reconfiguration_J"] == 0
    d = doc["dynamic"][0]
    by = {(x["config"]): x for x in runs if x["cell"] == d["cell"] and x["vdd_V"] == round(d["vdd_V"], 4)}
    assert d["total_energy_J"] == pytest.approx((by["uniform8"]["energy_mJ"] + by["uniform4"]["energy_mJ"]) * 1e-3)
    for name in ("bitfluid.csv", "bitfluid.json", "layers.csv", "accuracy_vs_edp.png", "sweep.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0
    rows = list(csv.DictReader((out / "bitfluid.csv").open()))
    assert len(rows) == 20 and {"energy_mJ", "latency_ms", "edp_Js", "throughput_inf_per_s"} <= set(rows[0])
    layers = list(csv.DictReader((out / "layers.csv").open()))
    conv1 = [x for x in layers if x["module"] == "conv1" and x["config"] == "uniform4"]
    assert conv1 and all(x["w_bits"] == "8" for x in conv1)  # first conv always 8-bit in HAWQ-V3


@pytest.mark.slow
def test_mismatched_configuration_exits_2_and_names_layers(tmp_path, cache):
    f = tmp_path / "bad.yaml"
    f.write_text("layers:\n  conv1: 8\n  layer1.0.conv1: 4\n  layer7.0.conv1: 4\n")
    r = run("--model", "resnet18", "--configs", str(f), "--cache-dir", cache)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert "missing from the configuration: layer1.0.conv2" in r.stderr
    assert "not in the model: layer7.0.conv1" in r.stderr
    r = run("--model", "resnet18", "--configs", "int8", "--tech", "flash")
    assert r.returncode == 2 and "unknown AP cell 'flash'" in r.stderr and "Traceback" not in r.stderr
