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
from cimscope.model import evaluate

#: The engines, one source of truth (the Study validates against it).
ENGINES = ("builtin", "timeloop")

#: Names this module re-exports from :mod:`cimscope.arch.level_pricing` (their API), imported on first use: the
#: plug-ins it loads are not needed to evaluate a mapping whose levels all have energies (``cimscope model``).
PRICING = ("fill_missing_energies", "missing_energy_levels", "price_missing_levels")


def __getattr__(name: str) -> Any:
    if name in PRICING:
        from cimscope.arch import level_pricing
        return getattr(level_pricing, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def level_stats_from_blocks(blocks: list[dict]) -> dict[str, ir.LevelStats]:
    """Typed per-level statistics from the blocks of a timeloop-model stats file (text written by Timeloop,
    parsed by :mod:`cimscope.timeloop.stats`)."""
    from cimscope.timeloop.stats import stat_value

    def num(x) -> float:
        v = stat_value(x) if x is not None else None
        return float(v or 0.0)

    out = {}
    for b in blocks or []:
        ds = {name: ir.DataspaceStats(num(d.get("Utilized instances (max)")), num(d.get("Scalar reads (per-instance)")),
                                      num(d.get("Scalar fills (per-instance)")),
                                      num(d.get("Scalar updates (per-instance)")), num(d.get("Utilized capacity")))
              for name, d in (b.get("dataspaces") or {}).items()}
        out[b["name"]] = ir.LevelStats(b["name"], b.get("kind", "buffer"), num((b.get("stats") or {}).get("Cycles")),
                                       num((b.get("stats") or {}).get("Energy (total)")), ds)
    return out


def with_level_stats(result: ir.Result) -> ir.Result:
    """``result`` with :attr:`ir.Result.level_stats` filled from its stats blocks when it has none."""
    if not result.level_stats and result.extra.get("levels"):
        result.level_stats = level_stats_from_blocks(result.extra["levels"])
    return result


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
        return evaluate(problem, arch, mapping)

    def map(self, problem: ir.Problem, arch: ir.Arch, *, objective: str = "edp", budget_s: Optional[float] = None,
            max_evaluations: Optional[int] = None, seed: int = 0, constraints: Any = None
            ) -> tuple[ir.Mapping, ir.Result]:
        from cimscope.mappers import map_problem        # the mapper only where a mapping is searched
        return map_problem(problem, arch, objective=objective, budget_s=budget_s, max_evaluations=max_evaluations,
                           seed=seed, constraints=constraints, cache=self.cache, progress=self.progress)


class TimeloopEngine:
    name = "timeloop"

    def __init__(self, *, out_dir: Optional[str] = None, check: bool = True) -> None:
        self.out_dir = out_dir
        if check:
            from cimscope.timeloop.binaries import require_binary
            require_binary("timeloop-model")

    def evaluate(self, problem: ir.Problem, arch: ir.Arch, mapping: ir.Mapping) -> ir.Result:
        from cimscope.timeloop.binaries import run_model
        return with_level_stats(run_model(problem, arch, mapping, out_dir=self.out_dir))

    def map(self, problem: ir.Problem, arch: ir.Arch, *, objective: str = "edp", budget_s: Optional[float] = None,
            max_evaluations: Optional[int] = None, seed: int = 0, constraints: Any = None
            ) -> tuple[ir.Mapping, ir.Result]:
        """timeloop-mapper; ``constraints``: a :class:`cimscope.timeloop.constraints.Constraints` or None (the
        builtin engine also takes the dict and list forms of :func:`cimscope.mappers.map_problem`)."""
        from cimscope.mappers.timeloop_mapper import run_mapper
        m, r = run_mapper(problem, arch, objective=objective, budget_s=budget_s, max_evaluations=max_evaluations,
                          seed=seed, constraints=constraints, out_dir=self.out_dir)
        return m, with_level_stats(r)

    def map_best_known(self, problem: ir.Problem, arch: ir.Arch, *, objective: str = "edp",
                       budget_s: Optional[float] = None, max_evaluations: Optional[int] = None, seed: int = 0,
                       constraints: Any = None) -> tuple[ir.Mapping, ir.Result]:
        """The better, scored by the real timeloop-model, of timeloop-mapper's mapping and the builtin mapper's
        (same objective, evaluations and seed): a study on the timeloop engine reports Timeloop's own numbers
        for the best mapping either search found, not the weaker search's. ``extra["mapper"]`` names the one
        chosen and both objective values. (``cimscope mapper --engine timeloop`` keeps timeloop-mapper's own
        answer: :meth:`map`.)"""
        from cimscope.mappers.search import result_score      # the ranking the builtin mapper uses
        tl_map, tl_res = self.map(problem, arch, objective=objective, budget_s=budget_s,
                                  max_evaluations=max_evaluations, seed=seed, constraints=constraints)
        bi_map, _ = BuiltinEngine().map(problem, arch, objective=objective, budget_s=budget_s,
                                        max_evaluations=max_evaluations, seed=seed, constraints=constraints)
        bi_res = self.evaluate(problem, arch, bi_map)
        score = {"tl": result_score(tl_res, objective), "builtin": result_score(bi_res, objective)}
        chosen = "builtin" if score["builtin"] < score["tl"] else "tl"
        m, r = (bi_map, bi_res) if chosen == "builtin" else (tl_map, tl_res)
        r.extra["mapper"] = {**tl_res.extra.get("mapper", {}), "objective": objective,
                             "chosen": "cimscope mapper" if chosen == "builtin" else "timeloop-mapper",
                             f"{objective}_timeloop_mapper": score["tl"][0],
                             f"{objective}_cimscope_mapper": score["builtin"][0],
                             "scored_by": "timeloop-model"}
        return m, r


def get_engine(name: str = "builtin", **kw: Any) -> Engine:
    """The engine called ``name`` ("builtin" or "timeloop")."""
    if name == "builtin":
        return BuiltinEngine(**kw)
    if name == "timeloop":
        return TimeloopEngine(**kw)
    raise UnknownNameError("engine", name, ENGINES)


