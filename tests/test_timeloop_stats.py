"""The timeloop-model stats/map parser reads every reference file; values checked against the files."""
from pathlib import Path

import pytest

from cimscope.errors import InputError
from cimscope.timeloop.stats import format_stats, parse_map, parse_stats, stat_value
from refpaths import REFERENCE

REF = REFERENCE / "timeloop_cases"
CASES = sorted(p.name for p in REF.glob("0*")) if REF.exists() else []
pytestmark = pytest.mark.skipif(not CASES, reason="reference Timeloop runs not available")


@pytest.mark.parametrize("case", CASES)
def test_parser_reads_every_stats_file_and_writes_it_back(case):
    text = (REF / case / "timeloop-model.stats.txt").read_text()
    r = parse_stats(REF / case / "timeloop-model.stats.txt")
    assert r.engine == "timeloop"
    assert r.computes > 0 and r.cycles > 0
    assert r.energy_pJ == pytest.approx(sum(r.energy_pJ_per_level.values()), rel=1e-4)
    assert format_stats(r) == text                            # lossless round trip


def test_values_of_the_spatial_case():
    # 04-conv1d+oc-3levelspatial-kp: read from the file by eye.
    r = parse_stats(REF / "04-conv1d+oc-3levelspatial-kp" / "timeloop-model.stats.txt")
    assert r.computes == 49152 and r.cycles == 3072 and r.utilization == 1.0
    rf = r.accesses["RegisterFile"]
    # per instance x 16 utilized instances
    assert (rf["Outputs"].reads, rf["Outputs"].fills, rf["Outputs"].updates) == (3040 * 16, 992 * 16, 3072 * 16)
    assert rf["Weights"].tile_words == 1
    gb = r.accesses["GlobalBuffer"]
    assert (gb["Inputs"].reads, gb["Inputs"].fills) == (1152, 576)
    # level energies from the pJ lines (196608.00 + 69632.00 + 0.00 pJ, to 0.005 pJ each), not from the
    # rounded fJ/Compute line (5416.67 fJ x 49152 = 266240.16 pJ, to 0.25 pJ)
    assert r.energy_pJ_per_level["MainMemory"] == pytest.approx(266240.00, abs=0.01)
    assert r.energy_pJ_per_level["MACC"] == pytest.approx(41533.44, abs=0.01)
    assert r.energy_pJ == pytest.approx(11773.78 * 49152 / 1000)
    assert "inter_PE_spatial" not in r.accesses           # nothing kept there: Timeloop prints no block


def test_map_parser():
    levels = parse_map(REF / "04-conv1d+oc-3levelspatial-cp" / "timeloop-model.map.txt")
    assert [lv["name"] for lv in levels] == ["MainMemory", "GlobalBuffer", "inter_PE_spatial", "RegisterFile"]
    assert levels[1]["tiles"] == {"Weights": 3072, "Inputs": 576, "Outputs": 512}
    assert levels[1]["loops"] == [("C", 2, None), ("K", 32, None), ("R", 3, None)]
    assert levels[2]["loops"] == [("C", 16, "X")]
    assert levels[3]["loops"] == [("P", 16, None)]


def test_stat_value_and_bad_input(tmp_path):
    assert stat_value("0.36 pJ") == 0.36
    assert stat_value("16 (16*1)") == 16
    assert stat_value("-") is None
    p = tmp_path / "x.stats.txt"
    p.write_text("hello\nworld\n")
    with pytest.raises(InputError, match="no 'Buffer and Arithmetic Levels' section"):
        parse_stats(p)
    with pytest.raises(InputError, match="no such stats file"):
        parse_stats(str(tmp_path / "missing.txt"))


def test_map_text_follows_level_names_not_list_order():
    # A mapping's levels are matched to the architecture by target name (as evaluate() does), so a mapping
    # built with its levels in another order prints the same loop nest.
    from cimscope import ir
    from cimscope.model import evaluate
    from cimscope.timeloop import load_inputs
    from cimscope.timeloop.stats import format_map
    case = REF / "04-conv1d+oc-3levelspatial-cp"
    ti = load_inputs([case / "parsed-processed-input.yaml", case / "timeloop-model.ERT.yaml"])
    r = evaluate(ti.problem, ti.arch, ti.mapping)
    shuffled = ir.Mapping(levels=list(reversed(ti.mapping.levels)))
    assert format_map(ti.arch, ti.problem, shuffled, r) == (case / "timeloop-model.map.txt").read_text()


def test_level_energy_takes_the_more_precise_of_the_pj_lines_and_fj_per_compute():
    """Real timeloop-model 4cf6d4c on a100_like, ResNet-18 layer1 conv (115,605,504 computes): RF prints
    ``RF = 0.12`` fJ/Compute (13,872.66 pJ, 2.4 % high) and ``Energy (total) : 13550.58 pJ`` (the ERT x counts
    value, what cimscope model gives); a tiny run (48 computes) is the other way round."""
    from cimscope.timeloop.stats import half_unit, level_energy

    assert half_unit("13550.58 pJ") == pytest.approx(0.005)
    assert half_unit("0.12") == pytest.approx(0.005)
    assert half_unit("1.5e3") == pytest.approx(50.0)
    assert half_unit(None) == 0.0
    rf = {"kind": "buffer", "specs": {"Leakage energy (total)": "0.00 pJ"},
          "dataspaces": {"Weights": {"Energy (total)": "13550.58 pJ",
                                     "Temporal Reduction Energy (total)": "0.00 pJ",
                                     "Address Generation Energy (total)": "0.00 pJ"}}}
    e, bound = level_energy(rf, 0.12, 0.005, 115605504)
    assert e == pytest.approx(13550.58) and bound == pytest.approx(0.02)
    e, _ = level_energy(rf, 282303.75, 0.005, 48)            # 48 computes: 0.005 fJ x 48 < 0.02 pJ
    assert e == pytest.approx(282303.75 * 48 / 1000)
    mac = {"kind": "arithmetic", "stats": {"Energy (total)": "1684880.86 pJ"}, "specs": {}, "dataspaces": {}}
    assert level_energy(mac, 14.57, 0.005, 115605504)[0] == pytest.approx(1684880.86)
