"""Run the real ``timeloop-mapper`` on a problem and architecture, and read back its best mapping.

The ``mapper:`` document uses only keys real timeloop-mapper reads (src/applications/mapper/mapper.cpp,
mapper-thread.cpp, search/random-pruned.cpp): ``optimization_metrics`` from the objective (edp -> [edp];
energy -> [energy]; delay -> [delay, energy]), ``algorithm: random_pruned`` with
``max_permutations_per_if_visit``, ``num_threads``, and its three stopping rules, per search thread:

* ``timeout``: consecutive *invalid* mappings before a thread gives up (:data:`INVALID_IN_A_ROW`; Timeloop
  stops at the first invalid mapping when it is 0, so it is never 0 here);
* ``victory_condition``: consecutive valid mappings without improvement (:data:`VICTORY`; 0 with
  ``max_evaluations``, which sets ``search_size``, the number of valid mappings to evaluate in all);
* ``search_size``: without ``budget_s`` or ``max_evaluations``, the builtin mapper's default evaluation count
  (:data:`cimscope.mappers.search.DEFAULT_MAX_EVALUATIONS`). Timeout and victory alone did not stop real
  timeloop-mapper (4cf6d4c) on ResNet-18's first convolution on a100_like within 12 minutes (2 shared cores;
  valid mappings are rare there and keep improving); with 20,000 valid mappings a layer1 3x3 convolution
  takes 30 s and gives the same mapping as a 40 s budget;
* ``budget_s``: Timeloop has no time limit of its own; after ``budget_s`` seconds the run gets SIGINT, on which
  timeloop-mapper stops its threads and writes the best mapping found so far.

Its outputs ``timeloop-mapper.stats.txt`` and ``timeloop-mapper.map.yaml`` (or ``.map.txt``) are parsed into
(Mapping, Result). When the search finds no valid mapping, timeloop-mapper still exits 0 and writes *empty*
stats and map files (main.cpp writes every output string); that, and a mapping cimscope's own checks reject
(:func:`cimscope.model.evaluate` raises MappingError on a fanout or capacity violation), is an EngineError of
one line naming the problem, the architecture and the limits used.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Union

from cimscope import ir
from cimscope.errors import CimscopeError, EngineError, InputError
from cimscope.mappers.search import DEFAULT_MAX_EVALUATIONS

_METRICS = {"edp": ["edp"], "energy": ["energy"], "delay": ["delay", "energy"]}
#: Consecutive invalid mappings after which a search thread stops (the 2020 ISPASS tutorial's mapper uses 15000).
INVALID_IN_A_ROW = 15000
#: Consecutive valid, non-improving mappings after which a search thread stops (as in that tutorial).
VICTORY = 500
#: Loop orders tried per visit of an index factorization (random_pruned; the tutorial's value).
PERMUTATIONS_PER_VISIT = 16
#: Search threads (Timeloop splits the map space between them).
THREADS = max(1, min(8, os.cpu_count() or 1))


def mapper_config(objective: str, budget_s: Optional[float], max_evaluations: Optional[int], seed: int) -> dict:
    """The ``mapper:`` document (see the module docstring). ``budget_s`` is enforced by the caller (SIGINT);
    Timeloop's search is not seeded from outside, so ``seed`` does not reach it."""
    cfg: dict[str, Any] = {"version": "0.4", "optimization_metrics": _METRICS[objective], "num_threads": THREADS,
                           "live_status": False, "diagnostics": False, "log_suboptimal": False,
                           "algorithm": "random_pruned", "max_permutations_per_if_visit": PERMUTATIONS_PER_VISIT,
                           "timeout": INVALID_IN_A_ROW, "victory_condition": VICTORY}
    if max_evaluations is not None:
        if max_evaluations < 1:
            raise InputError(f"max_evaluations must be >= 1, got {max_evaluations}")
        cfg["search_size"] = int(max_evaluations)
        cfg["victory_condition"] = 0
    elif budget_s is None:
        cfg["search_size"] = DEFAULT_MAX_EVALUATIONS
    return {"mapper": cfg}


def search_limits(cfg: dict, budget_s: Optional[float]) -> str:
    """The stopping rules of a ``mapper:`` document, for messages."""
    m = cfg["mapper"]
    parts = [f"{m['algorithm']}, {m['num_threads']} threads", f"timeout {m['timeout']} invalid in a row"]
    if m.get("victory_condition"):
        parts.append(f"victory_condition {m['victory_condition']}")
    if m.get("search_size"):
        parts.append(f"search_size {m['search_size']}")
    if budget_s is not None:
        parts.append(f"budget {budget_s:g} s")
    return ", ".join(parts)


def mapping_from_map_txt(text: str, arch: ir.Arch, problem: ir.Problem) -> ir.Mapping:
    """Rebuild an ir.Mapping from a Timeloop ``map.txt`` loop nest (tiles kept = listed data spaces)."""
    from cimscope.timeloop.stats import parse_map
    from cimscope.timeloop.parsing import perm_str

    dims = list(problem.dims)
    parsed = {lv["name"]: lv for lv in parse_map(text)}
    levels = []
    for lv in arch.levels:
        p = parsed.get(lv.name, {"tiles": {}, "loops": []})
        tf = {d: 1 for d in dims}
        sf = {d: 1 for d in dims}
        tperm, xs, ys = [], [], []
        for d, n, axis in p["loops"]:
            if axis is None:
                tf[d] *= n
                tperm.append(d)
            else:
                sf[d] *= n
                (xs if axis == "X" else ys).append(d)
        tperm = list(reversed(tperm)) + [d for d in dims if d not in tperm]
        lm = ir.LevelMapping(target=lv.name, temporal_factors=tf, temporal_permutation=perm_str(tperm, dims))
        if xs or ys:
            sperm = list(reversed(xs)) + list(reversed(ys))
            sperm += [d for d in dims if d not in sperm]
            lm.spatial_factors = sf
            lm.spatial_permutation = perm_str(sperm, dims)
            if ys:
                lm.spatial_split = len(xs)
        if lv.name in parsed:
            kept = list(p["tiles"])
            byp = [t.name for t in problem.dataspaces if t.name not in kept]
            if byp:
                lm.bypass = byp
        levels.append(lm)
    return ir.Mapping(levels=levels)


def run_mapper(problem: ir.Problem, arch: ir.Arch, *, objective: str = "edp", budget_s: Optional[float] = None,
               max_evaluations: Optional[int] = None, seed: int = 0, constraints=None,
               out_dir: Optional[Union[str, Path]] = None, timeout_s: Optional[float] = None
               ) -> tuple[ir.Mapping, ir.Result]:
    from cimscope.timeloop.binaries import require_binary, run_binary, run_folder, write_inputs

    if objective not in _METRICS:
        raise InputError(f"unknown objective {objective!r}; objectives are {', '.join(_METRICS)}")
    require_binary("timeloop-mapper")
    cfg = mapper_config(objective, budget_s, max_evaluations, seed)
    with run_folder(out_dir, "cimscope-timeloop-mapper-") as (out_dir, temporary):
        inputs = write_inputs(out_dir, arch, problem, None, constraints, extra=cfg)
        if timeout_s is None and budget_s is not None:
            timeout_s = budget_s + 120            # after SIGINT: let running evaluations finish, outputs be written
        run_binary("timeloop-mapper", inputs, out_dir, timeout_s=timeout_s, interrupt_after_s=budget_s)
        where = f"{problem.name or 'problem'} on {arch.name}"
        mapping, r = read_mapper_outputs(Path(out_dir), arch, problem,
                                         no_mapping=f"timeloop-mapper found no valid mapping for {where} "
                                                    f"({search_limits(cfg, budget_s)}); relax the constraints, "
                                                    f"raise --budget-s or use --engine builtin")
        r.op_name = problem.name
        r.cycle_seconds = arch.cycle_seconds
        r.extra["mapper"] = {"engine": "timeloop", "objective": objective, "limits": search_limits(cfg, budget_s)}
        if not temporary:
            r.extra["timeloop_dir"] = str(out_dir)
        return mapping, r


def read_mapper_outputs(folder: Path, arch: ir.Arch, problem: ir.Problem, *, no_mapping: str
                        ) -> tuple[ir.Mapping, ir.Result]:
    """(Mapping, Result) from timeloop-mapper's files in ``folder``; EngineError(``no_mapping``) when it found
    none (missing or empty stats/map files), EngineError when the mapping fails cimscope's validity checks."""
    from cimscope.model import evaluate
    from cimscope.timeloop.stats import parse_stats
    from cimscope.timeloop.mapping import mapping_from_yaml
    from cimscope.timeloop.parsing import load_yaml_files

    stats = folder / "timeloop-mapper.stats.txt"
    map_yaml = folder / "timeloop-mapper.map.yaml"
    map_txt = folder / "timeloop-mapper.map.txt"
    maps = [p for p in (map_yaml, map_txt) if p.is_file() and p.read_text(encoding="utf-8").strip()]
    if not stats.is_file() or not stats.read_text(encoding="utf-8").strip() or not maps:
        raise EngineError(no_mapping)
    try:
        if maps[0] is map_yaml:
            doc = load_yaml_files([map_yaml])
            mapping = mapping_from_yaml(doc.get("mapping", doc), arch, problem)
        else:
            mapping = mapping_from_map_txt(map_txt.read_text(encoding="utf-8"), arch, problem)
        evaluate(problem, arch, mapping)
    except CimscopeError as exc:
        raise EngineError(f"timeloop-mapper's mapping in {folder} is not valid: {exc}") from None
    r = parse_stats(stats, map_text=map_txt if map_txt.is_file() else None)
    return mapping, r
