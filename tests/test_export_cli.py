"""`cimscope export`: output folder, --json, and one-line errors with exit status 2."""
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

import torch  # noqa: E402,F401  (a required dependency: fail, never skip)

from cimscope.cli import main  # noqa: E402
from cimscope.workloads import load_workload  # noqa: E402
from cimscope.workloads.problem import validate_problem  # noqa: E402

TINY = textwrap.dedent("""
    import torch
    from torch import nn

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Conv2d(3, 8, 3, stride=2, padding=1)
            self.b = nn.Conv2d(8, 8, 3, padding=1)
            self.c = nn.Conv2d(8, 8, 3, padding=1)

        def forward(self, x):
            x = torch.relu(self.a(x))
            x = torch.relu(self.b(x))
            return torch.softmax(self.c(x).flatten(1), dim=-1)

    def make(batch=1, image_size=16):
        return Tiny(), (torch.randn(batch, 3, image_size, image_size),)
""")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    p = tmp_path_factory.mktemp("cli") / "tiny.py"
    p.write_text(TINY)
    return p


def test_export_writes_folder_and_table(tiny, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["export", f"{tiny}:make", "--image-size", "16", "--batch", "2", "--weight-bits", "4",
               "--out", str(out)])
    captured = capsys.readouterr()
    assert rc == 0 and captured.out == ""
    assert "GEMM" in captured.err and "NonGEMM" in captured.err and "workload.yaml" in captured.err
    wl = load_workload(out / "workload.yaml")
    assert wl.batch == 2 and wl.meta["weight_bits"] == 4
    # execution order kept: conv a, relu, conv b, relu, conv c, flatten, softmax's three passes
    assert [(o.op_class, o.module) for o in wl.ops[:5]] == [("GEMM", "a"), ("activation", ""), ("GEMM", "b"),
                                                            ("activation", ""), ("GEMM", "c")]
    assert [o.attrs.get("part") for o in wl.ops[-3:]] == ["max", "exp_sum", "divide"]
    convs = wl.gemm_ops()
    assert [o.dims["P"] for o in convs] == [8, 8, 8]          # 16 -> 8 with stride 2, then same padding
    index = yaml.safe_load((out / "problems" / "index.yaml").read_text())
    assert sum(e["count"] for e in index["index"]) == len(wl.ops)
    # b and c have the same shape: one problem file, counted twice
    conv_entries = [e for e in index["index"] if e["kind"] == "conv"]
    assert sorted(e["count"] for e in conv_entries) == [1, 2]
    problem_files = sorted((out / "problems").glob("[0-9]*.yaml"))
    assert len(problem_files) == index["problems"]
    for f in problem_files:
        assert validate_problem(yaml.safe_load(f.read_text())) == []
    summary = json.loads((out / "summary.json").read_text())
    assert summary["totals"]["count"] == len(wl.ops)


def test_export_json_prints_only_the_summary(tiny, tmp_path, capsys):
    rc = main(["export", f"{tiny}:make", "--out", str(tmp_path / "o"), "--json"])
    captured = capsys.readouterr()
    assert rc == 0
    doc = json.loads(captured.out)                           # one JSON document, nothing else on stdout
    assert doc["model"].endswith("tiny.py:make")
    assert set(doc["per_class"]) >= {"GEMM", "activation", "logit_computation", "memory"}
    assert doc["gemm_vs_nongemm"]["GEMM"]["macs"] == doc["totals"]["macs"] > 0
    assert "┃" not in captured.err                            # no table with --json


def test_unknown_model_exits_2_with_names_and_no_traceback():
    proc = subprocess.run([sys.executable, "-m", "cimscope", "export", "no_such_net"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    line = [ln for ln in proc.stderr.splitlines() if "error" in ln]
    assert len(line) == 1 and "no_such_net" in line[0]
    for name in ("resnet18", "vit_b_16", "bert-base-uncased", "gpt2", "llama-tiny"):
        assert name in line[0]


def test_untraceable_model_exits_2(tmp_path, capsys):
    f = tmp_path / "bad.py"
    f.write_text(textwrap.dedent("""
        import torch
        from torch import nn

        class Bad(nn.Module):
            def forward(self, x):
                while x.max() > 1:
                    x = x / 2
                return x

        def make():
            return Bad(), (torch.randn(4, 4) * 10,)
    """))
    rc = main(["export", f"{f}:make", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2
    assert "cannot capture" in err and "while x.max() > 1:" in err and "what to try" in err
    assert "Traceback" not in err
    assert not (tmp_path / "o" / "workload.yaml").exists()


def test_unwritable_out_exits_2_before_exporting(tiny, tmp_path, capsys, monkeypatch):
    import cimscope.workloads as wlmod

    def boom(*a, **k):
        raise AssertionError("exported although --out cannot be written")
    monkeypatch.setattr(wlmod, "export_model", boom)
    a_file = tmp_path / "file"
    a_file.write_text("")
    rc = main(["export", f"{tiny}:make", "--out", str(a_file / "sub")])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert f"--out '{a_file / 'sub'}': cannot create this folder" in err


@pytest.mark.parametrize("args,words", [
    (["bert-base-uncased", "--phase", "decode"], ["decoder", "llama-2-7b"]),
    (["llama-tiny", "--phase", "generate"], ["valid phases: prefill, decode"]),
    (["llama-tiny", "--kv-len", "64"], ["decode only"]),
    (["resnet18", "--phase", "decode"], ["not a language model"]),
])
def test_phase_errors_exit_2_in_one_line(tmp_path, capsys, args, words):
    rc = main(["export", *args, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    lines = [ln for ln in err.splitlines() if "error" in ln]
    assert len(lines) == 1 and all(w in lines[0] for w in words)


def test_decode_export_by_name(tmp_path, capsys):
    rc = main(["export", "llama-tiny", "--phase", "decode", "--kv-len", "16", "--seq", "4",
               "--out", str(tmp_path / "o"), "--json"])
    assert rc in (0, None)
    summary = json.loads(capsys.readouterr().out)
    wl = load_workload(tmp_path / "o")
    assert wl.meta["phase"] == "decode" and wl.meta["kv_len"] == 16 and summary["totals"]["count"] == len(wl.ops)
    assert wl.meta["input_shapes"][0] == [1, 1]
