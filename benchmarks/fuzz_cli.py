"""Long fuzz of every `cimscope` command (not run by CI; CI runs tests/test_fuzz_cli.py, a bounded version).

    .venv/bin/python benchmarks/fuzz_cli.py [--examples 200] [--commands model,mapper,...] [--seed 0]

Draws ``--examples`` cases per command from the strategies of tests/fuzz_cases.py (malformed options,
NaN/inf/negative/huge numbers, non-UTF-8 and malformed YAML/ERT files), runs each in-process through
``cimscope.cli.main`` (model build stubbed: no torch model runs) and prints, per command and in total, the
tally of outcomes, with the known finding (owner) each failing case belongs to:

* clean exit 2 (one error line, no traceback)   * exit 0 with valid output (valid inputs only)
* traceback                                      * exit 0 with an invalid value ("accepted")
* validated late (an invalid option reached the model build)   * other (several lines, other exit status)

Target: 0 tracebacks, 0 accepted invalid values.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

LABELS = {"clean2": "clean exit 2", "ok": "exit 0, valid", "traceback": "traceback",
          "accepted": "exit 0 invalid", "late": "validated late", "messy": "other"}


def fuzz(cmd: str, examples: int, seed: int) -> list:
    from hypothesis import HealthCheck, given, seed as hseed, settings

    import fuzz_cases as fc
    results = []

    @hseed(seed)
    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(fc.STRATEGIES[cmd]())
    def run(case):
        with tempfile.TemporaryDirectory() as d:
            results.append((case, fc.run_case(case, Path(d))))

    run()
    return results


def main() -> None:
    import fuzz_cases as fc
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=200, help="cases per command")
    ap.add_argument("--commands", default=",".join(fc.COMMANDS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--show", type=int, default=3, help="failing cases shown per finding")
    args = ap.parse_args()
    cmds = [c for c in args.commands.split(",") if c]
    total: Counter = Counter()
    by_finding: dict[str, list] = {}
    print(f"{'command':<9} {'cases':>6} " + " ".join(f"{v:>15}" for v in LABELS.values()) + f" {'s':>6}")
    for cmd in cmds:
        t0 = time.perf_counter()
        res = fuzz(cmd, args.examples, args.seed)
        tally = Counter(o.kind for _, o in res)
        total.update(tally)
        print(f"{cmd:<9} {len(res):>6} " + " ".join(f"{tally.get(k, 0):>15}" for k in LABELS)
              + f" {time.perf_counter() - t0:>6.1f}")
        for case, o in res:
            if o.kind not in fc.GOOD or (case.invalid and o.kind != "clean2"):
                f = fc.known_finding(case)
                by_finding.setdefault(f"{f.key} [{f.owner}]" if f else "NEW (unlisted)", []).append((case, o))
    n = sum(total.values())
    print(f"{'total':<9} {n:>6} " + " ".join(f"{total.get(k, 0):>15}" for k in LABELS))
    print("\nshares: " + ", ".join(f"{LABELS[k]} {total.get(k, 0) / max(1, n):.1%}" for k in LABELS))
    print("\nfailing cases by finding (owner):")
    for key, cases in sorted(by_finding.items(), key=lambda kv: -len(kv[1])):
        print(f"  {len(cases):>5}  {key}")
        for case, o in cases[:args.show]:
            print(f"         {case.what[:90]}  ->  {o.summary()[:110]}")


if __name__ == "__main__":
    main()
