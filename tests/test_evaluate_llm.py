"""`cimscope evaluate/compare --phase prefill|decode --kv-len L`: checked at the door in one line (before any
export), passed through to the export, and a decode step costs one token per sequence with a KV cache."""
import contextlib
import io
import json
import math

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

import cimscope.workloads as wlmod  # noqa: E402
from cimscope.cli import main  # noqa: E402


@pytest.mark.parametrize("cmd", ["evaluate", "compare"])
@pytest.mark.parametrize("args,words", [
    (["--model", "llama-tiny", "--phase", "generate"], ["valid phases: prefill, decode"]),
    (["--model", "llama-tiny", "--kv-len", "64"], ["--kv-len", "decode only"]),
    (["--model", "llama-tiny", "--phase", "decode", "--kv-len", "-1"], ["--kv-len", "[0, 131072]"]),
    (["--model", "llama-tiny", "--phase", "decode", "--kv-len", "many"], ["--kv-len", "integer"]),
    (["--model", "resnet18", "--phase", "decode"], ["not a language model", "llama-2-7b"]),
    (["--model", "bert-base-uncased", "--phase", "decode"], ["decoder", "llama-tiny"]),
    (["--workload", "somewhere", "--phase", "decode"], ["--phase/--kv-len", "--workload"]),
])
def test_phase_errors_exit_2_in_one_line_before_export(cmd, args, words, tmp_path, capsys, monkeypatch):
    def boom(*a, **k):
        raise AssertionError("exported before the options were checked")
    monkeypatch.setattr(wlmod, "export_model", boom)
    monkeypatch.setattr(wlmod, "load_workload", boom)
    rc = main([cmd, *args, "--cache-dir", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    lines = [ln for ln in err.splitlines() if "error" in ln.lower()]
    assert len(lines) == 1 and all(w in lines[0] for w in words), err


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """evaluate llama-tiny at prefill (4 tokens) and one decode step (KV cache of 16 tokens), as JSON."""
    cache = tmp_path_factory.mktemp("cache")
    out = {}
    for phase, extra in (("prefill", []), ("decode", ["--phase", "decode", "--kv-len", "16"])):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
            rc = main(["evaluate", "--model", "llama-tiny", "--seq", "4", *extra, "--json",
                       "--cache-dir", str(cache)])
        assert rc in (0, None)
        out[phase] = json.loads(buf.getvalue())
    return out


def gemm_macs(result: dict) -> dict[str, int]:
    return {o["name"]: o["macs"] for o in result["ops"] if o["kind"] == "gemm"}


def test_decode_is_passed_through_to_the_export(runs):
    assert runs["decode"]["meta"]["phase"] == "decode" and runs["decode"]["meta"]["kv_len"] == 16
    assert runs["prefill"]["meta"]["phase"] == "prefill"


def test_decode_costs_one_token_with_a_kv_cache(runs):
    pre, dec = gemm_macs(runs["prefill"]), gemm_macs(runs["decode"])
    # projections: one token instead of --seq (4) tokens
    assert pre["linear"] == 4 * dec["linear"]
    hidden = math.isqrt(dec["linear"])                 # q_proj: hidden x hidden MACs for one token
    assert hidden * hidden == dec["linear"]
    # attention scores of the new token against the KV cache (16 cached + itself)
    assert dec["scaled_dot_product_attention.qk"] == hidden * (16 + 1)
    assert dec["scaled_dot_product_attention.av"] == hidden * (16 + 1)
    assert runs["decode"]["energy_pJ"] < runs["prefill"]["energy_pJ"]
    assert runs["decode"]["edp_Js"] != runs["prefill"]["edp_Js"]
