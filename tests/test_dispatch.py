"""Per-operator dispatch (``--dispatch best``): each GEMM in CiM or on the tensor cores by EDP, the reason per
operator, and a network never worse than either pure placement."""
import json
from pathlib import Path

import pytest

from cimscope import ir
from cimscope.errors import UnknownNameError
from cimscope.evaluate import evaluate_network
from cimscope.pipeline.dispatch import mix, pick_network, reuse_threshold
from cimscope.pipeline.network import MemoryCache, evaluate
from cimscope.report import compare_json, compare_text, network_text
from cimscope.study import Study, result_key
from cimscope.sweep import run_grid

ROOT = Path(__file__).resolve().parents[1]
EVALS = 400          # a fixed mapper budget keeps the baseline mappings reproducible and fast


@pytest.fixture(scope="module")
def workload():
    return ir.Workload.from_dict(json.loads((ROOT / "tests" / "data" / "pin_workload.json").read_text()))


@pytest.fixture(autouse=True)
def _mapper_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("CIMSCOPE_CACHE", str(tmp_path_factory.getbasetemp() / "mapper-cache"))


def test_study_dispatch_is_validated_and_shares_records():
    with pytest.raises(UnknownNameError, match="all, best|all | best|valid"):
        Study(placement="smem", primitive="analog6T", dispatch="some")
    assert Study(placement="none", dispatch="best").dispatch == "all"
    a = Study(placement="smem", primitive="analog6T")
    b = Study(placement="smem", primitive="analog6T", dispatch="best")
    assert "dispatch" not in a.options() and b.options()["dispatch"] == "best"
    assert a.label() != b.label()
    op = evaluate_gemm_op()
    assert result_key(op, a) == result_key(op, b)       # the CiM records do not depend on the dispatch


def evaluate_gemm_op():
    from cimscope.evaluate import gemm_op
    return gemm_op(64, 64, 64)


def test_reuse_threshold_separates_gaining_operators():
    assert reuse_threshold([(1, False), (5, False), (20, True), (40, True)]) == (20, 0, 4)
    assert reuse_threshold([(1, False), (5, False)])[0] is None          # CiM never pays
    assert reuse_threshold([(1, True), (30, False), (50, True)]) == (1, 1, 3)


@pytest.mark.parametrize("placement,primitive", [("smem", "analog6T"), ("rf", "digital8T")])
def test_best_is_never_worse_than_a_pure_placement(workload, placement, primitive):
    cache = MemoryCache()
    kw = dict(mapper_max_evaluations=EVALS)
    base = evaluate(workload, Study(**kw), cache=cache)
    every = evaluate(workload, Study(placement=placement, primitive=primitive, **kw), cache=cache)
    best = evaluate(workload, Study(placement=placement, primitive=primitive, dispatch="best", **kw), cache=cache)
    d = best.meta["dispatch"]
    assert best.edp_Js <= min(every.edp_Js, base.edp_Js) * (1 + 1e-12)
    assert d["mix_edp_Js"] >= best.edp_Js and d["baseline_edp_Js"] == pytest.approx(base.edp_Js)
    assert d["all_cim_edp_Js"] == pytest.approx(every.edp_Js)
    units = set()
    for b, c, t in zip(best.ops, every.ops, base.ops):
        if b.op_class != ir.GEMM:
            continue
        assert "dispatch:" in b.note and b.extra["dispatch"] in ("cim", "tensor_core")
        units.add(b.unit)
        if d["chosen"] == "per-operator mix":
            assert b.edp_Js <= min(c.edp_Js, t.edp_Js) * (1 + 1e-12)
            assert (b.unit == "cim") == (c.edp_Js < t.edp_Js)
            assert (b.energy_pJ, b.cycles) in ((c.energy_pJ, c.cycles), (t.energy_pJ, t.cycles))
    assert d["cim_ops"] == sum(1 for o in best.ops if o.op_class == ir.GEMM and o.unit == "cim")
    assert "dispatch best:" in network_text(best)


def row(name, e, lat, unit, op_class=ir.GEMM):
    return ir.OpEvaluation(name=name, target="t", module="m", op_class=op_class, kind="gemm", count=1, unit=unit,
                           energy_pJ=e, cycles=lat, latency_s=lat, macs=100, weight_bytes=10.0,
                           reuse_macs_per_weight_byte=10.0)


def network(rows, placement="smem"):
    return ir.NetworkResult(model="x", arch="a100_like", placement=placement, primitive="analog6T", engine="builtin",
                            ops=rows, energy_pJ=sum(r.energy_pJ for r in rows),
                            latency_s=sum(r.latency_s for r in rows), cycles=0.0, energy_pJ_per_level={},
                            gemm_energy_pJ=0.0, gemm_latency_s=0.0, nongemm_energy_pJ=0.0, nongemm_latency_s=0.0,
                            cycle_seconds=1.0)


def test_a_gemm_cim_cannot_run_goes_to_the_tensor_cores():
    rows, summary = mix([None, row("b", 1, 1, "cim")], [row("a", 2, 2, "tensor_core"), row("b", 5, 5, "tensor_core")],
                        ["weights 9 B > CiM weight capacity 4 B", ""])
    assert [r.unit for r in rows] == ["tensor_core", "cim"]
    assert "CiM cannot run it: weights 9 B" in rows[0].note and summary["cim_ops"] == 1


def test_a_pure_placement_wins_when_the_per_operator_mix_is_worse():
    # per operator the tensor cores win both (EDP 9 < 10, 0.1 < 1), but the network EDP of the sums is lower
    # with every GEMM in CiM: (10 + 1) x (1 + 1) = 22 < (1 + 100) x (9 + 0.001)
    cim = [row("a", 10, 1, "cim"), row("b", 1, 1, "cim")]
    tc = [row("a", 1, 9, "tensor_core"), row("b", 100, 0.001, "tensor_core")]
    rows, summary = mix(cim, tc)
    assert [r.unit for r in rows] == ["tensor_core", "tensor_core"]
    nr = pick_network(network(rows), network(cim), network(tc, "none"), summary)
    assert nr.meta["dispatch"]["chosen"] == "all GEMMs in CiM" and nr.edp_Js == network(cim).edp_Js
    assert [o.unit for o in nr.ops] == ["cim", "cim"] and nr.meta["dispatch"]["cim_ops"] == 2


def test_compare_json_rows_carry_the_dispatch(workload):
    studies = [Study(mapper_max_evaluations=EVALS)] + [
        Study(placement="smem", primitive="analog6T", dispatch=d, mapper_max_evaluations=EVALS) for d in ("all", "best")]
    grid = run_grid({"pin": workload}, studies, workers=1, cache_dir=None, progress=False)
    doc = compare_json(grid)
    assert [r["dispatch"] for r in doc["configurations"]] == ["all", "all", "best"]
    n_gemm = len(workload.gemm_ops())
    assert len(doc["dispatch"]) == n_gemm and {r["unit"] for r in doc["dispatch"]} <= {"cim", "tensor_core"}
    assert all(g["primitive"] == "analog6T" for g in doc["gains"]) and len(doc["gains"]) == n_gemm
    best = grid.networks[("pin", studies[2].label())]
    direct = evaluate_network(workload, "a100_like", "smem", "analog6T", mapper_max_evaluations=EVALS, dispatch="best")
    assert best.edp_Js == pytest.approx(direct.edp_Js, rel=1e-9)
    assert "per-operator dispatch" in compare_text(grid)


def test_cli_dispatch(workload, tmp_path, capsys):
    from cimscope.cli import main
    from cimscope.workloads import save_workload
    d = tmp_path / "wl"
    save_workload(workload, d)
    common = ["--workload", str(d), "--cache-dir", str(tmp_path / "c")]
    assert main(["evaluate", *common, "--placement", "smem", "--dispatch", "most"]) == 2
    assert "dispatch" in capsys.readouterr().err
    assert main(["compare", *common, "--placements", "none,smem", "--primitives", "analog6T",
                 "--dispatch", "all,best", "--workers", "1", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [r["dispatch"] for r in doc["configurations"]] == ["all", "all", "best"]
    rows = {r["dispatch"]: r for r in doc["configurations"]}
    assert rows["best"]["edp_Js"] <= min(r["edp_Js"] for r in doc["configurations"]) * (1 + 1e-12)
    assert main(["evaluate", *common, "--placement", "smem", "--dispatch", "best"]) == 0
    cap = capsys.readouterr()
    err = cap.err                                         # human tables go to stderr, stdout stays empty
    assert cap.out == "" and "dispatch best:" in err and ("dispatch: CiM" in err or "dispatch: tensor cores" in err)


def test_gemms_beyond_cim_capacity_go_to_the_tensor_cores(workload):
    from cimscope.errors import CimscopeError
    kw = dict(weight_reload=False, mapper_max_evaluations=EVALS)
    with pytest.raises(CimscopeError, match="whole array tiles"):      # all: a GEMM CiM cannot hold stops it
        evaluate_network(workload, "a100_sm", "rf", "digital6T", **kw)
    nr = evaluate_network(workload, "a100_sm", "rf", "digital6T", dispatch="best", **kw)
    rows = {o.name: o for o in nr.ops}
    assert rows["convolution_2"].unit == "tensor_core" and "CiM cannot run it" in rows["convolution_2"].note
    assert nr.meta["dispatch"]["all_cim_edp_Js"] is None
