"""The builtin mapper: random sampling then local search over the mapspace, scored in batches with
:func:`cimscope.model.fast.evaluate_many`, finished with the exact :func:`cimscope.model.evaluate`.

1. Explore: sample candidates (random factorizations, permutations, bypass choices) in batches; keep the
   best distinct valid ones (elites).
2. Exploit: mutate the elites (move a prime factor between slots, swap two loops, flip a bypass) plus a
   share of fresh samples; stop when the evaluation or time budget is spent, or when the best score has
   not improved for ``patience`` rounds.
3. Finish: evaluate the best few candidates with the exact model (which also models link transfers) and
   return the best by the objective.

Deterministic for a seed when bounded by evaluations (a time budget stops it where the clock says).
Objectives: ``edp`` (energy x cycles), ``energy`` (pJ), ``delay`` (cycles; energy breaks ties).
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from cimscope import ir
from cimscope.errors import InputError, MappingError

OBJECTIVES = ("edp", "energy", "delay")
DEFAULT_MAX_EVALUATIONS = 12000


@dataclass
class SearchResult:
    mapping: ir.Mapping
    result: ir.Result
    evaluations: int
    valid: int
    seconds: float
    history: list[tuple[int, float]] = field(default_factory=list)


def score(out: dict, objective: str) -> np.ndarray:
    e, c = out["energy_pJ"], out["cycles"]
    if objective == "edp":
        return e * c
    if objective == "energy":
        return e.copy()
    if objective == "delay":
        fin = np.isfinite(e)
        emax = e[fin].max() if fin.any() else 1.0
        return c + e / (10.0 * max(emax, 1e-30))
    raise InputError(f"unknown objective {objective!r}; objectives are {', '.join(OBJECTIVES)}")


def result_score(r: ir.Result, objective: str) -> tuple:
    if objective == "edp":
        return (r.energy_pJ * r.cycles,)
    if objective == "energy":
        return (r.energy_pJ, r.cycles)
    return (r.cycles, r.energy_pJ)


def search(problem: ir.Problem, arch: ir.Arch, *, objective: str = "edp", budget_s: Optional[float] = None,
           max_evaluations: Optional[int] = None, seed: int = 0, constraints=None, progress: bool = True,
           batch: int = 1024, n_elites: int = 24, patience: int = 8, finalists: int = 6,
           explore_bypass: bool = True, initial: Optional[list[ir.Mapping]] = None) -> SearchResult:
    """Search the mapspace for the best mapping by ``objective``; MappingError if nothing fits."""
    from cimscope.model import evaluate
    from cimscope.model.fast import evaluate_batch, make_static
    from cimscope.mappers.mapspace import Candidates, MapSpace

    if objective not in OBJECTIVES:
        raise InputError(f"unknown objective {objective!r}; objectives are {', '.join(OBJECTIVES)}")
    if max_evaluations is not None and max_evaluations < 1:
        raise InputError(f"max_evaluations must be >= 1, got {max_evaluations}")
    if budget_s is not None and budget_s <= 0:
        raise InputError(f"budget_s must be > 0, got {budget_s}")
    if max_evaluations is None:
        max_evaluations = DEFAULT_MAX_EVALUATIONS if budget_s is None else 10 ** 12
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    space = MapSpace(problem, arch, constraints, explore_bypass=explore_bypass)
    static = make_static(problem, arch)
    batch = int(max(16, min(batch, max_evaluations)))
    explore_until = max(batch, int(0.3 * max_evaluations)) if max_evaluations < 10 ** 12 else 4 * batch

    elites: Optional[Candidates] = None
    elite_scores = np.zeros(0)
    seen: set[bytes] = set()
    evals = 0
    n_valid = 0
    best = np.inf
    stale = 0
    history: list[tuple[int, float]] = []
    overflow = np.zeros(space.L, dtype=np.int64)
    bar = None
    if progress:
        from tqdm import tqdm
        total = max_evaluations if max_evaluations < 10 ** 12 else None
        bar = tqdm(total=total, desc=f"mapping {problem.name}", unit="map", file=sys.stderr, leave=False,
                   dynamic_ncols=True)
    try:
        seeds = None
        if initial:
            seeds = Candidates.concat([space.from_mapping(m) for m in initial])
        while evals < max_evaluations:
            if budget_s is not None and time.perf_counter() - t0 > budget_s:
                break
            n = int(min(batch, max_evaluations - evals))
            if seeds is not None:
                cand = Candidates.concat([seeds, space.sample(rng, max(1, n - seeds.n))])
                seeds = None
            elif elites is None or evals < explore_until:
                cand = space.sample(rng, n)
            else:
                n_new = max(1, n // 8)
                cand = Candidates.concat([space.mutate(rng, elites, n - n_new), space.sample(rng, n_new)])
            keys = cand.keys()
            fresh = [i for i, k in enumerate(keys) if k not in seen]
            if not fresh:
                evals += cand.n
                stale += 1
                if stale > patience and evals >= explore_until:
                    break
                continue
            cand = cand.take(np.array(fresh))
            for i in fresh:
                seen.add(keys[i])
            out = evaluate_batch(static, cand.batch())
            ok = out["valid"] & space.feasible(cand)
            overflow += (out["capacity_used"] > static.eff[None, :]).sum(axis=0)
            evals += cand.n
            n_valid += int(ok.sum())
            if bar is not None:
                bar.update(cand.n)
            if ok.any():
                sc = np.where(ok, score(out, objective), np.inf)
                pool = cand.take(np.nonzero(ok)[0])
                pool_sc = sc[ok]
                if elites is not None:
                    pool = Candidates.concat([elites, pool])
                    pool_sc = np.concatenate([elite_scores, pool_sc])
                order = np.argsort(pool_sc, kind="stable")[:n_elites]
                elites, elite_scores = pool.take(order), pool_sc[order]
                if elite_scores[0] < best * (1 - 1e-9):
                    best = float(elite_scores[0])
                    stale = 0
                else:
                    stale += 1
                history.append((evals, best))
                if bar is not None:
                    bar.set_postfix_str(f"best {objective} {best:.4g}")
            else:
                stale += 1
            if elites is not None and evals >= explore_until and stale > patience:
                break
    finally:
        if bar is not None:
            bar.close()

    if elites is None:
        raise _no_fit(space, problem, arch, evals, overflow)
    results = []
    for i in range(min(finalists, elites.n)):
        m = space.to_mapping(elites, i)
        try:
            r = evaluate(problem, arch, m)
        except MappingError:
            continue
        results.append((result_score(r, objective), i, m, r))
    if not results:
        raise _no_fit(space, problem, arch, evals, overflow)
    results.sort(key=lambda x: (x[0], x[1]))
    _, _, m, r = results[0]
    secs = time.perf_counter() - t0
    r.extra["mapper"] = {"engine": "builtin", "objective": objective, "evaluations": evals, "valid": n_valid,
                         "seconds": secs, "seed": seed}
    return SearchResult(mapping=m, result=r, evaluations=evals, valid=n_valid, seconds=secs, history=history)


def _no_fit(space, problem: ir.Problem, arch: ir.Arch, evals: int, overflow: np.ndarray) -> MappingError:
    """Explain why no mapping fits: try the smallest tiles (everything at the outermost level)."""
    from cimscope.model import evaluate
    levels = []
    for lv in arch.levels:
        lm = ir.LevelMapping(target=lv.name, temporal_factors={d: 1 for d in problem.dims})
        s = space.levels.index(lv)
        byp = [space.ds[k] for k in range(space.S) if space.keep_fixed[s, k] == -1]
        if byp:
            lm.bypass = byp
        levels.append(lm)
    levels[0].temporal_factors = dict(problem.dims)
    try:
        evaluate(problem, arch, ir.Mapping(levels=levels))
    except MappingError as exc:
        return MappingError(f"no mapping of {problem.name} fits {arch.name}: even with the smallest tiles, {exc}")
    worst = int(np.argmax(overflow)) if overflow.any() else None
    where = f"; most candidates overflow {space.levels[worst].name}" if worst is not None else ""
    return MappingError(f"no valid mapping of {problem.name} found in {evals} evaluations{where}; raise the "
                        f"evaluation budget or relax the constraints")
