"""Every BF-IMNA figure published in docs/bitfluid.md and README.md is what `cimscope bitfluid` computes today
(the same command, the same 4-significant-digit formatting). Pinned before the bitfluid/ package refactor;
a change of a figure must come with a docs change and a commit message that names the cause."""
import json
import re
from pathlib import Path

import pytest

from cimscope.cli import main

ROOT = Path(__file__).resolve().parents[1]
DOCS = (ROOT / "docs" / "bitfluid.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")
HAWQ_CMD = "cimscope bitfluid --model resnet18 --configs hawq-v3 --out results/hawq-v3"
SWEEP_CMD = ("cimscope bitfluid --model alexnet,vgg16,resnet50 --configs int8,int4 --tech sram,reram "
             "--vdd 0.7,0.8,0.9 --out results/sweep")


def _docs_table(after: str) -> list[list[str]]:
    """Rows of the rich table printed (verbatim) after the line ``after`` in docs/bitfluid.md."""
    block = DOCS[DOCS.index(f"`{after}`"):]
    block = block[:block.index("```", block.index("```") + 3)]
    return [[c.strip() for c in line.strip().strip("│").split("│")] for line in block.splitlines()
            if line.startswith("│")]


def _readme_table(after: str) -> list[list[str]]:
    block = README[README.index(f"`{after}`"):]
    lines = [ln for ln in block.splitlines() if ln.startswith("|")]
    start = block.splitlines().index(lines[0])
    rows = []
    for ln in block.splitlines()[start:]:
        if not ln.startswith("|"):
            break
        rows.append([c.strip() for c in ln.strip("|").split("|")])
    return [r for r in rows[2:]]                      # drop header and |---|


def _run(capsys, args: list[str]) -> dict:
    assert main(["bitfluid", *args, "--json"]) == 0
    out, err = capsys.readouterr()
    return json.loads(out)


def _fmt(r: dict) -> list[str]:
    return [r["model"], r["config"], r["cell"], f"{r['vdd_V']:.2f}", f"{r['energy_mJ']:.4g}",
            f"{r['latency_ms']:.4g}", f"{r['edp_Js']:.4g}", f"{r['throughput_inf_per_s']:.4g}",
            "" if r.get("top1") is None else f"{r['top1']:.2f}"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("bitfluid-figures-cache"))


@pytest.mark.slow
def test_hawq_v3_table_and_dynamic_sequence(capsys, cache):
    doc = _run(capsys, ["--model", "resnet18", "--configs", "hawq-v3", "--sequence",
                        "uniform8,latency_0.5,uniform4,uniform4", "--cache-dir", cache])
    got = [_fmt(r) for r in doc["runs"]]
    assert got == _docs_table(HAWQ_CMD)
    assert [[g[1], *g[4:]] for g in got] == _readme_table(HAWQ_CMD)
    d = doc["dynamic"][0]
    line = (f"total {d['total_energy_J'] * 1e3:.4g} mJ, {d['total_latency_s'] * 1e3:.4g} ms; average "
            f"{d['average_energy_J'] * 1e3:.4g} mJ, {d['average_latency_s'] * 1e3:.4g} ms per inference")
    assert line in DOCS
    assert f"{d['total_energy_J'] * 1e3:.4g} mJ in\nall" in README


@pytest.mark.slow
def test_sweep_table(capsys, cache):
    doc = _run(capsys, ["--model", "alexnet,vgg16,resnet50", "--configs", "int8,int4", "--tech", "sram,reram",
                        "--vdd", "0.7,0.8,0.9", "--cache-dir", cache])
    got = [_fmt(r) for r in doc["runs"]]
    assert got == _docs_table(SWEEP_CMD)
    at08 = [[g[0], g[1], g[2], *g[4:8]] for g in got if g[3] == "0.80"]
    assert at08 == _readme_table(SWEEP_CMD)
    clocks = [f"{a['ap_clock_GHz']:.3g}" for a in doc["arch"]]
    assert clocks == re.findall(r"AP clock ([\d.]+) GHz", DOCS[DOCS.index(f"`{SWEEP_CMD}`"):])[:6]
