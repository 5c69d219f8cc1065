"""Tables of the ``www`` methodology: GEMM shapes x the 9 WWW configurations (baseline, rf and smem x the four
primitives), with ratios against the baseline of the same shape, optionally on a process pool."""
from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from typing import Any, Optional

from cimscope.www.arch import PRIMITIVES
from cimscope.www.methodology import WwwResult, evaluate

#: (placement, primitive) of the study, baseline first.
CONFIGS: list[tuple[str, Optional[str]]] = [("none", None)] + [(pl, pr) for pl in ("rf", "smem") for pr in PRIMITIVES]


def _one(task: tuple) -> WwwResult:
    (m, n, k), placement, primitive, variant = task
    return evaluate(m, n, k, placement, primitive, variant) if placement != "none" else evaluate(m, n, k, "none")


def evaluate_shapes(shapes: list[tuple[int, int, int]], configs=CONFIGS, variant: str = "artifact",
                    workers: Optional[int] = None) -> dict[tuple, WwwResult]:
    """(shape, placement, primitive) -> result for every unique shape and configuration."""
    tasks = [(s, pl, pr, variant) for s in dict.fromkeys(shapes) for pl, pr in configs]
    if workers and workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_one, tasks, chunksize=4))
    else:
        results = [_one(t) for t in tasks]
    return {(t[0], t[1], t[2]): r for t, r in zip(tasks, results)}


def row(workload: str, count: int, r: WwwResult, base: WwwResult) -> dict[str, Any]:
    """One output row (units in the key names; ratios against ``base``, the baseline of the same shape)."""
    return {
        "methodology": "www", "workload": workload, "gemm": f"{r.M}x{r.N}x{r.K}", "M": r.M, "N": r.N, "K": r.K,
        "count": count, "placement": r.placement, "primitive": r.primitive,
        "energy_pJ": r.energy_pJ, "timeloop_energy_pJ": r.timeloop_energy_pJ,
        "timeloop_cycles": r.timeloop_cycles, "cycles": r.cycles, "latency_s": r.cycles * 1e-9,
        "edp_Js": r.edp_Js, "tops_per_W": r.tops_per_W,
        "throughput_x": base.cycles / r.cycles, "energy_x": r.energy_pJ / base.energy_pJ,
        "edp_x": r.edp_Js / base.edp_Js, "bound": r.bound, "padded_to": r.padded_to,
        "energy_pJ_per_level": r.energy_pJ_per_level, "dataflow": r.dataflow, "post": r.post,
    }


def www_rows(workloads: dict[str, Any], configs=CONFIGS, variant: str = "artifact",
             workers: Optional[int] = None, timeloop_dir: Optional[str] = None) -> list[dict[str, Any]]:
    """Rows for ``workloads`` (label -> Counter of (M, N, K)), every shape x configuration; with
    ``timeloop_dir``, each evaluation's Timeloop inputs are written there too (cimscope.www.export)."""
    shapes = [s for c in workloads.values() for s in c]
    if ("none", None) not in configs:
        configs = [("none", None)] + list(configs)
    res = evaluate_shapes(shapes, configs, variant, workers)
    if timeloop_dir:
        from cimscope.www.export import write_inputs
        for r in res.values():
            write_inputs(r, timeloop_dir)
    out = []
    for label, counter in workloads.items():
        for shape, count in counter.items():
            base = res[(shape, "none", None)]
            out += [row(label, count, res[(shape, pl, pr)], base) for pl, pr in configs]
    return out
