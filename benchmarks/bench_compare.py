#!/usr/bin/env python3
"""Wall time of the full placement comparison (``cimscope compare`` defaults: ResNet-50 on a100_like, placements
none/rf/smem/l2 x four primitives = 13 configurations, every operator) on a local process pool, with a cold
result cache and again with the warm cache (a re-run resumes: it computes nothing).

  .venv/bin/python benchmarks/bench_compare.py [--model resnet50] [--workers 2]

Prints seconds (wall clock), GEMM tasks computed / taken from the cache, and the cold/warm ratio.
The model export is done (and cached) before timing; it is not part of either figure. Both the per-operator
result cache and the builtin mapper's mapping cache start empty for the cold run.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="resnet50")
    ap.add_argument("--arch", default="a100_like")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)

    from cimscope.arch.placements import PLACEMENTS, PRIMITIVES
    from cimscope.evaluate import EvalConfig
    from cimscope.sweep import run_grid
    from cimscope.workloads import export_model

    wl = export_model(args.model, cache_dir=".cimscope_cache/workloads")
    configs = [EvalConfig(arch=args.arch, placement="none")]
    configs += [EvalConfig(arch=args.arch, placement=pl, primitive=pr) for pl in PLACEMENTS[1:] for pr in PRIMITIVES]
    with tempfile.TemporaryDirectory(prefix="cimscope-bench-") as cache:
        # cold means cold: the builtin mapper's own cache of baseline mappings goes to the same fresh folder
        os.environ["CIMSCOPE_CACHE"] = cache
        t0 = time.perf_counter()
        cold = run_grid({args.model: wl}, configs, workers=args.workers, cache_dir=cache, progress=True)
        t_cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        warm = run_grid({args.model: wl}, configs, workers=args.workers, cache_dir=cache, progress=True)
        t_warm = time.perf_counter() - t0
    n_ops = len(wl.ops)
    print(f"{args.model} on {args.arch}: {len(configs)} configurations x {n_ops} operators "
          f"({len(wl.gemm_ops())} GEMM), {args.workers} worker processes")
    print(f"  cold cache: {t_cold:.2f} s wall, {cold.stats['computed']} GEMM tasks computed, "
          f"{cold.stats['cache_hits']} from cache")
    print(f"  warm cache: {t_warm:.2f} s wall, {warm.stats['computed']} GEMM tasks computed, "
          f"{warm.stats['cache_hits']} from cache")
    print(f"  cold / warm: {t_cold / t_warm:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
