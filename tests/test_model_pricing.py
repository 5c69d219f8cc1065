"""`cimscope model` without an ERT: each level is priced by its cimscope plug-in with the attributes Accelergy
would hand it (Timeloop depth/width/n_banks converted as the Accelergy adapter does), and says so."""
import copy
import json

import pytest
import yaml

from cimscope.arch.builders import STORAGE_COMPONENTS, compound_class
from cimscope.arch.level_pricing import LevelPricing, component_for_class, price_missing_levels
from cimscope.cli import main
from cimscope.model import evaluate
from cimscope.plugins.base import estimate
from cimscope.timeloop.inputs import load_inputs
from refpaths import REFERENCE

KP = REFERENCE / "timeloop_cases" / "04-conv1d+oc-3levelspatial-kp"
CLASSES = {"MainMemory[1..1]": "dram_DRAM", "GlobalBuffer[1..1]": "sram_buffer_storage",
           "RegisterFile[1..16]": "register_storage", "MACC[1..16]": "tensor_core_mac"}


def write_case(tmp_path, classes=CLASSES, depth=8192):
    """The reference case with cimscope's classes, a GlobalBuffer of ``depth`` rows x 64 bits, and no ERT."""
    doc = yaml.safe_load((KP / "parsed-processed-input.yaml").read_text())
    for comp in doc["architecture"]["subtree"][0]["local"]:
        comp["class"] = classes.get(comp["name"], comp["class"])
        if comp["name"].startswith("GlobalBuffer"):
            assert comp["attributes"]["width"] == 64 and comp["attributes"]["n_banks"] == 2
            comp["attributes"]["depth"] = depth
    doc.pop("compound_components", None)
    path = tmp_path / "case.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_sram_priced_with_timeloop_organisation(tmp_path):
    ti = load_inputs([write_case(tmp_path)])
    priced, unpriced = price_missing_levels(ti.arch)
    assert unpriced == []
    by = {p.level: p for p in priced}
    assert [p.level for p in priced] == ["MainMemory", "GlobalBuffer", "RegisterFile", "MACC"]   # not the dummy
    gb = by["GlobalBuffer"]
    assert isinstance(gb, LevelPricing) and gb.component == "sram_buffer"
    assert (gb.attributes["capacity_bytes"], gb.attributes["width_bits"], gb.attributes["banks"]) == (65536, 64, 2)
    assert gb.attributes["technology"] == 40.0                       # '40nm' as Accelergy's adapter reads it
    want = estimate("sram_buffer", {"capacity_bytes": 8192 * 64 // 8, "width_bits": 64, "banks": 2,
                                    "technology": 40})
    default = estimate("sram_buffer", {"technology": 40})           # the 4 KB, 8-bit row it used to assume
    assert default.attributes["capacity_bytes"] == 4096 and default.attributes["width_bits"] == 8
    lv = ti.arch.level("GlobalBuffer")
    for action in ("read", "write", "update"):
        assert lv.action_energy_pJ[action] == pytest.approx(want.actions[action].energy_pJ, rel=1e-12)
    assert lv.area_um2 == pytest.approx(want.area_um2)
    # the whole model: the GlobalBuffer energy per action moves by exactly the plug-in's predicted ratio
    r = evaluate(ti.problem, ti.arch, ti.mapping)
    old = copy.deepcopy(ti.arch)
    old.level("GlobalBuffer").action_energy_pJ = {
        a: c.energy_pJ for a, c in default.actions.items()}
    r0 = evaluate(ti.problem, old, ti.mapping)
    got, base = r.extra["energy_by_action_pJ"]["GlobalBuffer"], r0.extra["energy_by_action_pJ"]["GlobalBuffer"]
    ratio = want.actions["read"].energy_pJ / default.actions["read"].energy_pJ
    assert ratio > 2 and got["read"] == pytest.approx(base["read"] * ratio, rel=1e-9)
    assert r.energy_pJ_per_level["GlobalBuffer"] != pytest.approx(r0.energy_pJ_per_level["GlobalBuffer"], rel=0.1)


def test_model_prints_and_reports_pricing(tmp_path, capsys):
    case = write_case(tmp_path)
    assert main(["model", str(case)]) == 0
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("priced ")]
    assert len(lines) == 4
    assert lines[1].startswith("priced GlobalBuffer with sram_buffer {'capacity_bytes': 65536, 'width_bits': 64, "
                               "'banks': 2,")
    assert lines[0].startswith("priced MainMemory with dram {") and "'width_bits': 256" in lines[0]
    assert lines[2].startswith("priced RegisterFile with register {'width_bits': 8, 'depth': 64,")
    assert main(["model", str(case), "--json"]) == 0
    out = capsys.readouterr()
    doc = json.loads(out.out)
    gb = doc["priced_by"]["GlobalBuffer"]
    assert gb["class"] == "sram_buffer_storage" and gb["component"] == "sram_buffer"
    assert gb["attributes"]["capacity_bytes"] == 65536
    assert set(doc["priced_by"]) == {"MainMemory", "GlobalBuffer", "RegisterFile", "MACC"}
    assert "priced GlobalBuffer with sram_buffer" in out.err


def test_levels_with_an_ert_are_not_repriced(capsys):
    assert main(["model", str(KP / "parsed-processed-input.yaml"), "--ert", str(KP / "timeloop-model.ERT.yaml"),
                 "--json"]) == 0
    out = capsys.readouterr()
    assert "priced " not in out.err and json.loads(out.out)["priced_by"] == {}


def test_compound_classes_map_to_their_components():
    for comp in STORAGE_COMPONENTS:
        assert component_for_class(compound_class(comp)) == comp
        assert component_for_class(comp) == comp
    assert component_for_class("DRAM") == "dram"                     # registered name, case-insensitive
    assert component_for_class("tensor_core_mac_compute") == "tensor_core_mac"   # timeloop_class suffix
    assert component_for_class("SRAM") is None and component_for_class("regfile") is None


def test_class_without_estimator_is_one_line_exit_2(tmp_path, capsys):
    case = write_case(tmp_path, {**CLASSES, "GlobalBuffer[1..1]": "SRAM"})
    assert main(["model", str(case)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "no energy per action for GlobalBuffer" in err and "class SRAM has no cimscope estimator" in err
    assert "sram_buffer_storage" in err and "hbm_DRAM" in err and "--ert" in err
    assert main(["model", str(case), "--counts-only", "--json"]) == 0      # that level needs no energy then
    doc = json.loads(capsys.readouterr().out)
    assert "GlobalBuffer" not in doc["priced_by"] and "RegisterFile" in doc["priced_by"]
