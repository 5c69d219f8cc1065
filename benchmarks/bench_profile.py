"""Benchmark of `cimscope profile`'s measurement: what the profiler costs, and how much of the measured
wall-clock time the operator classes account for.

Baseline: the same model's unprofiled wall-clock latency, measured in the same run (median of RUNS runs).
Figures, for 1 intra-op thread and for torch's default thread count: profiled latency (mean) and its ratio to
the baseline (profiler + module-annotation overhead), operator time per inference and its share of the mean
profiled wall time (coverage), time outside operators, the NonGEMM share; then the time the counting rule
(cimscope.profile.classes.group_events) takes on one run's events.

    .venv/bin/python benchmarks/bench_profile.py [MODEL ...]      (default: resnet18 at 224x224, batch 1)
"""
from __future__ import annotations

import os
import statistics
import sys
import time


def main(argv: list[str]) -> int:
    import torch
    from torch.profiler import ProfilerActivity, profile, record_function

    from cimscope.profile.classes import RUN_ANNOTATION, group_events
    from cimscope.profile.measure import ModuleAnnotations, events_from_torch, profile_model, quiet_native_stderr
    from cimscope.workloads import build_model

    models = argv or ["resnet18"]
    runs, warmup = 5, 2
    default_threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, runs {runs}, warm-up {warmup}")
    for name in models:
        base = None
        for threads in sorted({1, default_threads}):
            prof = profile_model(name, device="cpu", runs=runs, warmup=warmup, threads=threads)
            base = base or prof.wall_median_s
            profiled = statistics.fmean(prof.profiled_wall_s)
            print(f"\n{name} (cpu, fp32, batch 1, {threads} thread{'s' if threads > 1 else ''})")
            print(f"  unprofiled latency             {prof.wall_median_s * 1e3:9.2f} ms/inference  "
                  f"({prof.wall_median_s / base:.2f}x the 1-thread baseline)")
            print(f"  profiled latency (mean)        {profiled * 1e3:9.2f} ms/inference  "
                  f"({profiled / prof.wall_median_s:.2f}x unprofiled)")
            print(f"  operator self time             {prof.total_s * 1e3:9.2f} ms/inference  "
                  f"({100 * prof.total_s / profiled:.1f}% of profiled wall)")
            print(f"  outside operators              {prof.outside_s * 1e3:9.2f} ms/inference")
            print(f"  NonGEMM share                  {prof.nongemm_share_pct:9.1f} %")

        # the counting rule alone, on the events of one profiled run
        module, inputs = build_model(name)
        module.eval()
        with torch.inference_mode():
            module(*inputs)
            with ModuleAnnotations(module):
                p = profile(activities=[ProfilerActivity.CPU], record_shapes=True)
                with quiet_native_stderr():
                    p.__enter__()
                with record_function(RUN_ANNOTATION):
                    module(*inputs)
                with quiet_native_stderr():
                    p.__exit__(None, None, None)
        t0 = time.perf_counter()
        events, _ = events_from_torch(p.events())
        t1 = time.perf_counter()
        group_events(events)
        t2 = time.perf_counter()
        print(f"\n  events of one run              {len(events):9d} events")
        print(f"  reading them                   {(t1 - t0) * 1e3:9.2f} ms")
        print(f"  counting rule (group_events)   {(t2 - t1) * 1e3:9.2f} ms  "
              f"({(t2 - t1) / base:.3f}x one inference)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
