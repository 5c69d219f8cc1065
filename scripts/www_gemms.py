#!/usr/bin/env python3
"""Reproduce the WWW GEMM table: the GEMM shapes of the WWW study (T. Sharma et al., "What, When, Where to
Compute-in-Memory", arXiv 2312.15896) on the WWW tensor-core-like SM (``a100_sm``) with CiM at every
placement (none, rf, smem) and each of the four primitives.

Shapes (M x N x K, Z[M,N] = A[M,K] B[K,N], B the weights), as the WWW artifact lists them
(github.com/tanvisharma/WWWtoCiM, src/my-inputs/workloads/bert.txt and resnet.txt):
  BERT-Large: 512x1024x1024, 512x512x1024, 512x1024x512, 512x4096x1024, 512x1024x4096
  ResNet50 (im2col of every convolution and the classifier, batch 1): the unique shapes of resnet.txt.

Usage:
  .venv/bin/python scripts/www_gemms.py [--set bert|resnet50|all] [--workers N] [--out DIR] [--json]
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter

BERT_LARGE = [(512, 1024, 1024), (512, 512, 1024), (512, 1024, 512), (512, 4096, 1024), (512, 1024, 4096)]
# resnet.txt, row by row (M, N, K): every convolution as an im2col GEMM and the classifier, batch 1
RESNET50 = [
    (12544, 64, 147), (3136, 64, 64), (3136, 64, 576), (3136, 256, 64), (3136, 64, 256), (3136, 64, 576),
    (3136, 256, 64), (3136, 64, 256), (3136, 64, 576), (3136, 256, 64), (3136, 128, 256), (784, 128, 1152),
    (784, 512, 128), (784, 128, 512), (784, 128, 1152), (784, 512, 128), (784, 128, 512), (784, 128, 1152),
    (784, 512, 128), (784, 128, 512), (784, 128, 1152), (784, 512, 128), (784, 256, 512), (196, 256, 2304),
    (196, 1024, 256), (196, 256, 1024), (196, 256, 2304), (196, 1024, 256), (196, 256, 1024), (196, 256, 2304),
    (196, 1024, 256), (196, 256, 1024), (196, 256, 2304), (196, 1024, 256), (196, 256, 1024), (196, 256, 2304),
    (196, 1024, 256), (196, 256, 1024), (196, 256, 2304), (196, 1024, 256), (196, 512, 1024), (49, 512, 4608),
    (49, 2048, 512), (49, 512, 2048), (49, 512, 4608), (49, 2048, 512), (49, 512, 2048), (49, 512, 4608),
    (49, 2048, 512), (1, 1000, 2048),
]


def workloads(which: str):
    from cimscope import ir
    from cimscope.evaluate import gemm_op
    sets = {"bert": ("BERT-Large", BERT_LARGE), "resnet50": ("ResNet50", RESNET50)}
    chosen = list(sets) if which == "all" else [which]
    out = {}
    for key in chosen:
        label, shapes = sets[key]
        counts = Counter(shapes)
        ops = []
        for (m, n, k), c in counts.items():
            op = gemm_op(m, n, k, name=f"{m}x{n}x{k}", module=label)
            op.count = c
            ops.append(op)
        out[label] = ir.Workload(model=label, ops=ops, meta={"source": "WWW artifact workloads/" + key})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", default="bert", choices=["bert", "resnet50", "all"])
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--cache-dir", default=".cimscope_cache/results")
    ap.add_argument("--out", default=None, help="write www_gemms.csv/.json here")
    ap.add_argument("--json", action="store_true", help="print the table as JSON on stdout")
    args = ap.parse_args(argv)

    from cimscope.arch.placements import PRIMITIVES
    from cimscope.atomic import write_json, write_text
    from cimscope.evaluate import EvalConfig
    from cimscope.report import csv_text, text_table
    from cimscope.sweep import run_grid

    from cimscope.cli._common import writable_dir
    from cimscope.errors import CimscopeError, InputError
    try:
        if args.workers is not None and args.workers < 1:
            raise InputError(f"--workers must be >= 1, got {args.workers}")
        if args.out:                      # checked before the grid runs, not after
            writable_dir(args.out, "--out")
        writable_dir(args.cache_dir, "--cache-dir")
    except CimscopeError as exc:
        print(f"www_gemms: error: {exc}", file=sys.stderr)
        return 2
    wls = workloads(args.set)
    configs = [EvalConfig(arch="a100_sm", placement="none")]
    configs += [EvalConfig(arch="a100_sm", placement=pl, primitive=pr) for pl in ("rf", "smem") for pr in PRIMITIVES]
    grid = run_grid(wls, configs, workers=args.workers, cache_dir=args.cache_dir, progress=not args.json)
    rows = []
    for label, wl in wls.items():
        if (label, "baseline") not in grid.networks:    # no baseline: no ratios for this workload
            print(f"www_gemms: error: {label} baseline failed: {grid.errors.get((label, 'baseline'), '?')}",
                  file=sys.stderr)
            return 2
        base = {o.name: o for o in grid.networks[(label, "baseline")].ops}
        for cfg in configs:
            nr = grid.networks.get((label, cfg.label()))
            if nr is None:
                continue
            for o in nr.ops:
                b = base[o.name]
                rows.append({"workload": label, "gemm_MxNxK": o.name, "count": o.count,
                             "placement": cfg.placement, "primitive": cfg.primitive or "-",
                             "energy_uJ": o.energy_pJ * 1e-6, "cycles": o.cycles, "latency_s": o.latency_s,
                             "edp_Js": o.edp_Js, "energy_x": o.energy_pJ / b.energy_pJ,
                             "throughput_x": b.cycles / o.cycles, "edp_x": o.edp_Js / b.edp_Js,
                             "bound": o.bound})
    cols = [("workload", "workload"), ("gemm_MxNxK", "GEMM MxNxK"), ("placement", "placement"),
            ("primitive", "primitive"), ("energy_uJ", "energy (uJ)"), ("cycles", "cycles"),
            ("edp_Js", "EDP (J*s)"), ("energy_x", "energy x"), ("throughput_x", "throughput x"),
            ("edp_x", "EDP x"), ("bound", "bound")]
    if args.out:
        from pathlib import Path
        write_text(Path(args.out) / "www_gemms.csv", csv_text(rows))
        write_json(Path(args.out) / "www_gemms.json", {"rows": rows, "stats": grid.stats})
    if args.json:
        sys.stdout.write(json.dumps({"rows": rows, "stats": grid.stats}, indent=2) + "\n")
    else:
        print(text_table(rows, cols))
        print(f"\n(ratios vs the a100_sm baseline of the same GEMM; {grid.stats['gemm_tasks']} tasks, "
              f"{grid.stats['cache_hits']} cached, {grid.stats['seconds']:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
