"""Foundation: IR validation, atomic writes, CLI error handling."""
import json
import subprocess
import sys

import pytest

from cimscope import atomic
from cimscope.ir import Op, Tensor, Workload


def _gemm(name="fc", M=4, N=8, K=16):
    return Op(
        name=name, target="aten.mm.default", module="fc", op_class="GEMM", kind="gemm",
        dims={"M": M, "N": N, "K": K},
        tensors=[Tensor("Inputs", "input", [[("M", 1)], [("K", 1)]], 8),
                 Tensor("Weights", "weight", [[("K", 1)], [("N", 1)]], 8),
                 Tensor("Outputs", "output", [[("M", 1)], [("N", 1)]], 8, read_write=True)],
        macs=M * N * K,
    )


def test_op_roundtrip_and_shape_key():
    op = _gemm()
    again = Op.from_dict(json.loads(json.dumps(op.to_dict())))
    assert again == op
    assert again.shape_key() == op.shape_key()
    assert _gemm(K=32).shape_key() != op.shape_key()
    wl = Workload("toy", [op, _gemm("fc2", K=32)])
    assert Workload.from_dict(wl.to_dict()).total_macs() == 4 * 8 * 16 + 4 * 8 * 32


def test_op_rejects_unknown_class_and_bad_dims():
    with pytest.raises(ValueError, match="class 'matmulish'"):
        Op(name="x", target="t", module="", op_class="matmulish", kind="gemm", dims={"M": 1}, tensors=[])
    with pytest.raises(ValueError, match="dimension M"):
        Op(name="x", target="t", module="", op_class="GEMM", kind="gemm", dims={"M": 0}, tensors=[])


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    target = tmp_path / "sub" / "r.json"
    atomic.write_json(target, {"a": 1})
    atomic.write_json(target, {"a": 2})
    assert json.loads(target.read_text()) == {"a": 2}
    assert [p.name for p in target.parent.iterdir()] == ["r.json"]


def test_atomic_write_has_ordinary_permissions(tmp_path):
    import os
    target = atomic.write_text(tmp_path / "a.txt", "x")
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
    os.chmod(target, 0o640)
    atomic.write_text(target, "y")
    assert target.stat().st_mode & 0o777 == 0o640


def test_cli_unknown_command_is_a_usage_error():
    r = subprocess.run([sys.executable, "-m", "cimscope", "no-such-command"], capture_output=True, text=True)
    assert r.returncode == 2
    assert "No such command" in r.stderr
    assert "Traceback" not in r.stderr
