"""Bit widths per tensor reach the CiM cost: input passes at the input tensor's bits, weight cells (and
writes) at the weight tensor's bits (a W4A8 export is not costed as 8x8)."""
import json

import pytest

from cimscope.arch.placements import catalog
from cimscope.plugins.base import estimate
from cimscope.study import Study, cim_bits, placed, result_key

TINY = """
import torch

def make():
    return torch.nn.Sequential(torch.nn.Linear(256, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128)), \\
        (torch.randn(64, 256),)
"""
MAC_LEVEL = "CiM_SMEM_MAC"


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    from cimscope.cli import main
    root = tmp_path_factory.mktemp("bits")
    (root / "tiny.py").write_text(TINY)
    out = {}
    for wb, ab in ((8, 8), (4, 8)):
        d = root / f"w{wb}a{ab}"
        assert main(["export", f"{root / 'tiny.py'}:make", "--weight-bits", str(wb), "--act-bits", str(ab),
                     "--out", str(d)]) == 0
        out[(wb, ab)] = d
    return root, out


def evaluate_cli(root, d, capsys):
    from cimscope.cli import main
    capsys.readouterr()
    assert main(["evaluate", "--workload", str(d), "--placement", "smem", "--primitive", "analog6T", "--json",
                 "--cache-dir", str(root / "cache")]) == 0
    return json.loads(capsys.readouterr().out)


def test_w4a8_export_costs_inputs_at_8_and_weights_at_4_bits(exports, capsys):
    root, dirs = exports
    r88, r48 = evaluate_cli(root, dirs[(8, 8)], capsys), evaluate_cli(root, dirs[(4, 8)], capsys)
    g88 = [o for o in r88["ops"] if o["op_class"] == "GEMM"]
    g48 = [o for o in r48["ops"] if o["op_class"] == "GEMM"]
    assert len(g88) == len(g48) == 2
    study = Study(placement="smem", primitive="analog6T")
    tech = float(placed(study).base.technology.replace("nm", ""))
    spec = catalog()["analog6T"]["attributes"]

    def plug(bi, bw):
        return estimate("cim_macro", {**spec, "technology": tech, "input_bits": bi, "weight_bits": bw})
    p88, p48 = plug(8, 8), plug(8, 4)
    # the plug-in: 4-bit weights halve the energy per MAC and per weight written, double the weights
    # computing per wave (bit-sliced columns), and leave the input passes (8) and the wave latency alone
    assert p48.notes["input_passes"] == p88.notes["input_passes"] == 8
    for a, b in zip(g88, g48):
        assert a["extra"]["cim_bits"] == [8, 8] and b["extra"]["cim_bits"] == [8, 4]
        assert b["weight_bytes"] == a["weight_bytes"] / 2
        ratio = b["energy_pJ_per_level"][MAC_LEVEL] / a["energy_pJ_per_level"][MAC_LEVEL]
        assert ratio == pytest.approx(p48.actions["mac"].energy_pJ / p88.actions["mac"].energy_pJ, rel=1e-9)
        assert ratio == pytest.approx(0.5, rel=1e-9)
        assert b["energy_pJ"] != pytest.approx(a["energy_pJ"], rel=1e-6)
    # the arrays the W4A8 GEMMs ran on are the plug-in's at (8, 4)
    a48 = placed(study, 8, (8, 4)).cim.primitive
    a88 = placed(study, 8, (8, 8)).cim.primitive
    assert a48.parallel_macs == p48.notes["parallel_macs"] == 2 * a88.parallel_macs
    assert a48.latency_s == a88.latency_s == p48.actions["mac_wave"].latency_s
    assert a48.write_energy_pJ == pytest.approx(a88.write_energy_pJ / 2, rel=1e-12)
    assert placed(study, 8, (8, 4)).cim.weight_capacity_bytes == placed(study, 8).cim.weight_capacity_bytes


def test_input_bits_set_the_passes_and_key_the_cache():
    from cimscope.evaluate import gemm_op
    op = gemm_op(64, 64, 64)
    op.tensors[0].bits = 4                     # A4W8: half the input passes
    assert cim_bits(op) == (4, 8)
    study = Study(placement="smem", primitive="digital6T")
    a48, a88 = placed(study, 8, (4, 8)).cim.primitive, placed(study, 8, (8, 8)).cim.primitive
    assert a48.latency_s == pytest.approx(a88.latency_s / 2, rel=1e-12)
    assert a48.parallel_macs == a88.parallel_macs
    assert result_key(op, study) != result_key(gemm_op(64, 64, 64), study)
    assert placed(Study(), 8, (4, 8)) is placed(Study(), 8)   # no CiM: the bits of CiM arrays do not matter


def test_precision_file_sets_per_layer_bits(exports, capsys):
    from cimscope.cli import main
    from cimscope.errors import InputError
    from cimscope.pipeline.precision import apply_precision
    from cimscope.workloads import load_workload
    root, dirs = exports
    w88, w48 = load_workload(dirs[(8, 8)]), load_workload(dirs[(4, 8)])
    f = root / "w4.yaml"
    f.write_text("layers:\n  '0': {w_bits: 4, a_bits: 8}\n  '2': {w_bits: 4, a_bits: 8}\n")
    got = apply_precision(w88, str(f))
    assert got.meta["precision"] == "w4"
    for a, b in zip(got.gemm_ops(), w48.gemm_ops()):
        assert a.shape_key() == b.shape_key()          # the W4A8 export's GEMMs: the same per-op results
    mixed = root / "mixed.yaml"
    mixed.write_text("layers:\n  '0': {w_bits: 4, a_bits: 4}\n  '2': {w_bits: 8, a_bits: 8}\n")
    m = apply_precision(w88, str(mixed)).gemm_ops()
    assert cim_bits(m[0]) == (4, 4) and cim_bits(m[1]) == (8, 8)
    # the input's bytes read drop by its elements x 4 bits, the weight's and the bias's by theirs x 4 bits
    assert m[0].bytes_read == w88.gemm_ops()[0].bytes_read - (64 * 256 + 256 * 256 + 256) // 2
    bad = root / "bad.yaml"
    bad.write_text("layers:\n  '0': {w_bits: 4, a_bits: 8}\n  layer9.fc: {w_bits: 4, a_bits: 8}\n")
    with pytest.raises(InputError, match=r"missing from the configuration: 2.*not in the model: layer9.fc"):
        apply_precision(w88, str(bad))
    with pytest.raises(InputError, match="choose one as hawq-v3:NAME"):
        apply_precision(w88, "hawq-v3")
    capsys.readouterr()
    assert main(["evaluate", "--workload", str(dirs[(8, 8)]), "--precision", str(bad),
                 "--cache-dir", str(root / "cache")]) == 2
    assert "not in the model: layer9.fc" in capsys.readouterr().err
    assert main(["evaluate", "--workload", str(dirs[(8, 8)]), "--precision", str(f), "--placement", "smem",
                 "--primitive", "analog6T", "--json", "--cache-dir", str(root / "cache")]) == 0
    via = json.loads(capsys.readouterr().out)
    direct = evaluate_cli(root, dirs[(4, 8)], capsys)
    assert [o["extra"].get("cim_bits") for o in via["ops"]] == [o["extra"].get("cim_bits") for o in direct["ops"]]
    g = [(o["energy_pJ"], o["cycles"]) for o in via["ops"] if o["op_class"] == "GEMM"]
    assert g == [(o["energy_pJ"], o["cycles"]) for o in direct["ops"] if o["op_class"] == "GEMM"]
