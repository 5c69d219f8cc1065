"""cimscope.mappers: find good mappings of a problem onto an architecture.

``map_problem(problem, arch, ...) -> (ir.Mapping, ir.Result)`` runs the builtin mapper (``search.py``)
and caches its answer (``cache.py``); ``timeloop_mapper.py`` runs the real timeloop-mapper instead.
"""
from __future__ import annotations

from typing import Any, Optional

from cimscope import ir
from cimscope.errors import InputError
from cimscope.mappers import cache as mapping_cache
from cimscope.mappers import search as search_module
from cimscope.model import evaluate
from cimscope.timeloop.constraints import Constraints, check_mapping, constraints_from_yaml
from cimscope.timeloop.mapping import mapping_from_yaml, mapping_to_yaml


def as_constraints(constraints: Any, arch: ir.Arch, problem: ir.Problem):
    """Constraints from a Constraints object, a v0.4 constraints dict, or a list of targets."""
    if constraints is None or isinstance(constraints, Constraints):
        return constraints
    if isinstance(constraints, dict):
        raw = constraints if any(k in constraints for k in ("mapspace_constraints", "architecture_constraints",
                                                            "constraints", "mapspace")) \
            else {"mapspace_constraints": constraints}
        return constraints_from_yaml(raw, arch, problem)
    if isinstance(constraints, list):
        return constraints_from_yaml({"mapspace_constraints": {"targets": constraints}}, arch, problem)
    raise InputError(f"constraints must be a Constraints object, a dict or a list of targets, "
                     f"not {type(constraints).__name__}")


def map_problem(problem: ir.Problem, arch: ir.Arch, *, objective: str = "edp", budget_s: Optional[float] = None,
                max_evaluations: Optional[int] = None, seed: int = 0, constraints: Any = None, cache: bool = True,
                progress: bool = True) -> tuple[ir.Mapping, ir.Result]:
    """Best mapping of ``problem`` on ``arch`` by ``objective`` ("edp", "energy" or "delay") and its exact
    evaluation. Raises MappingError (naming the level and data space that overflows) when nothing fits. A cached
    mapping is used only if it still passes the constraint checker and the exact model."""
    cons = as_constraints(constraints, arch, problem)
    key = (mapping_cache.make_key(problem, arch, cons, objective,
                                  search={"seed": seed, "max_evaluations": max_evaluations, "budget_s": budget_s})
           if cache else None)
    if key is not None:
        hit = mapping_cache.get(key)
        if hit is not None:
            try:
                m = mapping_from_yaml(hit, arch, problem)
                if cons is not None:
                    check_mapping(cons, m, problem, where="cached mapping", label="constraint")
                r = evaluate(problem, arch, m)
                r.extra["mapper"] = {"engine": "builtin", "objective": objective, "cached": True, "key": key}
                return m, r
            except Exception:
                pass                                  # stale entry: map again
    res = search_module.search(problem, arch, objective=objective, budget_s=budget_s,
                               max_evaluations=max_evaluations, seed=seed, constraints=cons, progress=progress)
    if key is not None:
        mapping_cache.put(key, mapping_to_yaml(res.mapping, problem),
                          {"objective": objective, "energy_pJ": res.result.energy_pJ, "cycles": res.result.cycles,
                           "evaluations": res.evaluations})
        res.result.extra.setdefault("mapper", {})["key"] = key
    return res.mapping, res.result


__all__ = ["map_problem", "as_constraints"]
