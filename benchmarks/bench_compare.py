#!/usr/bin/env python3
"""The main job, timed: ``cimscope compare --out DIR`` with its defaults (ResNet-50 on a100_like, placements
none/rf/smem/l2 x four primitives = 13 configurations, every operator) on a local pool of ``--workers``
processes, each run a fresh process (start, cached export, grid, CSV/JSON/PNG):

1. cold: empty result cache and mapper cache, CiM candidates scored by the vectorised model (the default);
2. fully cached: the same command again (it computes nothing), and with ``--workload DIR`` (the exported
   workload read from disk: no torch import, which ``--model`` still pays for its export cache key);
3. reference: cold again with CiM candidates scored by the exact model (``$CIMSCOPE_CIM_SCORING=exact``);
   the printed ratio is reference / cold, and the two runs' compare.csv must be identical.

  .venv/bin/python benchmarks/bench_compare.py [--model resnet50] [--workers 2] [--skip-exact]

Wall seconds depend on the machine's load; CPU seconds (user + system of the command and its workers) much
less: on a shared machine compare the ratios of one run. The export is done (and cached) before timing, and the
package's byte-code is compiled first (as ``pip install`` does; a checkout run with ``PYTHONDONTWRITEBYTECODE=1``
would otherwise compile every module again in each of the three processes).
"""
from __future__ import annotations

import argparse
import compileall
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from cimscope.pipeline.score import SCORING_ENV
from cimscope.workloads import export_model, save_workload

CLI = str(Path(sys.executable).with_name("cimscope"))


def tree_cpu(proc: subprocess.Popen) -> float:
    """CPU seconds (user + system) of ``proc`` and every process below it (its worker processes), sampled
    every 0.1 s until it exits (the last sample of each process counts)."""
    last: dict[int, float] = {}
    root = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            procs = [root] + root.children(recursive=True)
        except psutil.NoSuchProcess:
            break
        for p in procs:
            try:
                t = p.cpu_times()
                last[p.pid] = t.user + t.system
            except psutil.NoSuchProcess:
                pass
        time.sleep(0.1)
    return sum(last.values())


def run(args: argparse.Namespace, cache: str, out: str, scoring: str, workload: str = "") -> tuple[float, float]:
    """(wall s, CPU s) of one ``cimscope compare`` process and its workers (caches in ``cache``)."""
    env = dict(os.environ, CIMSCOPE_CACHE=os.path.join(cache, "mapper"))
    env[SCORING_ENV] = scoring
    what = ["--workload", workload] if workload else ["--model", args.model]
    cmd = [CLI, "compare", *what, "--arch", args.arch, "--workers", str(args.workers), "--cache-dir", cache,
           "--out", out]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cpu = tree_cpu(proc)
    if proc.wait() != 0:
        raise SystemExit(f"{' '.join(cmd)} failed with exit status {proc.returncode}")
    return time.perf_counter() - t0, cpu


def fresh_cache(tmp: str, name: str) -> str:
    """An empty result and mapper cache sharing the working folder's export cache."""
    cache = os.path.join(tmp, name)
    os.makedirs(cache)
    os.symlink(os.path.abspath(".cimscope_cache/workloads"), os.path.join(cache, "workloads"))
    return cache


def rows(out: str) -> list[dict]:
    with open(os.path.join(out, "compare.csv"), newline="") as f:
        return list(csv.DictReader(f))


def close(a: str, b: str) -> bool:
    """Equal cells; numbers to 1e-9 relative (summation order may change the last digits)."""
    try:
        x, y = float(a), float(b)
    except ValueError:
        return a == b
    return abs(x - y) <= 1e-9 * max(abs(x), abs(y)) or x == y


def same_rows(a: list[dict], b: list[dict]) -> bool:
    return len(a) == len(b) and all(r.keys() == s.keys() and all(close(r[k], s[k]) for k in r) for r, s in zip(a, b))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="resnet50")
    ap.add_argument("--arch", default="a100_like")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--skip-exact", action="store_true", help="skip the exact-model reference run")
    args = ap.parse_args(argv)

    root = Path(__file__).resolve().parents[1]
    for pkg in ("cimscope", "arch", "plugins", "workloads", "mappers"):
        compileall.compile_dir(root / pkg, quiet=1)
    wl = export_model(args.model, cache_dir=".cimscope_cache/workloads")
    print(f"cimscope compare --model {args.model} --arch {args.arch} --workers {args.workers} --out DIR: "
          f"13 configurations x {len(wl.ops)} operators ({len(wl.gemm_ops())} GEMM), {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="cimscope-bench-") as tmp:
        cache = fresh_cache(tmp, "cache")
        cold = run(args, cache, os.path.join(tmp, "out"), "vectorised")
        warm = run(args, cache, os.path.join(tmp, "out2"), "vectorised")
        wdir = os.path.join(tmp, "workload")
        save_workload(wl, wdir)
        warm_wl = run(args, cache, os.path.join(tmp, "out3"), "vectorised", workload=wdir)
        print(f"  cold caches:   {cold[0]:7.2f} s wall, {cold[1]:7.2f} s CPU   (target: < 20 s wall on 2 cores)")
        print(f"  fully cached:  {warm[0]:7.2f} s wall, {warm[1]:7.2f} s CPU   (target: < 2 s wall)")
        print(f"  fully cached, --workload DIR: {warm_wl[0]:7.2f} s wall, {warm_wl[1]:7.2f} s CPU")
        print(f"  cold / fully cached: {cold[0] / warm[0]:.1f}x wall, {cold[1] / max(warm[1], 1e-9):.1f}x CPU")
        if not args.skip_exact:
            ref = run(args, fresh_cache(tmp, "ref"), os.path.join(tmp, "ref_out"), "exact")
            same = same_rows(rows(os.path.join(tmp, "out")), rows(os.path.join(tmp, "ref_out")))
            print(f"  cold, exact-model CiM scoring (reference): {ref[0]:7.2f} s wall, {ref[1]:7.2f} s CPU; "
                  f"compare.csv {'equal' if same else 'DIFFERS'} (1e-9)")
            print(f"  reference / vectorised: {ref[0] / cold[0]:.1f}x wall, {ref[1] / cold[1]:.1f}x CPU")
        print(f"  load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
