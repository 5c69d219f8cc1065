"""Swappable engines behind one interface.

``get_engine("builtin")``: the Python/NumPy model (:mod:`cimscope.model`) and mapper
(:mod:`cimscope.mappers`). ``get_engine("timeloop")``: the real ``timeloop-model`` / ``timeloop-mapper``
binaries (raises :class:`EngineError` saying what to install when they are not on PATH).

Both return :class:`cimscope.ir.Result` with the same fields (accesses as totals over instances, energy per
level, cycles, computes, utilisation).
"""
from __future__ import annotations

from typing import Any, Optional, Protocol

from cimscope import ir
from cimscope.errors import UnknownNameError

ENGINES = ("builtin", "timeloop")


class Engine(Protocol):
    name: str

    def evaluate(self, problem: ir.Problem, arch: ir.Arch, mapping: ir.Mapping) -> ir.Result: ...

    def map(self, problem: ir.Problem, arch: ir.Arch, *, objective: str = "edp", budget_s: Optional[float] = None,
            max_evaluations: Optional[int] = None, seed: int = 0, constraints: Any = None
            ) -> tuple[ir.Mapping, ir.Result]: ...


class BuiltinEngine:
    name = "builtin"

    def __init__(self, *, progress: bool = False, cache: bool = True) -> None:
        self.progress = progress
        self.cache = cache

    def evaluate(self, problem: ir.Problem, arch: ir.Arch, mapping: ir.Mapping) -> ir.Result:
        from cimscope.model import evaluate
        return evaluate(problem, arch, mapping)

    def map(self, problem: ir.Problem, arch: ir.Arch, *, objective: str = "edp", budget_s: Optional[float] = None,
            max_evaluations: Optional[int] = None, seed: int = 0, constraints: Any = None
            ) -> tuple[ir.Mapping, ir.Result]:
        from cimscope.mappers import map_problem
        return map_problem(problem, arch, objective=objective, budget_s=budget_s, max_evaluations=max_evaluations,
                           seed=seed, constraints=constraints, cache=self.cache, progress=self.progress)


class TimeloopEngine:
    name = "timeloop"

    def __init__(self, *, out_dir: Optional[str] = None, check: bool = True) -> None:
        from cimscope.timeloop.binaries import require_binary
        self.out_dir = out_dir
        if check:
            require_binary("timeloop-model")

    def evaluate(self, problem: ir.Problem, arch: ir.Arch, mapping: ir.Mapping) -> ir.Result:
        from cimscope.timeloop.binaries import run_model
        return run_model(problem, arch, mapping, out_dir=self.out_dir)

    def map(self, problem: ir.Problem, arch: ir.Arch, *, objective: str = "edp", budget_s: Optional[float] = None,
            max_evaluations: Optional[int] = None, seed: int = 0, constraints: Any = None
            ) -> tuple[ir.Mapping, ir.Result]:
        from cimscope.mappers import _as_constraints
        from cimscope.mappers.timeloop_mapper import run_mapper
        return run_mapper(problem, arch, objective=objective, budget_s=budget_s, max_evaluations=max_evaluations,
                          seed=seed, constraints=_as_constraints(constraints, arch, problem), out_dir=self.out_dir)


def get_engine(name: str = "builtin", **kw: Any) -> Engine:
    """The engine called ``name`` ("builtin" or "timeloop")."""
    if name == "builtin":
        return BuiltinEngine(**kw)
    if name == "timeloop":
        return TimeloopEngine(**kw)
    raise UnknownNameError("engine", name, ENGINES)


# ---------------------------------------------------------------------------------------------------------
# Energies for levels without an ERT row
# ---------------------------------------------------------------------------------------------------------

def fill_missing_energies(arch: ir.Arch) -> dict[str, str]:
    """Estimate ``action_energy_pJ`` (and area) of levels that have none, with cimscope's own plug-in models
    (:func:`cimscope.plugins.base.estimate`) when a level's class is one of them. Returns level -> source
    for the levels filled; levels whose class no plug-in knows are left empty (the caller reports them)."""
    from cimscope.errors import CimscopeError
    filled: dict[str, str] = {}
    for lv in list(arch.levels) + [arch.compute]:
        if lv.action_energy_pJ or getattr(lv, "is_dummy", False):
            continue
        try:
            from cimscope.plugins.base import get_estimator
            cls = get_estimator(lv.cls)
        except (CimscopeError, ImportError):
            continue
        attrs = {k: v for k, v in (lv.attributes or {}).items() if k in cls.attributes}
        try:
            est = cls(**attrs).estimate()
        except CimscopeError:
            continue
        acts = {a: float(c.energy_pJ) for a, c in est.actions.items()}
        if "leak" not in acts and est.leakage_W:
            acts["leak"] = est.leakage_W * arch.cycle_seconds * 1e12
        lv.action_energy_pJ = acts
        if not lv.area_um2:
            lv.area_um2 = float(est.area_um2)
        filled[lv.name] = f"cimscope.plugins {cls.component_name} ({est.percent_accuracy}% accuracy)"
    return filled


def missing_energy_levels(arch: ir.Arch) -> list[str]:
    """Levels (storage, non-dummy, and compute) that have no energy per action at all."""
    out = [lv.name for lv in arch.levels if not lv.action_energy_pJ and not lv.is_dummy]
    if not arch.compute.action_energy_pJ:
        out.append(arch.compute.name)
    return out
