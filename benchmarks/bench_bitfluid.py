"""Benchmark of the AP model and `cimscope bitfluid` (not run by CI).

    .venv/bin/python benchmarks/bench_bitfluid.py [--model resnet18] [--repeat 5]

Prints, with units:
1. AP pass counts and cycles of add/multiply at 2-16 bits against the published forms (8M and ~8M^2 cycles,
   Yavits et al. IEEE TC 2015), as ratios.
2. Speed of the evaluator: model export time (s), network evaluation time (ms) and operators per second.
3. Energy per MAC (fJ/MAC), latency and EDP of the model at INT8/INT4 on SRAM and ReRAM APs, and the HAWQ-V3
   configurations, as ratios against INT8 SRAM measured in the same run.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap_ = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap_.add_argument("--model", default="resnet18")
    ap_.add_argument("--repeat", type=int, default=5)
    args = ap_.parse_args()

    from cimscope import bitfluid as bf
    from cimscope.arch import bf_imna
    from cimscope.plugins.ap import ap_passes
    from cimscope.workloads import export_model

    print("1. AP pass counts (1 compare + 1 write cycle per pass, SRAM)")
    print(f"{'bits':>5} {'add cycles':>11} {'8M':>6} {'ratio':>6} {'mul cycles':>11} {'8M^2':>6} {'ratio':>6}")
    for m in (2, 4, 8, 16):
        a, mu = ap_passes("add", m).cycles(), ap_passes("mul", m).cycles()
        print(f"{m:>5} {a:>11} {8 * m:>6} {a / (8 * m):>6.3f} {mu:>11} {8 * m * m:>6} {mu / (8 * m * m):>6.3f}")

    print(f"\n2. evaluator speed ({args.model})")
    t0 = time.perf_counter()
    wl = export_model(args.model, batch=1, image_size=224)
    t_export = time.perf_counter() - t0
    arch = bf_imna.build()
    (i8,), _ = bf.load_configs("int8")
    t0 = time.perf_counter()
    for _ in range(args.repeat):
        bf.evaluate(wl, i8, arch)
    t_eval = (time.perf_counter() - t0) / args.repeat
    print(f"  export: {t_export:.2f} s; evaluate: {t_eval * 1e3:.1f} ms per network "
          f"({len(wl.ops)} operators, {len(wl.ops) / t_eval:.0f} operators/s)")

    print(f"\n3. {args.model} on BF-IMNA (16 nm, nominal Vdd), per inference; baseline INT8 SRAM")
    macs = wl.total_macs()
    results = []
    for cell in ("sram", "reram"):
        a = bf_imna.build(cell=cell)
        for c in bf.load_configs("int8,int4")[0]:
            results.append((f"{c.name} {cell}", bf.evaluate(wl, c, a)))
    if args.model == "resnet18":
        a = bf_imna.build(cell="sram")
        for c in bf.hawq_v3_configs():
            results.append((f"hawq {c.name} sram", bf.evaluate(wl, c, a)))
    base = results[0][1]
    print(f"  {'run':<26} {'fJ/MAC':>9} {'energy mJ':>10} {'latency ms':>11} {'EDP J*s':>11} "
          f"{'E ratio':>8} {'t ratio':>8} {'EDP ratio':>9}")
    for name, nc in results:
        print(f"  {name:<26} {nc.energy_J * 1e15 / macs:>9.2f} {nc.energy_J * 1e3:>10.4g} "
              f"{nc.latency_s * 1e3:>11.4g} {nc.edp_Js:>11.4g} {nc.energy_J / base.energy_J:>8.3f} "
              f"{nc.latency_s / base.latency_s:>8.3f} {nc.edp_Js / base.edp_Js:>9.3f}")
    b = base.breakdown_pJ()
    tot = sum(b.values())
    print("  INT8 SRAM energy shares: " + ", ".join(f"{k} {v / tot:.1%}" for k, v in sorted(b.items(),
                                                                                          key=lambda kv: -kv[1])
                                                      if v > 0))


if __name__ == "__main__":
    main()
