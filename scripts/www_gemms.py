#!/usr/bin/env python3
"""The WWW GEMM table (T. Sharma et al., "What, When, Where to Compute-in-Memory", arXiv 2312.15896): GEMM
shapes of the WWW artifact (github.com/tanvisharma/WWWtoCiM, my-inputs/workloads/{bert,gptj,resnet,dlrm}.txt)
with CiM at every placement (none, rf, smem) and each of the four primitives, by one of two methodologies:

  www       the artifact's own: its architectures (4 CiM arrays, X=1 x Y=4), ERT and baseline constraints,
            the priority-based dataflow, WWW's latency post-processing next to the raw Timeloop cycles
            (cimscope.www; docs/www.md)
  cimscope  cimscope's: the a100_sm preset, equal-area array counts, cimscope's mapper and CiM latency model
            (cimscope.evaluate; docs/placement.md)

Every row: workload, gemm (MxNxK), placement (none|rf|smem), primitive (null for none), energy_pJ,
timeloop_cycles (the engine's cycles before any CiM latency post-processing), cycles (after it), throughput_x
and energy_x against the baseline of the same GEMM, energy_pJ_per_level. Shapes: Z[M,N] = A[M,K] B[N,K].

Usage:
  .venv/bin/python scripts/www_gemms.py --methodology www --set bert --json
  .venv/bin/python scripts/www_gemms.py --methodology cimscope --shapes 512x1024x1024 --json
  .venv/bin/python scripts/www_gemms.py --methodology www --set all --plot docs/img   (the paper's figures)
  (--set resnet50 is accepted as resnet)
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter

METHODOLOGIES = ("www", "cimscope")
SET_CHOICES = ("bert", "gptj", "resnet", "dlrm", "all", "resnet50")


def _workloads(args) -> dict:
    from cimscope.errors import InputError
    from cimscope.www.workloads import parse_shapes, workload_shapes
    if args.shapes:
        if args.set:
            raise InputError("give --set or --shapes, not both")
        return {"GEMMs": Counter(parse_shapes(args.shapes))}
    name = args.set or "bert"
    return workload_shapes("resnet" if name == "resnet50" else name)


def cimscope_rows(shapes: dict, workers, cache_dir, progress: bool) -> tuple[list[dict], dict]:
    """Today's methodology: public cimscope.evaluate.EvalConfig / gemm_op and cimscope.sweep.run_grid."""
    from cimscope import ir
    from cimscope.arch.placements import PRIMITIVES
    from cimscope.errors import MappingError
    from cimscope.evaluate import EvalConfig, gemm_op
    from cimscope.sweep import run_grid

    wls = {}
    for label, counter in shapes.items():
        ops = []
        for (m, n, k), c in counter.items():
            op = gemm_op(m, n, k, name=f"{m}x{n}x{k}", module=label)
            op.count = c
            ops.append(op)
        wls[label] = ir.Workload(model=label, ops=ops, meta={"source": "WWW artifact workloads"})
    configs = [EvalConfig(arch="a100_sm", placement="none")]
    configs += [EvalConfig(arch="a100_sm", placement=pl, primitive=pr) for pl in ("rf", "smem") for pr in PRIMITIVES]
    grid = run_grid(wls, configs, workers=workers, cache_dir=cache_dir, progress=progress)
    rows = []
    for label in wls:
        if (label, "baseline") not in grid.networks:
            raise MappingError(f"{label} baseline failed: {grid.errors.get((label, 'baseline'), '?')}")
        base = {o.name: o for o in grid.networks[(label, "baseline")].ops}
        for cfg in configs:
            nr = grid.networks.get((label, cfg.label()))
            for o in (nr.ops if nr else []):
                b = base[o.name]
                m, n, k = (int(x) for x in o.name.split("x"))
                raw = (o.extra.get("cim") or {}).get("engine_cycles", o.cycles)
                rows.append({"methodology": "cimscope", "workload": label, "gemm": o.name, "M": m, "N": n, "K": k,
                             "count": o.count, "placement": cfg.placement, "primitive": cfg.primitive,
                             "energy_pJ": o.energy_pJ, "timeloop_cycles": raw, "cycles": o.cycles,
                             "latency_s": o.latency_s, "edp_Js": o.edp_Js, "throughput_x": b.cycles / o.cycles,
                             "energy_x": o.energy_pJ / b.energy_pJ, "edp_x": o.edp_Js / b.edp_Js,
                             "bound": o.bound, "energy_pJ_per_level": o.energy_pJ_per_level})
    return rows, grid.stats


def _text(rows: list[dict]) -> str:
    from cimscope.report import text_table
    cols = [("workload", "workload"), ("gemm", "GEMM MxNxK"), ("placement", "placement"), ("primitive", "primitive"),
            ("energy_uJ", "energy (uJ)"), ("timeloop_cycles", "Timeloop cycles"), ("cycles", "cycles"),
            ("energy_x", "energy x"), ("throughput_x", "throughput x"), ("bound", "bound")]
    return text_table([{**r, "primitive": r["primitive"] or "-", "energy_uJ": r["energy_pJ"] * 1e-6} for r in rows],
                      cols)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--methodology", default="cimscope", choices=METHODOLOGIES)
    ap.add_argument("--set", default=None, choices=SET_CHOICES, help="an artifact GEMM list (default bert)")
    ap.add_argument("--shapes", default=None, help="MxNxK[,MxNxK...] instead of --set")
    ap.add_argument("--dataflow", default=None, help="www: artifact (the stored runs' rules, default) or v2")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--cache-dir", default=None,
                    help="cimscope methodology: result cache (default .cimscope_cache/results)")
    ap.add_argument("--out", default=None, help="write www_gemms.csv/.json here")
    ap.add_argument("--json", action="store_true", help="print the rows as one JSON list on stdout")
    ap.add_argument("--plot", default=None, help="www: write the paper's figures (www_*.png) into this folder")
    ap.add_argument("--timeloop-dir", default=None,
                    help="www: write each evaluation's Timeloop v0.4 inputs (input.yaml, ert.yaml) under this folder")
    args = ap.parse_args(argv)

    from cimscope.atomic import write_json, write_text
    from cimscope.cli._common import writable_dir
    from cimscope.errors import CimscopeError, InputError
    from cimscope.report import csv_text
    try:
        if args.workers is not None and args.workers < 1:
            raise InputError(f"--workers must be >= 1, got {args.workers}")
        if args.out:                      # checked before the grid runs, not after
            writable_dir(args.out, "--out")
        for opt, value in (("--plot", args.plot), ("--timeloop-dir", args.timeloop_dir)):
            if value:
                if args.methodology != "www":
                    raise InputError(f"{opt} is an option of the www methodology; add --methodology www")
                writable_dir(value, opt)
        if args.methodology == "cimscope":
            if args.dataflow is not None:
                raise InputError("--dataflow selects the www methodology's dataflow; add --methodology www")
            args.cache_dir = args.cache_dir or ".cimscope_cache/results"
            writable_dir(args.cache_dir, "--cache-dir")
        elif args.cache_dir is not None:
            raise InputError("--cache-dir is the cimscope methodology's result cache; the www methodology caches "
                             "nothing")
        shapes = _workloads(args)
        if args.methodology == "www":
            from cimscope.www.grid import www_rows
            from cimscope.www.methodology import DATAFLOWS
            args.dataflow = args.dataflow or "artifact"
            if args.dataflow not in DATAFLOWS:
                raise InputError(f"--dataflow {args.dataflow!r} is not one of {', '.join(DATAFLOWS)}")
            rows, stats = www_rows(shapes, variant=args.dataflow, workers=args.workers,
                                   timeloop_dir=args.timeloop_dir), {}
        else:
            rows, stats = cimscope_rows(shapes, args.workers, args.cache_dir, progress=not args.json)
    except CimscopeError as exc:
        print(f"www_gemms: error: {exc}", file=sys.stderr)
        return 2
    if args.out:
        from pathlib import Path
        flat = [{k: v for k, v in r.items() if not isinstance(v, (dict, list))} for r in rows]
        write_text(Path(args.out) / "www_gemms.csv", csv_text(flat))
        write_json(Path(args.out) / "www_gemms.json", {"rows": rows, "stats": stats})
    if args.plot:
        from cimscope.www.figures import plot_all
        for path in plot_all(rows, args.plot):
            print(f"wrote {path}", file=sys.stderr)
    if args.json:
        sys.stdout.write(json.dumps(rows, indent=1) + "\n")
    else:
        print(_text(rows))
        print(f"\n({args.methodology} methodology; ratios vs the baseline of the same GEMM; energy_x < 1 and "
              f"throughput_x > 1 favour CiM)")
        for r in rows:
            if r.get("padded_to"):
                print(f"(baseline of {r['gemm']} ran as {r['padded_to']}: its 16 x 16 PEs need N, K in multiples "
                      f"of 16)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
