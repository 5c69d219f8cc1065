#!/usr/bin/env python3
"""Wall time of the ``www`` methodology on all four artifact workload lists (BERT-Large, GPT-J, ResNet50, DLRM:
their unique GEMM shapes) x the 9 WWW configurations (baseline + rf/smem x four primitives), cold (nothing is
cached: the baseline mapper runs for every shape), on a process pool and serially in the same run.

  .venv/bin/python benchmarks/bench_www.py [--workers 2]

Prints seconds (wall clock) for the pool and for one process, the speed-up, and the serial time split into the
baseline mapper and the CiM evaluations (each CiM configuration is one model evaluation of the mapping its
dataflow fixes).
"""
from __future__ import annotations

import argparse
import resource
import sys
import time


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)

    from cimscope.www.grid import CONFIGS, evaluate_shapes, www_rows
    from cimscope.www.workloads import workload_shapes

    wls = workload_shapes("all")
    shapes = list(dict.fromkeys(s for c in wls.values() for s in c))
    t0 = time.perf_counter()
    rows = www_rows(wls, workers=args.workers)
    t_pool = time.perf_counter() - t0
    cpu_pool = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
    t0, c0 = time.perf_counter(), time.process_time()
    evaluate_shapes(shapes, CONFIGS[:1])
    t_base = time.perf_counter() - t0
    t0 = time.perf_counter()
    evaluate_shapes(shapes, CONFIGS[1:])
    t_cim = time.perf_counter() - t0
    cpu_serial = time.process_time() - c0
    print(f"www methodology: {len(shapes)} unique GEMM shapes of {', '.join(wls)} x {len(CONFIGS)} configurations "
          f"= {len(shapes) * len(CONFIGS)} evaluations ({len(rows)} rows)")
    print(f"  {args.workers} worker processes: {t_pool:.1f} s wall ({cpu_pool:.1f} s CPU in the workers)")
    print(f"  1 process:          {t_base + t_cim:.1f} s wall, {cpu_serial:.1f} s CPU (baseline mapper {t_base:.1f} s, "
          f"CiM {t_cim:.1f} s wall); pool speed-up {(t_base + t_cim) / t_pool:.2f}x")
    print("  (wall above CPU: the machine's cores are shared with other jobs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
