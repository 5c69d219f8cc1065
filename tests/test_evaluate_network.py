"""End-to-end network evaluation: every operator costed, totals consistent, the baseline never faster than the
A100 roofline, CiM placements on real networks, and the `cimscope evaluate` command."""
import json

import pytest

from cimscope import ir
from cimscope.arch.builders import build_arch
from cimscope.gpu.roofline import roofline_s
from cimscope.errors import MappingError
from cimscope.evaluate import EvalConfig, evaluate_network, evaluate_nongemm, gemm_op


@pytest.fixture(scope="module")
def resnet50(tmp_path_factory):
    from cimscope.workloads import export_model
    return export_model("resnet50", cache_dir=str(tmp_path_factory.mktemp("wl")))


@pytest.fixture(autouse=True)
def _mapper_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("CIMSCOPE_CACHE", str(tmp_path_factory.getbasetemp() / "mapper-cache"))


def _check_rows(wl, nr):
    assert [r.name for r in nr.ops] == [o.name for o in wl.ops]          # nothing dropped, in order
    for op, r in zip(wl.ops, nr.ops):
        if op.is_gemm:
            assert r.energy_pJ > 0 and r.cycles > 0
        elif op.bytes_read + op.bytes_written == 0 and op.elem_ops == 0:
            assert r.energy_pJ == 0 and r.cycles == 0 and "costs 0" in r.note
        else:
            assert r.energy_pJ > 0 and r.cycles > 0 and r.unit == "simt"
    assert nr.energy_pJ == pytest.approx(sum(r.energy_pJ * r.count for r in nr.ops))
    assert nr.latency_s == pytest.approx(sum(r.latency_s * r.count for r in nr.ops))
    assert nr.energy_pJ == pytest.approx(nr.gemm_energy_pJ + nr.nongemm_energy_pJ)
    assert nr.latency_s == pytest.approx(nr.gemm_latency_s + nr.nongemm_latency_s)
    assert sum(nr.energy_pJ_per_level.values()) == pytest.approx(nr.energy_pJ)
    assert nr.edp_Js == pytest.approx(nr.energy_pJ * 1e-12 * nr.latency_s)


def test_resnet50_baseline_never_beats_the_a100_roofline(resnet50):
    nr = evaluate_network(resnet50, "a100_like", "none")
    _check_rows(resnet50, nr)
    gemms = [r for r in nr.ops if r.op_class == "GEMM"]
    assert len(gemms) == 54 and all(r.unit == "tensor_core" for r in gemms)
    for op, r in zip(resnet50.ops, nr.ops):
        if op.is_gemm:
            assert r.roofline_s == pytest.approx(roofline_s(op))
            assert r.latency_s >= r.roofline_s * (1 - 1e-9), op.name
    assert nr.gemm_latency_s >= sum(r.roofline_s for r in gemms)
    assert 0 < nr.nongemm_latency_s < nr.latency_s and nr.energy_pJ_per_level["SIMT"] > 0


def test_resnet50_with_cim_at_l2(resnet50):
    base = evaluate_network(resnet50, "a100_like", "none")
    nr = evaluate_network(resnet50, "a100_like", "l2", "analog6T")
    _check_rows(resnet50, nr)
    assert all(r.unit == "cim" for r in nr.ops if r.op_class == "GEMM")
    assert nr.cim["arrays"] == 7648
    # every MAC of the network is a CiM MAC at the primitive's energy (plus the MACs of padded tiles, if any
    # operator was padded: cimscope.padding)
    ran = sum(r.extra.get("padding", {}).get("padded_macs", r.macs) * r.count for r in nr.ops if r.op_class == "GEMM")
    assert ran >= resnet50.total_macs()
    assert nr.energy_pJ_per_level["CiM_L2_MAC"] == pytest.approx(ran * nr.cim["primitive"]["mac_energy_pJ"])
    # NonGEMM work is the same in both (the CiM arrays still hold the activations, 31 MB >= every working set)
    assert nr.nongemm_latency_s == pytest.approx(base.nongemm_latency_s)
    assert nr.nongemm_energy_pJ == pytest.approx(base.nongemm_energy_pJ)


def test_nongemm_on_simt_by_hand():
    arch = build_arch("a100_like")
    n = 1_000_000
    op = ir.Op(name="relu", target="aten.relu.default", module="act", op_class="activation", kind="elementwise",
               dims={"A": n}, tensors=[ir.Tensor("Inputs", "input", [[("A", 1)]], 8),
                                       ir.Tensor("Outputs", "output", [[("A", 1)]], 8)],
               elem_ops=n, ops_per_element=1.0, bytes_read=n, bytes_written=n)
    r = evaluate_nongemm(op, EvalConfig(arch="a100_like", placement="none"))
    # 1 MB fits the 40 MB L2: stream from L2 at 5120 B/cycle (read and write), lanes 6912 ops/cycle
    assert r["cycles"] == pytest.approx(max(n / 6912, n / 5120))
    per_byte = {lv.name: (lv.action_energy_pJ["read"] / lv.block_size, lv.action_energy_pJ["write"] / lv.block_size)
                for lv in arch.levels}
    e = r["energy_pJ_per_level"]
    assert e["L2"] == pytest.approx(n * per_byte["L2"][0] + n * per_byte["L2"][1])
    assert e["SMEM"] == pytest.approx(2 * n * sum(per_byte["SMEM"]))        # through L1 both ways
    assert e["RF"] == pytest.approx(2 * n * sum(per_byte["RF"]))
    assert "HBM" not in e and e["SIMT"] == pytest.approx(n * r["extra"]["lane_op_pJ"])


def test_weight_stationary_only_names_the_missing_capacity():
    wl = ir.Workload(model="tiny", ops=[gemm_op(512, 1024, 1024, name="big")])
    with pytest.raises(MappingError, match=r"operator big .*missing 1,036,288 B"):
        evaluate_network(wl, "a100_sm", "rf", "analog6T", weight_reload=False)
    nr = evaluate_network(wl, "a100_sm", "rf", "analog6T")          # tiled: weights rewritten per tile
    assert nr.ops[0].extra["cim"]["mapping"]["weight_tiles"] > 1


def test_evaluate_cli_json_and_bad_input(tmp_path, capsys):
    from cimscope.cli import main
    cache = str(tmp_path / "cache")
    assert main(["evaluate", "--model", "resnet18", "--image-size", "32", "--arch", "a100_sm", "--placement",
                 "rf", "--primitive", "digital6T", "--cache-dir", cache, "--json", "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    d = json.loads(out)
    assert d["placement"] == "rf" and d["primitive"] == "digital6T" and d["energy_pJ"] > 0
    assert len(d["ops"]) > 20 and {"name", "target", "module", "op_class", "energy_pJ", "latency_s",
                                   "cycles"} <= set(d["ops"][0])
    assert (tmp_path / "o" / "resnet18_a100_sm_rf_digital6T.json").is_file()
    for bad, what in ((["--arch", "h100"], "valid archs: a100_like, a100_sm"),
                      (["--placement", "hbm"], "valid placements: l2, none, rf, smem"),
                      (["--placement", "rf", "--primitive", "sram"], "valid primitives: analog6T")):
        assert main(["evaluate", "--model", "resnet18", *bad]) == 2
        err = capsys.readouterr().err
        assert what in err and "Traceback" not in err
