"""Start-up cost of the command line, in CPU seconds (user + system) per process, measured in this run:

* ``cimscope model`` on the README's reference case (04-conv1d+oc-3levelspatial-kp, with its ERT, --json):
  the light path (no typer, no other subcommand modules) against the same command through the typer app
  (the path every command took before), and the real ``timeloop-model`` when it is on PATH;
* ``cimscope --help`` (builds the typer app with every subcommand);
* the floor: a Python process importing only numpy and PyYAML (what the model path cannot avoid; pydantic is
  imported only when a value is not already a plain number, cimscope.timeloop.parsing).

The package's byte-code is compiled first (as ``pip install`` does; with ``PYTHONDONTWRITEBYTECODE=1`` a checkout
would compile every cimscope module again in each process, which the installed package never does).

Target (issue 13): ``cimscope model`` under 0.25 CPU s per process. A busy machine inflates every figure;
compare the rows of one run (ratios), not runs on different days.

    .venv/bin/python benchmarks/bench_start.py [--repeat N] [--case DIR]
"""
from __future__ import annotations

import argparse
import compileall
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASE = ROOT.parent.parent / "shared" / "reference" / "timeloop_cases" / "04-conv1d+oc-3levelspatial-kp"
if not CASE.is_dir():
    CASE = Path("/work/shared/reference/timeloop_cases/04-conv1d+oc-3levelspatial-kp")
TARGET_S = 0.25


def cpu_seconds(cmd: list[str], cwd: str | None = None) -> float:
    """CPU seconds (user + system) of one child process running ``cmd`` to completion (exit 0 required)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(cmd: list[str], repeat: int, cwd: str | None = None) -> tuple[float, float]:
    runs = [cpu_seconds(cmd, cwd) for _ in range(repeat)]
    return min(runs), statistics.median(runs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7, help="processes per row (min and median reported)")
    ap.add_argument("--case", type=Path, default=CASE, help="a Timeloop case folder with "
                    "parsed-processed-input.yaml and timeloop-model.ERT.yaml")
    args = ap.parse_args()
    for pkg in ("cimscope", "arch", "plugins", "workloads", "mappers"):
        compileall.compile_dir(ROOT / pkg, quiet=1)
    py = sys.executable
    inp, ert = args.case / "parsed-processed-input.yaml", args.case / "timeloop-model.ERT.yaml"
    model_args = ["model", str(inp), "--ert", str(ert), "--json"]
    rows = [
        ("python: import numpy, yaml (floor)", [py, "-c", "import numpy, yaml"]),
        ("cimscope model (light path)", [py, "-c", "import sys; from cimscope.cli import main; "
                                         "sys.exit(main(sys.argv[1:]))", *model_args]),
        ("cimscope model through the typer app", [py, "-c", "import sys; from cimscope.cli import run_app; "
                                                  "sys.exit(run_app(sys.argv[1:]))", *model_args]),
        ("cimscope --help", [py, "-c", "import sys; from cimscope.cli import main; sys.exit(main(['--help']))"]),
    ]
    tl = shutil.which("timeloop-model")
    print(f"# {platform.node()} {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; case {args.case.name}; "
          f"{args.repeat} processes per row")
    print(f"{'command':<48s} {'min CPU s':>10s} {'median CPU s':>13s}")
    results = {}
    for name, cmd in rows:
        results[name] = measure(cmd, args.repeat)
        print(f"{name:<48s} {results[name][0]:10.3f} {results[name][1]:13.3f}")
    if tl:
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            results["timeloop-model"] = measure([tl, str(inp), str(ert)], args.repeat, cwd=d)
        print(f"{'timeloop-model (real binary)':<48s} {results['timeloop-model'][0]:10.3f} "
              f"{results['timeloop-model'][1]:13.3f}")
    light, typer_path = results["cimscope model (light path)"][1], results["cimscope model through the typer app"][1]
    floor = results["python: import numpy, yaml (floor)"][1]
    print(f"light path / typer path: {light / typer_path:.2f} x (medians); light path / floor: {light / floor:.2f} x; "
          f"light path - floor: {light - floor:.3f} CPU s; target {TARGET_S} CPU s: "
          f"{'met' if light < TARGET_S else 'NOT met'}")
    if tl:
        print(f"light path / timeloop-model: {light / results['timeloop-model'][1]:.2f} x (medians)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
