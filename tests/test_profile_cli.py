"""`cimscope profile` end to end on a tiny CPU model, and its error paths."""
import csv
import json

import pytest

import torch

from cimscope.cli import main  # noqa: E402
from cimscope.ir import GEMM, OP_CLASSES  # noqa: E402

TINY = '''
import torch
import torch.nn as nn


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.act = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 10)
        self.ln = nn.LayerNorm(10)

    def forward(self, x):
        y = self.pool(self.act(self.bn(self.conv(x)))).flatten(1)
        return torch.softmax(self.ln(self.fc(y)), dim=-1)


def tiny(batch=1, image_size=16):
    return Tiny(), (torch.randn(batch, 3, image_size, image_size),)
'''


@pytest.fixture()
def tiny_model(tmp_path):
    path = tmp_path / "tiny_model.py"
    path.write_text(TINY)
    return f"{path}:tiny"


def test_cpu_profile_end_to_end_writes_files(tiny_model, tmp_path, capsys):
    out = tmp_path / "prof"
    rc = main(["profile", tiny_model, "--device", "cpu", "--runs", "2", "--warmup", "1", "--threads", "1",
               "--image-size", "16", "--no-model", "--out", str(out), "--json"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    doc = json.loads(captured.out)                       # --json: one JSON document on stdout, nothing else
    (entry,) = doc["models"]
    meas = entry["measured"]
    assert meas["device"] == "cpu" and meas["runs"] == 2 and meas["threads"] == 1
    shares = meas["share_pct"]
    assert set(shares) == set(OP_CLASSES)
    assert sum(shares.values()) == pytest.approx(100.0)
    assert meas["gemm_share_pct"] + meas["nongemm_share_pct"] == pytest.approx(100.0)
    # the classes of the tiny model's calls are all present, and nothing else is
    present = {c for c, s in shares.items() if s > 0}
    assert {"GEMM", "normalization", "activation", "pooling", "logit_computation", "memory"} <= present
    assert present <= {"GEMM", "normalization", "activation", "pooling", "logit_computation", "memory",
                       "arithmetic"}
    # operator time fits inside the profiled wall-clock time of one thread
    assert 0 < meas["total_s"] * 2 <= sum(meas["profiled_wall_s"])
    ops = entry["ops"]
    names = [o["name"] for o in ops]
    assert names[:2] == ["aten::conv2d", "aten::batch_norm"]
    fc = next(o for o in ops if o["name"] == "aten::linear")
    # the op that did the work is one of linear's dispatch chain (which one is timing: the tiny addmm can
    # take less host time than its layout helpers on a loaded machine)
    assert fc["module"] == "fc" and fc["op_class"] == GEMM
    assert fc["work"] in ("aten::addmm", "aten::t", "aten::transpose", "aten::as_strided", "aten::linear")
    assert sum(o["measured_s"] for o in ops) == pytest.approx(meas["total_s"])
    assert entry["modelled"] is None

    files = doc["files"]
    for key in ("classes_csv", "ops_csv", "png", "json"):
        assert (out / files[key].split("/")[-1]).is_file(), key
    assert (out / "breakdown.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.DictReader((out / "breakdown.csv").open()))
    cls_rows = [r for r in rows if not r["op_class"].endswith("total")]
    assert sum(float(r["measured_share_pct"]) for r in cls_rows) == pytest.approx(100.0)
    assert {r["op_class"] for r in rows} >= {"GEMM total", "NonGEMM total"}
    assert len(list(csv.DictReader((out / "ops.csv").open()))) == len(ops)
    on_disk = json.loads((out / "profile.json").read_text())
    assert on_disk["models"][0]["measured"]["share_pct"] == shares
    assert "GEMM total" in captured.err                 # the human table went to stderr


def test_fp16_on_cpu_works_or_says_why(tiny_model, capsys):
    rc = main(["profile", tiny_model, "--device", "cpu", "--dtype", "fp16", "--runs", "1", "--warmup", "1",
               "--image-size", "16", "--no-model", "--json"])
    captured = capsys.readouterr()
    if rc == 0:
        assert json.loads(captured.out)["models"][0]["measured"]["dtype"] == "fp16"
    else:
        assert rc == 2 and "fp16 is not supported on cpu" in captured.err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_gpu_is_a_clear_error(capsys):
    rc = main(["profile", "resnet18", "--device", "cuda", "--no-model"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "no CUDA GPU is available" in err and "--device cpu" in err
    assert "Traceback" not in err


def test_unknown_model_lists_known_ones(capsys):
    rc = main(["profile", "resnet18,no_such_net", "--no-model"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "unknown model 'no_such_net'" in err and "resnet50" in err and "bert-base-uncased" in err


@pytest.mark.parametrize("args, message", [
    (["--dtype", "fp8"], "unknown dtype 'fp8'"),
    (["--device", "tpu"], "unknown device 'tpu'"),
    (["--runs", "0"], "--runs: 0 is invalid (input should be greater than or equal to 1); valid: an integer >= 1"),
    (["--batch", "0"], "--batch: 0 is invalid"),
    (["--batch", "1025"], "--batch: 1025 is invalid (input should be less than or equal to 1024); "
                          "valid: an integer in [1, 1024]"),
    (["--image-size", "7"], "--image-size: 7 is invalid"),
    (["--image-size", "1025"], "valid: an integer in [8, 1024] (pixels)"),
    (["--seq-len", "0"], "--seq-len: 0 is invalid"),
    (["--seq", "131073"], "--seq-len: 131073 is invalid"),            # export's spelling works too
    (["--threads", "0"], "--threads: 0 is invalid"),
    (["--threads", "100000"], "valid: an integer in [1, "),
    (["--out", "/dev/null/sub"], "--out '/dev/null/sub': cannot create this folder"),
])
def test_bad_options_are_named(args, message, capsys, monkeypatch):
    import cimscope.profile.run

    def boom(*a, **k):
        raise AssertionError("measured although an option is bad")
    monkeypatch.setattr(cimscope.profile.run, "profile_model", boom)      # every check comes before measuring
    rc = main(["profile", "resnet18", "--no-model"] + args)
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert message in err


def test_cpu_profile_with_the_modelled_side(tiny_model, tmp_path, capsys):
    """The measured breakdown joined with `cimscope evaluate` on a100_like (placement none)."""
    rc = main(["profile", tiny_model, "--device", "cpu", "--runs", "1", "--warmup", "1", "--threads", "1",
               "--image-size", "16", "--out", str(tmp_path), "--json"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    (entry,) = json.loads(captured.out)["models"]
    assert entry["modelled_error"] is None, entry["modelled_error"]
    mod = entry["modelled"]
    assert mod["arch"] == "a100_like" and mod["placement"] == "none"
    assert mod["total_s"] == pytest.approx(sum(mod["class_latency_s"].values()))
    rows = {r["op_class"]: r for r in entry["classes"]}
    cls_rows = [r for k, r in rows.items() if not k.endswith("total")]
    assert sum(r["modelled_share_pct"] for r in cls_rows) == pytest.approx(100.0)
    for r in entry["classes"]:
        assert r["diff_pp"] == pytest.approx(r["modelled_share_pct"] - r["measured_share_pct"])
        assert r["modelled_share_pct"] == pytest.approx(
            100.0 * sum(mod["class_latency_s"][c] for c in (
                [r["op_class"]] if r["op_class"] in OP_CLASSES else
                ["GEMM"] if r["op_class"] == "GEMM total" else
                [c for c in OP_CLASSES if c != "GEMM"])) / mod["total_s"])
    # every measured call of the tiny model has its exported operator (softmax's three parts as one)
    assert mod["op_match"]["matched_calls"] == mod["op_match"]["calls"] == len(entry["ops"])
    soft = next(o for o in entry["ops"] if o["name"] == "aten::softmax")
    assert len(soft["modelled_ops"]) == 3 and soft["modelled_s"] > 0
    conv = entry["ops"][0]
    assert conv["match"] == "module+target+shape" and conv["modelled_class"] == GEMM
    assert "error (pp)" in captured.err
    # the GPU execution model (A100, fp16 for an fp32 measurement) beside it, eager and fused
    gpu = mod["gpu_execution"]
    assert gpu["dtype"] == "fp16" and set(gpu["class_s"]) == {"eager", "fused"}
    assert sum(gpu["class_s"]["eager"].values()) >= sum(gpu["class_s"]["fused"].values()) > 0
    for label in ("eager fp16", "fused fp16"):
        assert sum(r["extra_share_pct"][label] for r in cls_rows) == pytest.approx(100.0)
    assert "eager fp16 (%)" in captured.err and "fused fp16 (%)" in captured.err
    header = (tmp_path / "breakdown.csv").read_text().splitlines()[0]
    assert header.endswith("eager_fp16_share_pct,fused_fp16_share_pct")


def test_compile_flag_reaches_the_measurement(capsys, monkeypatch):
    """--compile is passed to the measurement (no compilation here: the measurement is stood in)."""
    import cimscope.profile.run
    from cimscope.profile.measure import ModelProfile
    from cimscope.profile.run import ProfileOptions

    seen = {}

    def fake(name, **kw):
        seen.update(kw)
        return ModelProfile(model=name, device="cpu", device_name="stand-in", dtype="fp32", batch=1, runs=1,
                            warmup=1, threads=1, time_basis="host self time",
                            class_time_s={"GEMM": 3e-3, "memory": 1e-3}, wall_s=[4e-3], profiled_wall_s=[5e-3],
                            outside_s=1e-3, ops=[], unknown_ops={}, meta={"execution": "compiled (torch.compile)"})
    monkeypatch.setattr(cimscope.profile.run, "profile_model", fake)
    rc = main(["profile", "resnet18", "--compile", "--warmup", "0", "--runs", "1", "--no-model", "--json"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert seen["compile"] is True
    doc = json.loads(captured.out)
    assert doc["compile"] is True and doc["models"][0]["measured"]["share_pct"]["GEMM"] == pytest.approx(75.0)
    assert "compiled (torch.compile)" in captured.err
    assert ProfileOptions(compile=True, warmup=0, runs=2).steps == 1 + 2 * 2 + 1    # one warm-up compiles
