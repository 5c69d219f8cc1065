"""The tensor cores of the baseline run each GEMM in the A100 format its operands need (int4, int8, fp16: the
whitepaper's dense peaks 1248 / 624 / 312 TOPS in plugins/data/a100.yaml), and price its MACs with the
``tensor_core_mac`` plug-in in that format: a W4A4, W8A8 and 16-bit export of the same model give
compute-bound baseline latencies in the ratio of the peaks."""
import json

import pytest

from cimscope.arch.builders import build_arch, macs_per_unit_for_bits
from cimscope.gpu.roofline import operand_bits, roofline_s
from cimscope.plugins.base import estimate
from cimscope.plugins.gpu_compute import tensor_core_format

BIG = """
import torch

def make():
    return torch.nn.Linear(2048, 2048, bias=False), (torch.randn(2048, 2048),)
"""
WIDTHS = (4, 8, 16)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    from cimscope.cli import main
    root = tmp_path_factory.mktemp("tcbits")
    (root / "big.py").write_text(BIG)
    out = {}
    for b in WIDTHS:
        d = root / f"w{b}a{b}"
        assert main(["export", f"{root / 'big.py'}:make", "--weight-bits", str(b), "--act-bits", str(b),
                     "--out", str(d)]) == 0
        out[b] = d
    return root, out


def evaluate_none(root, d, capsys):
    from cimscope.cli import main
    capsys.readouterr()
    assert main(["evaluate", "--workload", str(d), "--placement", "none", "--json",
                 "--cache-dir", str(root / "cache")]) == 0
    return json.loads(capsys.readouterr().out)


def test_formats_and_rates_of_the_whitepaper():
    assert [tensor_core_format(b).name for b in (1, 4, 5, 8, 9, 16, 17, 32)] == \
        ["int4", "int4", "int8", "int8", "fp16", "fp16", "tf32", "tf32"]
    assert [tensor_core_format(b).dense_ops_per_s for b in (4, 8, 16, 32)] == [1248e12, 624e12, 312e12, 156e12]
    assert [macs_per_unit_for_bits(b) for b in (4, 8, 16, 32)] == [2.0, 1.0, 0.5, 0.25]
    # the MAC count of the a100_like preset follows the rate (int8: 108 SMs x 4 x 512 MACs)
    assert [build_arch("a100_like", bits=b).compute.instances for b in (4, 8, 16)] == \
        [2 * 221184, 221184, 221184 // 2]


def test_mac_energy_is_the_plugin_in_the_format():
    for b, fmt in ((4, {"input_bits": 4, "weight_bits": 4}), (8, {}), (16, {"datatype": "fp16"})):
        arch = build_arch("a100_like", bits=b)
        want = estimate("tensor_core_mac", {"technology": 7, **fmt}).actions["mac"].energy_pJ
        assert arch.compute.action_energy_pJ["compute"] == pytest.approx(want, rel=1e-12)
    # fp16 is not priced as a 16x16 integer multiplier
    int16 = estimate("tensor_core_mac", {"technology": 7, "input_bits": 16, "weight_bits": 16})
    assert build_arch("a100_like", bits=16).compute.action_energy_pJ["compute"] != \
        pytest.approx(int16.actions["mac"].energy_pJ)


def test_w4a4_w8a8_fp16_baseline_latency_in_the_ratio_of_the_peaks(results, capsys):
    root, dirs = results
    rows = {}
    for b in WIDTHS:
        r = evaluate_none(root, dirs[b], capsys)
        g = [o for o in r["ops"] if o["op_class"] == "GEMM"]
        assert len(g) == 1
        rows[b] = g[0]
    lat = {b: rows[b]["latency_s"] for b in WIDTHS}
    peak = {b: tensor_core_format(b).dense_ops_per_s for b in WIDTHS}
    assert lat[8] / lat[4] == pytest.approx(peak[4] / peak[8], rel=1e-3)        # 2x
    assert lat[16] / lat[8] == pytest.approx(peak[8] / peak[16], rel=1e-3)      # 2x
    for b in WIDTHS:
        # compute-bound: 2 MACs at the format's peak take longer than the unique bytes at HBM bandwidth (its
        # roofline), and the mapped latency is no shorter than that peak allows
        assert rows[b]["roofline_s"] == pytest.approx(2 * rows[b]["macs"] / peak[b], rel=1e-9)
        assert lat[b] >= 2 * rows[b]["macs"] / peak[b] * (1 - 1e-9)
        e_mac = build_arch("a100_like", bits=b).compute.action_energy_pJ["compute"]
        assert rows[b]["energy_pJ_per_level"]["MAC"] == pytest.approx(e_mac * rows[b]["macs"], rel=1e-9)


def test_roofline_format_follows_the_operands_not_the_output():
    from cimscope.evaluate import gemm_op
    op = gemm_op(4096, 4096, 4096, bits=4)
    for t in op.tensors:
        if t.role == "output":
            t.bits = 32                     # an int32 result does not make the MMA a TF32 one
    assert operand_bits(op) == 4
    assert roofline_s(op) == pytest.approx(2 * 4096 ** 3 / 1248e12)


def test_w4a4_layer_with_an_8_bit_output_runs_int4_mmas():
    """The format follows the operands: a W4A4 GEMM whose output is 8 bits (a --precision layer before an
    8-bit one) runs at the int4 rate with int4 MAC energy; its words stay 8 bits (one width per level)."""
    from cimscope.evaluate import gemm_op
    from cimscope.pipeline.gemm import evaluate_gemm, tensor_core_arch
    from cimscope.study import Study
    study, rows = Study(), {}
    for name, (b, out) in {"w8a8": (8, 8), "w4a4o8": (4, 8), "w4a4": (4, 4)}.items():
        op = gemm_op(2048, 2048, 2048, bits=b)
        for t in op.tensors:
            if t.role == "output":
                t.bits = out
        rows[name] = evaluate_gemm(op, study)
        arch, fmt = tensor_core_arch(op, study, max(b, out))
        assert fmt == ("int8" if name == "w8a8" else "int4")
        assert arch.compute.instances == build_arch("a100_like", bits=b).compute.instances
        assert {lv.word_bits for lv in arch.levels} == {max(b, out)}
    assert [rows[n]["extra"]["tensor_core_format"] for n in ("w8a8", "w4a4o8", "w4a4")] == ["int8", "int4", "int4"]
    e4 = build_arch("a100_like", bits=4).compute.action_energy_pJ["compute"]
    assert rows["w4a4o8"]["energy_pJ_per_level"]["MAC"] == pytest.approx(e4 * 2048 ** 3, rel=1e-9)
    assert rows["w4a4o8"]["cycles"] == pytest.approx(rows["w8a8"]["cycles"] / 2, rel=0.02)
