"""AP estimator: registration, actions with hand-derived costs, cell technologies and node/Vdd scaling."""
import pytest

from cimscope.errors import InputError, UnknownNameError
from cimscope.plugins import scaling
from cimscope.plugins.ap import (CELLS, AssociativeProcessor, AssociativeProcessor1D, AssociativeProcessor2D,
                                 ap_operation_cost, cell_params)
from cimscope.plugins.base import REGISTRY

OVR = dict(compare_energy_fJ=1.0, write_energy_fJ=2.0, read_energy_fJ=0.5, compare_latency_ns=1.0,
           write_latency_ns=3.0)


def test_registered_names_and_variants():
    for name in ("associative_processor", "ap", "ap_1d", "ap_2d"):
        assert name in REGISTRY
    assert AssociativeProcessor2D(rows=8).attrs["variant"] == "2d"
    est1 = AssociativeProcessor1D(rows=8, **OVR).estimate()
    assert est1.attributes["variant"] == "1d" and "reduce" not in est1.actions
    assert "reduce" in AssociativeProcessor(rows=8, **OVR).estimate().actions


def test_actions_hand_derived_sram_rows_charging():
    # 4-bit add on 4 rows: 16 compares (3-bit keys: 48 key bits), 17 writes (2 bits each + 1-bit carry clear:
    # 33 bits). SRAM writes charge every active row: 4 x (48 x 1 fJ + 33 x 2 fJ) = 456 fJ.
    est = AssociativeProcessor(rows=4, columns=64, bits=4, cell="sram", **OVR).estimate()
    assert est.actions["add"].energy_pJ == pytest.approx(0.456)
    # 16 compare cycles + 17 writes x ceil(3 ns / 1 ns) cycles = 67 cycles of 1 ns
    assert est.actions["add"].latency_s == pytest.approx(67e-9)
    # 4x4 multiply: 4 x (4x4+1) = 68 compares, 69 writes; key bits 4 x (16 x 4 + 1) = 260; written bits
    # 2 x 68 + (4 + 4 + 1) = 145 -> 4 rows x (260 + 290) fJ = 2.2 pJ
    assert est.actions["mul"].energy_pJ == pytest.approx(2.2)
    # ReLU: 1 compare on the sign bit, 1 write of 4 zero bits: 4 x (1 + 8) fJ
    assert est.actions["relu"].energy_pJ == pytest.approx(0.036)
    assert est.actions["compare"].energy_pJ == pytest.approx(1e-3)
    assert est.actions["write_pass"].energy_pJ == pytest.approx(2e-3 * 4 * 64)
    assert est.area_um2 == pytest.approx(4 * 64 * cell_params("sram", 16).cell_area_um2)


def test_resistive_writes_charge_only_tagged_rows():
    # same 4-bit add on ReRAM: expected tagged fraction 1/8 per 3-bit key -> 2 x (16/8) + 1 = 5 bit-writes
    c = ap_operation_cost("add", 4, 4, params=cell_params("reram", 16, None, OVR))
    assert c.energy_pJ == pytest.approx(4 * (48 * 1 + 5 * 2) * 1e-3)


def test_published_figures_at_reference_node_and_scaling():
    p = cell_params("sram", 180, 1.8)
    assert p.compare_fJ == pytest.approx(2.89) and p.compare_s == pytest.approx(7e-9)   # Pagiamtzis JSSC 2004
    r = cell_params("reram", 180, 1.8)
    assert r.compare_fJ == pytest.approx(4.69) and r.write_fJ == pytest.approx(100.0)
    p16 = cell_params("sram", 16)
    assert p16.compare_fJ == pytest.approx(2.89 * scaling.energy_factor(180, 16, 1.8, scaling.nominal_vdd(16)))
    assert cell_params("reram", 16).write_fJ == pytest.approx(100.0)                    # device energy unscaled
    lo, hi = cell_params("sram", 16, 0.7), cell_params("sram", 16, 0.9)
    assert lo.compare_fJ < hi.compare_fJ and lo.compare_s > hi.compare_s
    assert set(CELLS) == {"sram", "reram"}


def test_bad_attributes():
    with pytest.raises(InputError, match="cell='flash' is invalid .*valid: one of sram, reram"):
        AssociativeProcessor(cell="flash")
    with pytest.raises(InputError, match=r"valid: a finite number in \[7, 180\]"):
        AssociativeProcessor(technology=3)
    with pytest.raises(InputError, match="supply voltage 1.5 V is out of range"):
        AssociativeProcessor(voltage=1.5).estimate()
    with pytest.raises(InputError, match="needs .* bit columns"):
        AssociativeProcessor(columns=8, bits=8, **OVR).estimate()
    with pytest.raises(UnknownNameError, match="unknown AP cell 'flash'"):
        cell_params("flash")


def test_technology_accepts_node_strings_like_every_other_model():
    """'16nm' (Accelergy/Timeloop spelling) means the same node as 16."""
    from cimscope.plugins.base import estimate
    assert estimate("ap_2d", {"technology": "16nm"}).actions["add"].energy_pJ == \
        estimate("ap_2d", {"technology": 16}).actions["add"].energy_pJ


def test_cell_area_is_the_published_area_at_its_own_node():
    """Each cell area is its source's figure at the source's node, scaled once with the Stillmaker & Baas
    area table (not converted to 180 nm by (node ratio)^2 and back by the table, which lost 15-40 %)."""
    # SRAM: 10T NOR CAM cell = 10/6 x the 0.346 um^2 45 nm 6T cell (Mistry, IEDM 2007)
    assert cell_params("sram", 45).cell_area_um2 == pytest.approx(0.346 * 10 / 6, rel=1e-12)
    # ReRAM: 0.41 um^2 2T-2R TCAM cell at 90 nm (Li et al., JSSC 2014)
    assert cell_params("reram", 90).cell_area_um2 == pytest.approx(0.41, rel=1e-12)
    # elsewhere: area table rows 45 -> 16 nm (0.19) and 90 -> 16 nm (0.067)
    assert cell_params("sram", 16).cell_area_um2 == pytest.approx(0.346 * 10 / 6 * 0.19, rel=1e-12)
    assert cell_params("reram", 16).cell_area_um2 == pytest.approx(0.41 * 0.067, rel=1e-12)
