"""Benchmark of `cimscope profile`'s measurement: what the profiler costs, and how much of the measured
wall-clock time the operator classes account for.

Baseline: the same model's unprofiled wall-clock latency, measured in the same run (median of RUNS runs).
Figures: profiled latency and its ratio to the baseline (profiler + module-annotation overhead), operator
time per inference and its share of the profiled wall time (coverage), time outside operators, and the time
the counting rule (cimscope.profile.group_events) takes on the run's events.

    .venv/bin/python benchmarks/bench_profile.py [MODEL ...]      (default: resnet18 at 224x224, batch 1)
"""
from __future__ import annotations

import statistics
import sys
import time


def main(argv: list[str]) -> int:
    import torch
    from torch.profiler import ProfilerActivity, profile, record_function

    from cimscope.profile import RUN_ANNOTATION, _ModuleAnnotations, events_from_torch, group_events, profile_model
    from cimscope.workloads import build_model

    models = argv or ["resnet18"]
    runs, warmup = 5, 2
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, runs {runs}, warm-up {warmup}")
    for name in models:
        prof = profile_model(name, device="cpu", runs=runs, warmup=warmup)
        base = prof.wall_median_s
        profiled = statistics.median(prof.profiled_wall_s)
        print(f"\n{name} (cpu, fp32, batch 1)")
        print(f"  unprofiled latency (baseline)  {base * 1e3:9.2f} ms/inference")
        print(f"  profiled latency               {profiled * 1e3:9.2f} ms/inference  "
              f"({profiled / base:.2f}x baseline)")
        print(f"  operator self time             {prof.total_s * 1e3:9.2f} ms/inference  "
              f"({100 * prof.total_s / profiled:.1f}% of profiled wall)")
        print(f"  outside operators              {prof.outside_s * 1e3:9.2f} ms/inference")
        print(f"  NonGEMM share                  {prof.nongemm_share_pct:9.1f} %")

        # the counting rule alone, on the events of one profiled run
        module, inputs = build_model(name)
        module.eval()
        with torch.inference_mode():
            module(*inputs)
            with _ModuleAnnotations(module):
                with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as p:
                    with record_function(RUN_ANNOTATION):
                        module(*inputs)
        t0 = time.perf_counter()
        events, _ = events_from_torch(p.events())
        t1 = time.perf_counter()
        group_events(events)
        t2 = time.perf_counter()
        print(f"  events of one run              {len(events):9d} events")
        print(f"  reading them                   {(t1 - t0) * 1e3:9.2f} ms")
        print(f"  counting rule (group_events)   {(t2 - t1) * 1e3:9.2f} ms  "
              f"({(t2 - t1) / base:.3f}x one inference)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
