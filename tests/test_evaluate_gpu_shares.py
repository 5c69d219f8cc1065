"""`cimscope evaluate` reports the GPU execution model (cimscope.gpu.execution.summary, fp16): NonGEMM shares by
NonGEMM Bench class on stderr in text mode, and under "gpu_execution" in the --json document (strict JSON)."""
import json

import pytest

from cimscope import ir
from cimscope.cli import main
from cimscope.evaluate import gemm_op
from cimscope.gpu.execution import summary
from cimscope.workloads import load_workload, save_workload


def relu(n: int) -> ir.Op:
    ts = [ir.Tensor(name="Inputs", role="input", projection=[[("X", 1)]], bits=8),
          ir.Tensor(name="Outputs", role="output", projection=[[("X", 1)]], bits=8)]
    return ir.Op(name="relu", target="aten.relu.default", module="act", op_class="activation", kind="elementwise",
                 dims={"X": n}, tensors=ts, macs=0, elem_ops=n, bytes_read=n, bytes_written=n)


@pytest.fixture(scope="module")
def wdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("wl") / "tiny"
    save_workload(ir.Workload(model="tiny", ops=[gemm_op(64, 64, 64, name="fc"), relu(64 * 64)]), d)
    return d


def args(wdir, tmp_path):
    return ["evaluate", "--workload", str(wdir), "--arch", "a100_sm", "--placement", "none",
            "--cache-dir", str(tmp_path / "cache")]


def test_json_has_the_gpu_execution_summary(wdir, tmp_path, capsys):
    assert main(args(wdir, tmp_path) + ["--json"]) == 0
    out = capsys.readouterr().out

    def refuse(c):
        raise ValueError(c)
    doc = json.loads(out, parse_constant=refuse)              # strict: no NaN/Infinity
    gs = doc["gpu_execution"]
    assert gs == json.loads(json.dumps(summary(load_workload(wdir), "fp16"), allow_nan=False))
    for key in ("eager", "fused", "roofline"):
        sh = gs[key]["shares_pct"]
        assert gs[key]["total_s"] > 0 and 0 < sh["activation"] < 100 and sh["NonGEMM"] == pytest.approx(
            sh["activation"]) and sh["GEMM"] + sh["NonGEMM"] == pytest.approx(100)
    assert doc["energy_pJ"] > 0 and len(doc["ops"]) == 2


def test_text_mode_prints_the_shares_on_stderr(wdir, tmp_path, capsys):
    assert main(args(wdir, tmp_path)) == 0
    cap = capsys.readouterr()
    assert "NonGEMM share by NonGEMM Bench class" in cap.err and "activation" in cap.err
    # human output (the network table too) goes to stderr; stdout is kept for --json
    assert "energy" in cap.err and cap.out == ""
