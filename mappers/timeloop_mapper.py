"""Run the real ``timeloop-mapper`` on a problem and architecture, and read back its best mapping.

The mapper configuration follows Timeloop v0.4 (``mapper:`` key): ``optimization_metrics`` from the
objective (edp -> [edp]; energy -> [energy]; delay -> [delay, energy]), ``search_size`` from ``max_evaluations``
(else Timeloop's ``victory_condition``/``timeout`` stopping rules); a time budget bounds the subprocess's
wall time (Timeloop has no time limit of its own). Its outputs ``timeloop-mapper.stats.txt`` and
``timeloop-mapper.map.yaml`` (or ``.map.txt``) are parsed into (Mapping, Result).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Union

from cimscope import ir
from cimscope.errors import EngineError

_METRICS = {"edp": ["edp"], "energy": ["energy"], "delay": ["delay", "energy"]}


def mapper_config(objective: str, budget_s: Optional[float], max_evaluations: Optional[int], seed: int) -> dict:
    cfg: dict[str, Any] = {"version": "0.4", "optimization_metrics": _METRICS[objective], "num_threads": 4,
                           "live_status": False, "diagnostics": False, "log_suboptimal": False,
                           "algorithm": "hybrid"}
    if max_evaluations is not None:
        cfg["search_size"] = int(max_evaluations)
        cfg["victory_condition"] = 0
        cfg["timeout"] = 0
    else:
        cfg["victory_condition"] = 500
        cfg["timeout"] = 15000
    return {"mapper": cfg}


def mapping_from_map_txt(text: str, arch: ir.Arch, problem: ir.Problem) -> ir.Mapping:
    """Rebuild an ir.Mapping from a Timeloop ``map.txt`` loop nest (tiles kept = listed data spaces)."""
    from cimscope.timeloop.stats import parse_map
    from cimscope.timeloop.yaml_io import _perm_str

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
        lm = ir.LevelMapping(target=lv.name, temporal_factors=tf, temporal_permutation=_perm_str(tperm, dims))
        if xs or ys:
            sperm = list(reversed(xs)) + list(reversed(ys))
            sperm += [d for d in dims if d not in sperm]
            lm.spatial_factors = sf
            lm.spatial_permutation = _perm_str(sperm, dims)
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
    from cimscope.timeloop.stats import parse_stats
    from cimscope.timeloop.yaml_io import _load_one, mapping_from_yaml

    if objective not in _METRICS:
        from cimscope.errors import InputError
        raise InputError(f"unknown objective {objective!r}; objectives are {', '.join(_METRICS)}")
    require_binary("timeloop-mapper")
    with run_folder(out_dir, "cimscope-timeloop-mapper-") as (out_dir, temporary):
        inputs = write_inputs(out_dir, arch, problem, None, constraints,
                              extra=mapper_config(objective, budget_s, max_evaluations, seed))
        run_binary("timeloop-mapper", inputs, out_dir,
                   timeout_s=timeout_s if timeout_s is not None else (None if budget_s is None else 10 * budget_s + 60))
        stats = out_dir / "timeloop-mapper.stats.txt"
        if not stats.exists():
            raise EngineError(f"timeloop-mapper found no valid mapping (no {stats.name} in {out_dir})")
        map_yaml = out_dir / "timeloop-mapper.map.yaml"
        map_txt = out_dir / "timeloop-mapper.map.txt"
        if map_yaml.exists():
            doc = _load_one(map_yaml)
            mapping = mapping_from_yaml(doc.get("mapping", doc), arch, problem)
        elif map_txt.exists():
            mapping = mapping_from_map_txt(map_txt.read_text(encoding="utf-8"), arch, problem)
        else:
            raise EngineError(f"timeloop-mapper wrote no map.yaml or map.txt in {out_dir}")
        r = parse_stats(stats, map_text=map_txt if map_txt.exists() else None)
        r.op_name = problem.name
        r.cycle_seconds = arch.cycle_seconds
        r.extra["mapper"] = {"engine": "timeloop", "objective": objective}
        if not temporary:
            r.extra["timeloop_dir"] = str(out_dir)
        return mapping, r
