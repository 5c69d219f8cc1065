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
DEFAULT_MAX_EVALUATIONS = 20000
#: A time budget is counted in evaluations at this nominal rate (mappings per second of the vectorised model on
#: one core), so the same budget and seed give the same answer on any machine and under any load.
EVALUATIONS_PER_SECOND = 2000


@dataclass
class SearchResult:
    mapping: ir.Mapping
    result: ir.Result
    evaluations: int
    valid: int
    seconds: float
    history: list[tuple[int, float]] = field(default_factory=list)


def score(out: dict, objective: str, e_ref: float = 1.0) -> np.ndarray:
    """Lower is better. ``delay`` ranks by cycles, then energy (``e_ref`` scales the energy tie-breaker so
    scores of different batches compare)."""
    e, c = out["energy_pJ"], out["cycles"]
    if objective == "edp":
        return e * c
    if objective == "energy":
        return e + c * 1e-12 * max(e_ref, 1e-30)
    if objective == "delay":
        return c * (1.0 + 1e-10 * e / max(e_ref, 1e-30))
    raise InputError(f"unknown objective {objective!r}; objectives are {', '.join(OBJECTIVES)}")


def result_score(r: ir.Result, objective: str) -> tuple:
    if objective == "edp":
        return (r.energy_pJ * r.cycles,)
    if objective == "energy":
        return (r.energy_pJ, r.cycles)
    return (r.cycles, r.energy_pJ)


def search(problem: ir.Problem, arch: ir.Arch, *, objective: str = "edp", budget_s: Optional[float] = None,
           max_evaluations: Optional[int] = None, seed: int = 0, constraints=None, progress: bool = True,
           batch: int = 1024, n_elites: int = 64, n_starts: int = 4, patience: int = 3, finalists: int = 6,
           explore_bypass: bool = True, initial: Optional[list[ir.Mapping]] = None) -> SearchResult:
    """Search the mapspace for the best mapping by ``objective``; MappingError if nothing fits.

    Random exploration (about a quarter of the evaluation budget), then steepest descent over the full
    one-step neighbourhood (``MapSpace.neighbours``) from the best distinct candidates, then iterated local
    search (perturb the best with a few random mutations, descend again) until the budget is spent or
    ``patience`` perturbations in a row bring nothing."""
    from cimscope.model import evaluate
    from cimscope.model.fast import evaluate_batch, make_static
    from cimscope.mappers.mapspace import Candidates, MapSpace

    if objective not in OBJECTIVES:
        raise InputError(f"unknown objective {objective!r}; objectives are {', '.join(OBJECTIVES)}")
    if max_evaluations is not None and max_evaluations < 1:
        raise InputError(f"max_evaluations must be >= 1, got {max_evaluations}")
    if budget_s is not None and budget_s <= 0:
        raise InputError(f"budget_s must be > 0, got {budget_s}")
    if budget_s is not None:
        by_time = max(1, int(round(budget_s * EVALUATIONS_PER_SECOND)))
        max_evaluations = by_time if max_evaluations is None else min(max_evaluations, by_time)
        patience = 10 ** 9                   # a budget is spent in full unless the space runs out
    elif max_evaluations is None:
        max_evaluations = DEFAULT_MAX_EVALUATIONS
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    space = MapSpace(problem, arch, constraints, explore_bypass=explore_bypass)
    static = make_static(problem, arch)
    explore_until = (min(max(batch, int(0.25 * max_evaluations)), 8 * batch) if max_evaluations < 10 ** 12
                     else 4 * batch)

    st = {"evals": 0, "valid": 0, "e_ref": None, "best": np.inf}
    elites: list = [None, np.zeros(0)]            # Candidates, scores
    seen: set[bytes] = set()
    history: list[tuple[int, float]] = []
    overflow = np.zeros(space.L, dtype=np.int64)
    bar = None
    if progress:
        from tqdm import tqdm
        total = max_evaluations if max_evaluations < 10 ** 12 else None
        bar = tqdm(total=total, desc=f"mapping {problem.name}", unit="map", file=sys.stderr, leave=False,
                   dynamic_ncols=True)

    def out_of_budget() -> bool:
        return st["evals"] >= max_evaluations or st.get("exhausted", False)

    def run(cand: "Candidates"):
        """Evaluate the unseen candidates (within budget); returns (candidates, scores) of the valid ones."""
        keys = cand.keys()
        fresh = []
        for i, k in enumerate(keys):
            if k not in seen:
                seen.add(k)
                fresh.append(i)
        room = int(max_evaluations - st["evals"])
        fresh = fresh[:room]
        if not fresh:
            return None, None
        cand = cand.take(np.array(fresh))
        out = evaluate_batch(static, cand.batch())
        ok = out["valid"] & space.feasible(cand)
        overflow[:] += (out["capacity_used"] > static.eff[None, :]).sum(axis=0)
        st["evals"] += cand.n
        st["valid"] += int(ok.sum())
        if bar is not None:
            bar.update(cand.n)
        if not ok.any():
            return None, None
        if st["e_ref"] is None:
            st["e_ref"] = float(np.min(out["energy_pJ"][ok]))
        sc = score(out, objective, st["e_ref"])[ok]
        pool = cand.take(np.nonzero(ok)[0])
        allc = pool if elites[0] is None else Candidates.concat([elites[0], pool])
        alls = sc if elites[0] is None else np.concatenate([elites[1], sc])
        order = np.argsort(alls, kind="stable")[:n_elites]
        elites[0], elites[1] = allc.take(order), alls[order]
        if elites[1][0] < st["best"]:
            st["best"] = float(elites[1][0])
            history.append((st["evals"], st["best"]))
            if bar is not None:
                bar.set_postfix_str(f"best {objective} {st['best']:.4g}")
        return pool, sc

    def descend(cur: "Candidates", cur_sc: float) -> tuple:
        while not out_of_budget():
            pool, sc = run(space.neighbours(cur, 0))
            if pool is None:
                break
            j = int(np.argmin(sc))
            if sc[j] >= cur_sc * (1 - 1e-12):
                break
            cur, cur_sc = pool.take(np.array([j])), float(sc[j])
        return cur, cur_sc

    try:
        if initial:
            run(Candidates.concat([space.from_mapping(m) for m in initial]))
        started: set[bytes] = set()
        classes_started: set[bytes] = set()
        stale = dry = 0
        first = True
        while stale < patience and not out_of_budget():
            best_before, evals_before = st["best"], st["evals"]
            # Explore: random samples (the first round gets the larger share of the budget).
            target = st["evals"] + (explore_until if first else batch)
            first = False
            while st["evals"] < target and not out_of_budget():
                before = st["evals"]
                run(space.sample(rng, int(min(batch, max_evaluations - st["evals"]))))
                if st["evals"] == before:
                    break
            if elites[0] is None:
                stale += 1
                continue
            # Descend from the best candidates of patterns (kept data spaces, spatially mapped dimensions)
            # not yet descended from: single steps rarely change those.
            for _ in range(n_starts):
                if out_of_budget():
                    break
                keys = elites[0].keys()
                cls = [elites[0].keep[i].tobytes() + (elites[0].sf[i] > 1).tobytes() for i in range(elites[0].n)]
                nxt = next((i for i, k in enumerate(keys) if k not in started and cls[i] not in classes_started),
                           None)
                if nxt is None:
                    break
                started.add(keys[nxt])
                classes_started.add(cls[nxt])
                descend(elites[0].take(np.array([nxt])), float(elites[1][nxt]))
            # Perturb the best and descend again (iterated local search).
            if not out_of_budget():
                kids = elites[0].take(np.array([0] * 8))
                for _ in range(3):
                    kids = space.mutate(rng, kids, kids.n)
                pool, sc = run(kids)
                if pool is not None:
                    j = int(np.argmin(sc))
                    descend(pool.take(np.array([j])), float(sc[j]))
            stale = 0 if st["best"] < best_before * (1 - 1e-12) else stale + 1
            dry = dry + 1 if st["evals"] == evals_before else 0
            st["exhausted"] = dry >= 3               # three rounds found nothing unseen: the space is spent
    finally:
        if bar is not None:
            bar.close()

    evals, n_valid = st["evals"], st["valid"]
    if elites[0] is None:
        raise _no_fit(space, problem, arch, evals, overflow)
    results = _finalists(problem, arch, space, elites[0], objective, finalists, constraints)
    if not results:
        raise _no_fit(space, problem, arch, evals, overflow)
    results.sort(key=lambda x: (x[0], x[1]))
    _, _, m, r = results[0]
    secs = time.perf_counter() - t0
    r.extra["mapper"] = {"engine": "builtin", "objective": objective, "evaluations": evals, "valid": n_valid,
                         "seconds": secs, "seed": seed, "budget_evaluations": int(max_evaluations),
                         "exhausted": bool(st.get("exhausted", False))}
    return SearchResult(mapping=m, result=r, evaluations=evals, valid=n_valid, seconds=secs, history=history)


def _finalists(problem: ir.Problem, arch: ir.Arch, space, elites, objective: str, finalists: int,
               constraints) -> list:
    """The best elites, evaluated exactly, that pass the checker ``cimscope model`` uses (constraints, strict:
    the innermost level's order too) and the exact model's fanout and capacity checks; best first."""
    from cimscope.model import evaluate
    from cimscope.timeloop.constraints import check_mapping

    results = []
    for i in range(elites.n):
        if len(results) >= finalists:
            break
        m = space.to_mapping(elites, i)
        try:
            if constraints is not None:
                check_mapping(constraints, m, problem, where="mapper candidate", innermost=None,
                              label="constraint")
            r = evaluate(problem, arch, m)
        except MappingError:
            continue
        results.append((result_score(r, objective), i, m, r))
    results.sort(key=lambda x: (x[0], x[1]))
    return results


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
