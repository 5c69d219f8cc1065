"""`cimscope estimate`: per-action table / JSON, --list, --accelergy-config, errors exit 2 in one line."""
import json
from pathlib import Path

import pytest

from cimscope.cli import main


def run(capsys, *argv):
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_json_estimate(capsys):
    rc, out, err = run(capsys, "estimate", "cim_macro", "--attr", "primitive=analog8T", "-a", "input_bits=4",
                       "--json")
    assert rc == 0
    d = json.loads(out)
    assert d["component"] == "cim_macro"
    assert d["actions"]["mac"]["energy_pJ"] == pytest.approx(0.09 * 4 / 8)
    assert d["actions"]["mac"]["latency_s"] == pytest.approx(144 * 4 / 8 * 1e-9)
    assert "cim_macros.yaml" in d["actions"]["mac"]["source"]
    assert d["actions"]["read"]["throughput_per_s"] is None          # unlimited -> null, valid JSON
    assert d["units"] == {"energy": "pJ", "latency": "s", "area": "um^2", "leakage": "W", "throughput": "1/s"}
    assert d["area_um2"] > 0


def test_human_table(capsys):
    rc, stdout, out = run(capsys, "estimate", "sram_buffer", "-a", "capacity_bytes=262144", "-a", "banks=2")
    assert rc == 0 and stdout == ""                       # human output on stderr (DESIGN.md)
    assert "energy (pJ)" in out and "latency (s)" in out and "um^2" in out
    assert "124.7" in out


def test_list(capsys):
    rc, out, _ = run(capsys, "estimate", "--list", "--json")
    assert rc == 0
    comps = {c["component"]: c for c in json.loads(out)}
    assert {"cim_macro", "analog_cim_array", "digital_cim_array", "sram_buffer", "dram", "hbm",
            "tensor_core_mac", "simt_lane", "associative_processor"} <= set(comps)
    prim = comps["cim_macro"]["attributes"]["primitive"]
    assert prim["required"] and prim["choices"] == ["analog6T", "analog8T", "digital6T", "digital8T"]
    assert "mac_wave" in comps["cim_macro"]["actions"]
    rc, stdout, out = run(capsys, "estimate", "--list")
    assert rc == 0 and "columns_per_adc" in out and stdout == ""


def test_accelergy_config(capsys):
    rc, out, _ = run(capsys, "estimate", "--accelergy-config", "--json")
    assert rc == 0
    path = Path(json.loads(out)["python_plug_ins"][0])
    assert path.name == "accelergy_plugin.py" and path.exists()


@pytest.mark.parametrize("argv, needle", [
    (["estimate", "cim_macros"], "valid components: analog_cim_array"),
    (["estimate", "cim_macro"], "missing required attribute 'primitive'"),
    (["estimate", "cim_macro", "-a", "primitive=analog9T"], "analog6T, analog8T, digital6T, digital8T"),
    (["estimate", "cim_macro", "-a", "primitive=analog6T", "-a", "technology=3"], "valid: a finite number in [7, 180]"),
    (["estimate", "cim_macro", "-a", "primitive=analog6T", "-a", "colour=red"], "valid attributes: primitive"),
    (["estimate", "cim_macro", "-a", "primitive"], "not of the form name=value"),
    (["estimate"], "give a COMPONENT"),
])
def test_errors_exit_2_one_line(capsys, argv, needle):
    rc, out, err = run(capsys, *argv, "--json")
    assert rc == 2
    assert out == ""
    assert needle in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
