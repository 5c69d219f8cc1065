"""Mapper and model speed.

    .venv/bin/python benchmarks/bench_mapper.py [--batch 4096] [--scalar 200] [--model resnet50]
    .venv/bin/python benchmarks/bench_mapper.py --quality [--budgets 1 3 10 30] [--cases NAME ...]
    .venv/bin/python benchmarks/bench_mapper.py --exercises [--budget 10]
    .venv/bin/python benchmarks/bench_mapper.py --baseline-curve [--evaluations 2000 5000 10000]

1. Mappings evaluated per second by the vectorised model (``evaluate_many`` on one batch of random mappings
   of a ResNet-50 conv layer) against two scalar loops in the same run: ``evaluate`` (the exact model, one
   mapping at a time) and ``evaluate_many`` called with one mapping at a time.
2. Time to map every unique conv shape of ResNet-50 (``cimscope.workloads.export_model``) with the builtin
   mapper (objective EDP, default budget, cache off) on a 4-level architecture: DRAM -> global buffer ->
   16x16 PE array of scratchpads -> MACs.

3. (``--quality``) Mapping quality against the budget: ``--budget-s`` 1, 3, 10, 30 s (counted as evaluations at
   ``EVALUATIONS_PER_SECOND``) on the reference case and the public exercises' mapper cases, each budget run
   twice: EDP (J*cycle) of the mapping found, its ratio to the EDP of the reference timeloop-mapper run stored
   with the case (its stats.txt), whether two runs gave the same mapping, and the wall time.

5. (``--baseline-curve``) Quality against the evaluation budget on the searches ``cimscope compare`` runs for
   ResNet-50's baseline (a100_like tensor cores: every GEMM shape and its padded candidates, as
   ``cimscope.pipeline.gemm`` maps them): for each ``--evaluations`` budget, the EDP of each search relative to
   the default budget's (geometric mean, worst, how many are worse by more than 0.1 %) and the CPU seconds of all
   searches. It is the measurement behind keeping the default budget (``DEFAULT_MAX_EVALUATIONS``).

4. (``--exercises``) Every dense mapper case of the public exercises (05-*, 06, fpmac, intmac, the 2024 tutorial,
   the example designs) mapped at one budget: EDP against the stored timeloop-mapper run, and whether the written
   map is accepted by ``cimscope model`` (the architecture constraints) with the same energy and cycles.

Energies per action of the architecture are the Accelergy 0.4 / 40 nm figures of the reference Timeloop runs
(/work/shared/reference/timeloop_cases/04-conv1d+oc-3levelspatial-kp/timeloop-model.ERT.yaml: MainMemory
(DRAM, 256-bit) 2048 pJ per access, GlobalBuffer (SRAM 32768 x 64 bit) 43.3531 pJ read / 30.8783 pJ write,
RegisterFile (64 x 8 bit) 0.36264 pJ, intmac 0.845 pJ per MAC).
"""
from __future__ import annotations

import argparse
import platform
import sys
import time

import numpy as np

from cimscope import ir

# From /work/shared/reference/timeloop_cases/04-conv1d+oc-3levelspatial-kp/timeloop-model.ERT.yaml (pJ).
ERT = {
    "DRAM": {"read": 2048.0, "write": 2048.0, "update": 2048.0, "leak": 0.0},
    "GlobalBuffer": {"read": 43.3531, "write": 30.8783, "update": 30.8783, "leak": 0.00797208},
    "Scratchpad": {"read": 0.36264, "write": 0.36264, "update": 0.36264, "leak": 0.0003712},
    "MAC": {"compute": 0.845},
}


def four_level_arch() -> ir.Arch:
    """DRAM -> 256 KiB global buffer -> 16x16 PEs with a 64-word scratchpad each -> 256 MACs."""
    return ir.Arch("eyeriss_like_4level", [
        ir.Level("DRAM", "DRAM", depth=None, width=256, word_bits=8, action_energy_pJ=dict(ERT["DRAM"])),
        ir.Level("GlobalBuffer", "SRAM", depth=32768, width=64, word_bits=8,
                 action_energy_pJ=dict(ERT["GlobalBuffer"])),
        ir.Level("Scratchpad", "regfile", instances=256, mesh_x=16, mesh_y=16, depth=64, width=8, word_bits=8,
                 action_energy_pJ=dict(ERT["Scratchpad"])),
    ], ir.ComputeLevel("MAC", "intmac", instances=256, mesh_x=16, mesh_y=16, action_energy_pJ=dict(ERT["MAC"])),
        cycle_seconds=1e-9, technology="40nm")


def unique_convs(model: str) -> list[ir.Problem]:
    from cimscope.workloads import export_model
    wl = export_model(model)
    seen, out = set(), []
    for op in wl.ops:
        if op.kind == "conv" and op.shape_key() not in seen:
            seen.add(op.shape_key())
            out.append(op.to_problem())
    return out


QUALITY_CASES = {
    "04-kp (in-house)": "timeloop_cases/04-conv1d+oc-3levelspatial-kp",
    "05-null": "timeloop_exercises/tutorial_exercises/01_accelergy_timeloop_2020_ispass/timeloop/"
               "05-mapper-conv1d+oc-3level/ref-output/null",
    "06-eyeriss": "timeloop_exercises/tutorial_exercises/01_accelergy_timeloop_2020_ispass/timeloop/"
                  "06-mapper-convlayer-eyeriss/ref-output",
    "eyeriss_like": "timeloop_exercises/example_designs/example_designs/eyeriss_like/ref_outputs/default_problem",
    "simple_ws": "timeloop_exercises/example_designs/example_designs/simple_weight_stationary/ref_outputs/"
                 "default_problem",
}


def quality(budgets: list[float], names: list[str]) -> None:
    """Section 3: EDP against the budget, two runs per budget."""
    from pathlib import Path

    from cimscope.mappers.search import EVALUATIONS_PER_SECOND, search
    from cimscope.timeloop import load_inputs
    from cimscope.timeloop.stats import parse_stats

    ref_root = Path(__file__).resolve().parents[1].parent / "shared" / "reference"
    if not ref_root.exists():
        ref_root = Path("/work/shared/reference")
    print(f"\nmapping quality against --budget-s ({EVALUATIONS_PER_SECOND} evaluations per budget second), "
          f"objective edp, seed 0; ratio = EDP / EDP of the stored Timeloop run (<= 1: as good or better)")
    print(f"  {'case':18s} {'budget':>7s} {'evaluations':>11s} {'EDP (J*cycle)':>14s} {'ratio':>7s} "
          f"{'same twice':>10s} {'wall':>7s}")
    for name in names:
        d = ref_root / QUALITY_CASES[name]
        st = next(d.glob("*.stats.txt"))
        ert = d / f"{st.name.split('.')[0]}.ERT.yaml"
        ti = load_inputs([d / "parsed-processed-input.yaml"], ert=ert, check_mapping_constraints=False)
        ref = parse_stats(st)
        ref_edp = ref.energy_pJ * 1e-12 * ref.cycles
        for b in budgets:
            t = time.perf_counter()
            runs = [search(ti.problem, ti.arch, budget_s=b, seed=0, constraints=ti.constraints, progress=False)
                    for _ in range(2)]
            wall = (time.perf_counter() - t) / 2
            r = runs[0].result
            edp = r.energy_pJ * 1e-12 * r.cycles
            same = runs[0].mapping == runs[1].mapping and r.energy_pJ == runs[1].result.energy_pJ
            note = " (space exhausted)" if r.extra["mapper"]["exhausted"] else ""
            print(f"  {name:18s} {b:6.0f}s {runs[0].evaluations:11d} {edp:14.4e} {edp / ref_edp:7.3f} "
                  f"{'yes' if same else 'NO':>10s} {wall:6.1f}s{note}")


def exercises(budget: float) -> None:
    """Section 4: the exercises' mapper cases at one budget."""
    import tempfile
    from pathlib import Path

    import yaml

    from cimscope.mappers.search import search
    from cimscope.model import evaluate
    from cimscope.timeloop import load_inputs, mapping_to_yaml
    from cimscope.timeloop.inputs import sparse_features
    from cimscope.timeloop.stats import parse_stats

    root = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "timeloop_exercises"
    if not root.exists():
        root = Path("/work/shared/reference/timeloop_exercises")
    cases = [st.parent for st in sorted(root.rglob("timeloop-mapper.stats.txt"))
             if not sparse_features(yaml.safe_load((st.parent / "parsed-processed-input.yaml").read_text()))]
    print(f"\nexercise mapper cases at --budget-s {budget:g}, objective edp, seed 0 "
          f"(ratio = EDP / EDP of the stored timeloop-mapper run)")
    print(f"  {'case':70s} {'EDP ratio':>9s} {'accepted by model':>18s}")  # noqa: E501
    for d in cases:
        ert = d / "timeloop-mapper.ERT.yaml"
        ti = load_inputs([d / "parsed-processed-input.yaml"], ert=ert, check_mapping_constraints=False)
        ref = parse_stats(d / "timeloop-mapper.stats.txt")
        res = search(ti.problem, ti.arch, budget_s=budget, seed=0, constraints=ti.constraints, progress=False)
        r = res.result
        with tempfile.TemporaryDirectory() as tmp:
            m = Path(tmp) / "map.yaml"
            m.write_text(yaml.safe_dump({"mapping": mapping_to_yaml(res.mapping, ti.problem)}))
            back = load_inputs([d / "parsed-processed-input.yaml", m], ert=ert)
            r2 = evaluate(back.problem, back.arch, back.mapping)
        same = abs(r2.energy_pJ / r.energy_pJ - 1) < 1e-9 and r2.cycles == r.cycles
        ratio = r.energy_pJ * r.cycles / (ref.energy_pJ * ref.cycles)
        skip = {"example_designs", "tutorial_exercises", "ref_outputs", "ref-output", "default_problem", "outputs",
                "01_accelergy_timeloop_2020_ispass", "sparseloop", "timeloop", "timeloop+accelergy"}
        name = "/".join(x for x in d.relative_to(root).parts if x not in skip)
        print(f"  {name[:70]:70s} {ratio:9.3f} {'yes, same numbers' if same else 'NO':>18s}")


def baseline_searches(model: str) -> list[tuple[ir.Problem, ir.Arch]]:
    """The distinct (problem, architecture) searches of ``model``'s baseline in ``cimscope compare``."""
    import json

    from cimscope.mappers.cache import arch_key, problem_key
    from cimscope.pipeline.candidates import problems
    from cimscope.study import Study, op_bits, placed
    from cimscope.workloads import export_model
    wl = export_model(model, cache_dir=".cimscope_cache/workloads")
    out: dict[str, tuple[ir.Problem, ir.Arch]] = {}
    for op in wl.gemm_ops():
        arch = placed(Study(), op_bits(op)).gemm
        for p in problems(op.to_problem(), arch):
            out.setdefault(json.dumps([problem_key(p), arch_key(arch)], sort_keys=True, default=str), (p, arch))
    return list(out.values())


def baseline_curve(model: str, budgets: list[int]) -> None:
    """Section 5 (module doc)."""
    from cimscope.mappers.search import DEFAULT_MAX_EVALUATIONS, search
    searches = baseline_searches(model)
    budgets = sorted(set(budgets) | {DEFAULT_MAX_EVALUATIONS})
    edp: dict[int, list[float]] = {}
    cpu: dict[int, float] = {}
    for b in budgets:
        t = time.process_time()
        edp[b] = [(lambda r: r.energy_pJ * r.cycles)(search(p, a, objective="edp", max_evaluations=b,
                                                            progress=False).result) for p, a in searches]
        cpu[b] = time.process_time() - t
    ref = edp[DEFAULT_MAX_EVALUATIONS]
    print(f"\n{model} baseline searches of cimscope compare ({len(searches)}: GEMM shapes and padded candidates, "
          f"a100_like tensor cores), EDP relative to the default budget of {DEFAULT_MAX_EVALUATIONS} evaluations:")
    print(f"  {'evaluations':>11s} {'geomean EDP ratio':>17s} {'worst':>7s} {'worse >0.1%':>11s} {'CPU s':>7s}")
    for b in budgets:
        r = np.array(edp[b]) / np.array(ref)
        print(f"  {b:11d} {float(np.exp(np.log(r).mean())):17.4f} {r.max():7.3f} {int((r > 1.001).sum()):11d} "
              f"{cpu[b]:7.1f}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--scalar", type=int, default=200)
    ap.add_argument("--model", default="resnet50")
    ap.add_argument("--quality", action="store_true", help="only section 3: mapping quality against the budget")
    ap.add_argument("--budgets", type=float, nargs="+", default=[1, 3, 10, 30])
    ap.add_argument("--cases", nargs="+", default=list(QUALITY_CASES), choices=list(QUALITY_CASES))
    ap.add_argument("--exercises", action="store_true", help="only section 4: the exercises' mapper cases")
    ap.add_argument("--budget", type=float, default=10.0, help="--budget-s of section 4")
    ap.add_argument("--baseline-curve", action="store_true", help="only section 5: quality against evaluations "
                                                                   "on --model's compare baseline searches")
    ap.add_argument("--evaluations", type=int, nargs="+", default=[2000, 5000, 10000])
    args = ap.parse_args()
    if args.baseline_curve:
        baseline_curve(args.model, args.evaluations)
        return 0
    if args.exercises:
        exercises(args.budget)
        return 0
    if args.quality:
        quality(args.budgets, args.cases)
        return 0

    from cimscope.mappers.mapspace import MapSpace
    from cimscope.mappers.search import search
    from cimscope.model import evaluate, evaluate_many
    from cimscope.model.fast import evaluate_batch, make_static

    arch = four_level_arch()
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}, "
          f"numpy {np.__version__}")
    t = time.perf_counter()
    convs = unique_convs(args.model)
    print(f"exported {args.model}: {len(convs)} unique conv shapes in {time.perf_counter() - t:.1f} s")

    # 1. throughput, on the first 3x3 conv (sliding windows: the DP path of the model)
    prob = next(p for p in convs if p.dims.get("R", 1) == 3 and p.dims.get("P", 1) >= 28)
    space = MapSpace(prob, arch)
    static = make_static(prob, arch)
    cand = space.sample(np.random.default_rng(0), args.batch)
    evaluate_batch(static, cand.take(np.arange(16)).batch())          # warm-up
    t = time.perf_counter()
    out = evaluate_batch(static, cand.batch())
    t_vec = time.perf_counter() - t
    valid = np.nonzero(out["valid"])[0]
    maps = [space.to_mapping(cand, int(i)) for i in valid[:args.scalar]]
    t = time.perf_counter()
    for m in maps:
        evaluate(prob, arch, m)
    t_exact = (time.perf_counter() - t) / len(maps)
    t = time.perf_counter()
    for m in maps:
        evaluate_many(prob, arch, [m], static=static)
    t_one = (time.perf_counter() - t) / len(maps)
    rate_vec = args.batch / t_vec
    dims = " ".join(f"{d}={n}" for d, n in prob.dims.items())
    print(f"\nlayer {prob.name} ({dims}), {args.batch} random mappings ({len(valid)} valid)")
    print(f"  evaluate_many, one batch     : {rate_vec:12.0f} mappings/s")
    print(f"  evaluate_many, one at a time : {1 / t_one:12.0f} mappings/s   (ratio batch/scalar {rate_vec * t_one:.0f}x)")
    print(f"  evaluate (exact), one at a time: {1 / t_exact:10.0f} mappings/s   (ratio batch/exact {rate_vec * t_exact:.0f}x)")

    # 2. map every unique conv shape
    print(f"\nmapping {len(convs)} unique conv shapes of {args.model} on {arch.name} "
          f"(objective edp, default budget, no cache):")
    total = 0.0
    worst = 0.0
    evals = 0
    for p in convs:
        t = time.perf_counter()
        res = search(p, arch, objective="edp", progress=False)
        dt = time.perf_counter() - t
        total += dt
        worst = max(worst, dt)
        evals += res.evaluations
        r = res.result
        print(f"  {p.name:28s} {dt:6.2f} s  {res.evaluations:6d} mappings  {r.energy_pJ / 1e6:10.3f} uJ  "
              f"{r.cycles:12.0f} cycles  utilization {100 * r.utilization:5.1f} %")
    print(f"  total {total:.1f} s for {len(convs)} shapes: {total / len(convs):.2f} s per shape on average, "
          f"{worst:.2f} s worst; {evals / total:.0f} mappings/s overall")
    return 0


if __name__ == "__main__":
    sys.exit(main())
