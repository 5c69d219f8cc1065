"""Full-depth LLM export: wall time, CPU time and peak memory (RSS) of `export_model` for Llama-2-7B, Llama-3-8B
and Mixtral-8x7B (prefill of 2048 tokens; decode of one token with a 2048-token KV cache), each in a fresh
process, and the time of a second length reusing the cached symbolic capture (ratio to the first export, same
process). Targets (issues 16/17): under 60 s and under 4 GB RSS per export on 2 cores.

    .venv/bin/python benchmarks/bench_export_llm.py [CASE ...] [--second N]

CASE is MODEL:prefill:SEQ or MODEL:decode:KV (default: the six of the table in docs/workloads.md).
CPU time (user + system of the process) is reported beside wall time: on a shared machine the wall time grows
with the load, the CPU time much less.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys

DEFAULT = ["llama-2-7b:prefill:2048", "llama-2-7b:decode:2048", "llama-3-8b:prefill:2048",
           "llama-3-8b:decode:2048", "mixtral-8x7b:prefill:2048", "mixtral-8x7b:decode:2048"]

CHILD = r"""
import json, resource, sys, time, warnings
warnings.simplefilter("ignore")
model, phase, length, second = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
from cimscope.workloads import export_model

def run(n):
    kw = dict(seq_len=n) if phase == "prefill" else dict(seq_len=n, phase="decode", kv_len=n)
    t0, c0 = time.perf_counter(), time.process_time()
    wl = export_model(model, **kw)
    return wl, time.perf_counter() - t0, time.process_time() - c0

wl, wall, cpu = run(length)
rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
wl2, wall2, cpu2 = run(second)
print(json.dumps({"ops": len(wl.ops), "gmac": sum(o.macs for o in wl.ops) / 1e9, "wall_s": wall, "cpu_s": cpu,
                  "rss_mb": rss1, "reused": wl2.meta["capture_reused"], "wall2_s": wall2, "cpu2_s": cpu2,
                  "gmac2": sum(o.macs for o in wl2.ops) / 1e9,
                  "rss2_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cases", nargs="*", default=DEFAULT)
    ap.add_argument("--second", type=int, default=1024, help="the second length (tokens) exported in-process")
    args = ap.parse_args()
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f} at start; python {platform.python_version()}")
    head = (f"{'case':28s} {'ops':>5s} {'GMAC':>9s} {'wall s':>7s} {'CPU s':>7s} {'peak RSS MB':>11s} | "
            f"{'2nd len':>7s} {'wall s':>7s} {'CPU s':>6s} {'reused':>6s} {'CPU ratio':>9s}")
    print(head)
    print("-" * len(head))
    for case in args.cases:
        model, phase, length = case.split(":")
        out = subprocess.run([sys.executable, "-c", CHILD, model, phase, length, str(args.second)],
                             capture_output=True, text=True)
        if out.returncode != 0:
            print(f"{case:28s} FAILED: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else '?'}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{case:28s} {r['ops']:5d} {r['gmac']:9.1f} {r['wall_s']:7.1f} {r['cpu_s']:7.1f} "
              f"{r['rss_mb']:11.0f} | {args.second:7d} {r['wall2_s']:7.2f} {r['cpu2_s']:6.2f} "
              f"{str(r['reused']):>6s} {r['cpu2_s'] / r['cpu_s']:9.3f}", flush=True)
    print(f"# load average {os.getloadavg()[0]:.1f} at end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
