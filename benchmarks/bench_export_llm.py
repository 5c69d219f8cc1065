"""LLM export and evaluation by name: wall time, CPU time and peak memory (RSS) of `export_model`, and of
`cimscope evaluate --model NAME` (export included), for Llama-2-7B, Llama-3-8B and Mixtral-8x7B (prefill of
2048 tokens; decode of one token with a 2048-token KV cache), each in a fresh process, and the time of a second
length reusing the cached symbolic capture (ratio to the first export, same process). Targets (issue 16):
export and evaluate each under 60 s wall and 2 GB peak RSS on 2 cores.

    .venv/bin/python benchmarks/bench_export_llm.py [CASE ...] [--second N] [--no-evaluate]
        [--placement P --primitive X]

CASE is MODEL:prefill:SEQ or MODEL:decode:KV (default: the six of the table in docs/workloads.md). The named
Llama/Mistral/Mixtral decoders are captured at 3 layers and replicated to full depth
(cimscope.workloads.replicate; the 'capture' column says which).
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
import tempfile
from typing import Optional

DEFAULT = ["llama-2-7b:prefill:2048", "llama-2-7b:decode:2048", "llama-3-8b:prefill:2048",
           "llama-3-8b:decode:2048", "mixtral-8x7b:prefill:2048", "mixtral-8x7b:decode:2048"]

CHILD = r"""
import json, resource, sys, time, warnings
warnings.simplefilter("ignore")
t00 = time.perf_counter()
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
                  "replicated": any("replicated" in n for n in wl.meta["capture_notes"]),
                  "process_wall_s": time.perf_counter() - t00,
                  "rss2_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

# `cimscope evaluate --model NAME ... --json` in this process (what the command line runs), timed from start
EVAL_CHILD = r"""
import contextlib, io, json, resource, sys, time
t0, c0 = time.perf_counter(), time.process_time()
from cimscope.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
    rc = main(sys.argv[1:])
r = json.loads(out.getvalue()) if rc == 0 else {}
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"rc": rc, "wall_s": time.perf_counter() - t0, "cpu_s": ru.ru_utime + ru.ru_stime,
                  "rss_mb": ru.ru_maxrss / 1024, "energy_J": r.get("energy_pJ", 0) * 1e-12,
                  "latency_s": r.get("latency_s", 0), "nongemm_latency_s": r.get("nongemm_latency_s", 0)}))
"""


def child(code: str, args: list[str], env: Optional[dict] = None) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         env={**os.environ, **(env or {})})
    if out.returncode != 0 or not out.stdout.strip():
        tail = out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "?"
        return {"error": tail}
    return json.loads(out.stdout.strip().splitlines()[-1])


def evaluate_args(model: str, phase: str, length: str, placement: str, primitive: str, cache: str) -> list[str]:
    """The evaluate command of a case, with an empty cache folder (export and mapping from scratch)."""
    args = ["evaluate", "--model", model, "--seq", length, "--placement", placement, "--json", "--cache-dir", cache]
    if phase == "decode":
        args += ["--phase", "decode", "--kv-len", length]
    return args + (["--primitive", primitive] if placement != "none" else [])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cases", nargs="*", default=DEFAULT)
    ap.add_argument("--second", type=int, default=1024, help="the second length (tokens) exported in-process")
    ap.add_argument("--no-evaluate", action="store_true", help="export only")
    ap.add_argument("--placement", default="none", help="evaluate's --placement (default none: the A100 baseline)")
    ap.add_argument("--primitive", default="analog6T", help="evaluate's --primitive when the placement has CiM")
    args = ap.parse_args()
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f} at start; python {platform.python_version()}")
    head = (f"{'case':26s} {'ops':>5s} {'GMAC':>8s} {'capture':>10s} {'wall s':>6s} {'CPU s':>6s} {'RSS MB':>6s} | "
            f"{'2nd len':>7s} {'CPU s':>5s} {'CPU ratio':>9s} | {'evaluate':>8s} {'wall s':>6s} {'CPU s':>6s} "
            f"{'RSS MB':>6s} {'energy J':>8s} {'latency ms':>10s} {'NonGEMM %':>9s}")
    print(head)
    print("-" * len(head))
    for case in args.cases:
        model, phase, length = case.split(":")
        r = child(CHILD, [model, phase, length, str(args.second)])
        if "error" in r:
            print(f"{case:26s} export FAILED: {r['error']}")
            continue
        line = (f"{case:26s} {r['ops']:5d} {r['gmac']:8.1f} {'3 layers' if r['replicated'] else 'full':>10s} "
                f"{r['process_wall_s']:6.1f} {r['cpu_s']:6.1f} {r['rss_mb']:6.0f} | {args.second:7d} "
                f"{r['cpu2_s']:5.2f} {r['cpu2_s'] / r['cpu_s']:9.3f} |")
        if not args.no_evaluate:
            with tempfile.TemporaryDirectory(prefix="bench-llm-") as cache:
                e = child(EVAL_CHILD, evaluate_args(model, phase, length, args.placement, args.primitive, cache),
                          env={"CIMSCOPE_CACHE": cache})          # the mapper's cache too
            if "error" in e or e.get("rc"):
                line += f" evaluate FAILED: {e.get('error', e.get('rc'))}"
            else:
                line += (f" {args.placement:>8s} {e['wall_s']:6.1f} {e['cpu_s']:6.1f} {e['rss_mb']:6.0f} "
                         f"{e['energy_J']:8.3f} {e['latency_s'] * 1e3:10.2f} "
                         f"{100 * e['nongemm_latency_s'] / e['latency_s'] if e['latency_s'] else 0:9.1f}")
        print(line, flush=True)
    print(f"# load average {os.getloadavg()[0]:.1f} at end. Export wall s: the whole process (imports included);"
          f" evaluate: the whole `cimscope evaluate` command in one process, export and mapping included (an "
          f"empty --cache-dir and CIMSCOPE_CACHE)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
