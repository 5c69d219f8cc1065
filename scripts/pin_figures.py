#!/usr/bin/env python3
"""Record (or check) the per-configuration figures of the evaluation layer on a small network.

``tests/data/pin_workload.json`` (a small network exported once: 7x7 stride-2 stem, 3x3 and strided 1x1
convolutions, a linear layer on 13 tokens, attention QK^T/AV with dynamic weights, NonGEMM operators) is
evaluated on every placement x primitive of a100_like, a few a100_sm points, the CiM options and resident
weights. ``--write`` stores energy (pJ), cycles and energy per level of every operator and network in
``tests/data/pinned_figures.json``; without it the figures are compared to that file (tests/test_pinned_figures.py
runs the comparison on a subset).

  .venv/bin/python scripts/pin_figures.py [--write]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORKLOAD = ROOT / "tests" / "data" / "pin_workload.json"
PINNED = ROOT / "tests" / "data" / "pinned_figures.json"
PRIMS = ("analog6T", "analog8T", "digital6T", "digital8T")
#: Baseline mappings come from the builtin mapper; a fixed evaluation count keeps them reproducible.
MAPPER_EVALS = 400


def configs() -> list[dict]:
    out = [dict(arch="a100_like", placement="none")]
    out += [dict(arch="a100_like", placement=pl, primitive=pr) for pl in ("rf", "smem", "l2") for pr in PRIMS]
    out += [dict(arch="a100_sm", placement="none"), dict(arch="a100_sm", placement="rf", primitive="analog6T"),
            dict(arch="a100_sm", placement="smem", primitive="digital8T")]
    out += [dict(arch="a100_like", placement="smem", primitive="analog6T", interleave=False, duplicate=False),
            dict(arch="a100_sm", placement="smem", primitive="digital6T", weight_reload=False)]
    out += [dict(arch="a100_like", placement="none", resident_weights=True),
            dict(arch="a100_like", placement="smem", primitive="analog6T", resident_weights=True),
            dict(arch="a100_sm", placement="rf", primitive="digital6T", resident_weights=True),
            dict(arch="a100_sm", placement="smem", primitive="digital6T", resident_weights=True)]
    return out


def label(c: dict) -> str:
    return "|".join(f"{k}={v}" for k, v in sorted(c.items()))


def figures(workload, cfg: dict) -> dict:
    from cimscope.errors import CimscopeError
    from cimscope.evaluate import evaluate_network
    kw = dict(cfg)
    arch, placement, primitive = kw.pop("arch"), kw.pop("placement"), kw.pop("primitive", None)
    try:
        nr = evaluate_network(workload, arch, placement, primitive, mapper_max_evaluations=MAPPER_EVALS, **kw)
    except CimscopeError as exc:
        return {"error": str(exc)}
    return {"energy_pJ": nr.energy_pJ, "cycles": nr.cycles, "latency_s": nr.latency_s,
            "energy_pJ_per_level": nr.energy_pJ_per_level,
            "ops": {o.name: [o.energy_pJ, o.cycles, o.unit, o.bound, o.note] for o in nr.ops}}


def same(a, b, rel: float = 1e-9) -> bool:
    """Equal figures (floats to ``rel``: summation order may change the last digits), equal everything else."""
    if isinstance(a, dict):
        return isinstance(b, dict) and set(a) == set(b) and all(same(a[k], b[k], rel) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(same(x, y, rel) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, (int, float)):
        return abs(a - b) <= rel * max(abs(a), abs(b)) + 1e-9
    return a == b


def load_workload():
    from cimscope import ir
    return ir.Workload.from_dict(json.loads(WORKLOAD.read_text()))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args(argv)
    os.environ["CIMSCOPE_CACHE"] = tempfile.mkdtemp(prefix="cimscope-pin-")
    wl = load_workload()
    got = {label(c): figures(wl, c) for c in configs()}
    if args.write:
        PINNED.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
        print(f"wrote {PINNED}")
        return 0
    ref = json.loads(PINNED.read_text())
    bad = 0
    for k, v in got.items():
        if not same(v, ref.get(k)):
            bad += 1
            print(f"DIFFERS: {k}")
    print(f"{len(got) - bad} of {len(got)} configurations identical")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
