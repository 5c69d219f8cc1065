"""scripts/nongemm_table.py: rows, names it cannot export, and the table it prints (no export run here)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "nongemm_table.py"


@pytest.fixture(scope="module")
def table():
    spec = importlib.util.spec_from_file_location("nongemm_table", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["nongemm_table"] = mod          # dataclasses look their module up
    try:
        spec.loader.exec_module(mod)
        yield mod
    finally:
        sys.modules.pop("nongemm_table", None)


def test_every_nongemm_bench_model_has_a_row(table):
    labels = [r.label for r in table.rows()]
    assert labels == ["Swin-T", "Swin-S", "Swin-B", "ViT-B", "ViT-L", "ViT-H", "DETR-R50", "MaskFormer-Swin-B",
                      "SegFormer-B0", "SegFormer-B1", "SegFormer-B3", "SegFormer-B5", "BERT-base", "GPT-2",
                      "GPT-2-large", "GPT2-XL", "Llama-2-7B", "Llama-3-8B", "Mixtral-8x7B", "Mask R-CNN",
                      "Faster R-CNN"]
    paper = {r.label: r.paper for r in table.rows() if r.paper}
    assert set(paper) == {"GPT2-XL", "Swin-B"} and "47 %" in paper["GPT2-XL"] and "58 %" in paper["Swin-B"]


def test_closed_form_gemm_macs(table):
    # GPT2-XL, 512 tokens: 48 x (12 x 1600^2 x 512 + 2 x 512^2 x 1600) = 795.24 GMAC
    assert table.transformer_gmacs(48, 1600, 6400, 512) == pytest.approx(795.24, abs=0.01)


def test_unknown_name_is_not_exported_with_its_reason(table):
    row = table.Row("Nothing", ("no-such-model-a", "no-such-model-b"))
    res = table.run_row(row, timeout_s=5)
    assert res["exported"] is False
    assert res["reason"] == "unknown model (tried no-such-model-a, no-such-model-b)"
    md = table.markdown([res])
    assert "| Nothing | no: unknown model (tried no-such-model-a, no-such-model-b) |" in md


def test_markdown_row_of_an_exported_model(table):
    shares = {"GEMM": 40.0, "memory": 35.0, "arithmetic": 25.0, "activation": 0.2, "NonGEMM": 60.0}
    res = {"label": "X", "name": "x", "exported": True, "operators": 7, "gemm_gmacs": 1.234, "paper": "",
           "reference_gmacs": 1.23, "reference_source": "closed form",
           "eager": {"shares_pct": shares}, "fused": {"shares_pct": {**shares, "NonGEMM": 20.0}}}
    line = table.markdown([res]).splitlines()[-1]
    assert line == ("| X (`x`) | yes | 7 | 1.23 (1.23, closed form) | 60.0 | mem 35.0, arith 25.0 | 20.0 | "
                    "mem 35.0, arith 25.0 | - |")
