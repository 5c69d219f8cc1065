"""The builtin mapper: random sampling then local search over the mapspace, scored in batches with
:func:`cimscope.model.fast.evaluate_many`, finished with the exact :func:`cimscope.model.evaluate`.

1. Explore: sample candidates (random factorizations, permutations, bypass choices) in batches; keep the
   best distinct valid ones (elites).
2. Exploit: mutate the elites (move a prime factor between slots, swap two loops, flip a bypass) plus a
   share of fresh samples; stop when the evaluation or time budget is spent, or when the best score has
   not improved for ``patience`` rounds.
3. Finish: evaluate the best few candidates with the exact model (which also models link transfers) and
   return the best by the objective.

Deterministic for a seed: a time budget is counted in evaluations (``EVALUATIONS_PER_SECOND``).
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
from cimscope.mappers.mapspace import Candidates, MapSpace
from cimscope.model import evaluate
from cimscope.model.fast import evaluate_batch, make_static
from cimscope.timeloop.constraints import check_mapping
from cimscope.validation import FinitePositiveFloat, NonNegInt, PositiveInt, validate

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


def _evaluation_budget(objective: str, budget_s: Optional[float], max_evaluations: Optional[int]) -> int:
    """The number of evaluations to spend: ``budget_s`` at ``EVALUATIONS_PER_SECOND`` (deterministic under
    any load), capped by ``max_evaluations``; ``DEFAULT_MAX_EVALUATIONS`` without either."""
    if objective not in OBJECTIVES:
        raise InputError(f"unknown objective {objective!r}; objectives are {', '.join(OBJECTIVES)}")
    if max_evaluations is not None:
        validate(PositiveInt, max_evaluations, "max_evaluations", "an integer >= 1")
    if budget_s is not None:
        validate(FinitePositiveFloat, budget_s, "budget_s", "a finite number of seconds > 0")
    if budget_s is not None:
        by_time = max(1, int(round(budget_s * EVALUATIONS_PER_SECOND)))
        return by_time if max_evaluations is None else min(max_evaluations, by_time)
    return DEFAULT_MAX_EVALUATIONS if max_evaluations is None else max_evaluations


class _Search:
    """State of one search: the evaluation count, the elites (best distinct valid candidates) and what was
    seen; ``run`` scores a batch of candidates, ``descend`` walks downhill from one."""

    def __init__(self, space, static, objective: str, max_evaluations: int, n_elites: int, bar) -> None:
        self.space, self.static, self.objective = space, static, objective
        self.max_evaluations, self.n_elites, self.bar = max_evaluations, n_elites, bar
        self.evals = self.valid = 0
        self.e_ref: Optional[float] = None
        self.best = np.inf
        self.elites, self.scores = None, np.zeros(0)
        self.seen: set[bytes] = set()
        self.history: list[tuple[int, float]] = []
        self.overflow = np.zeros(space.L, dtype=np.int64)
        self.exhausted = False

    def out_of_budget(self) -> bool:
        return self.evals >= self.max_evaluations or self.exhausted

    def run(self, cand):
        """Evaluate the unseen candidates (within budget); returns (candidates, scores) of the valid ones."""
        fresh = []
        for i, k in enumerate(cand.keys()):
            if k not in self.seen:
                self.seen.add(k)
                fresh.append(i)
        fresh = fresh[:int(self.max_evaluations - self.evals)]
        if not fresh:
            return None, None
        cand = cand.take(np.array(fresh))
        out = evaluate_batch(self.static, cand.batch())
        ok = out["valid"] & self.space.feasible(cand)
        self.overflow[:] += (out["capacity_used"] > self.static.eff[None, :]).sum(axis=0)
        self.evals += cand.n
        self.valid += int(ok.sum())
        if self.bar is not None:
            self.bar.update(cand.n)
        if not ok.any():
            return None, None
        if self.e_ref is None:
            self.e_ref = float(np.min(out["energy_pJ"][ok]))
        sc = score(out, self.objective, self.e_ref)[ok]
        pool = cand.take(np.nonzero(ok)[0])
        self._keep_elites(pool, sc)
        return pool, sc

    def _keep_elites(self, pool, sc) -> None:
        allc = pool if self.elites is None else Candidates.concat([self.elites, pool])
        alls = sc if self.elites is None else np.concatenate([self.scores, sc])
        order = np.argsort(alls, kind="stable")[:self.n_elites]
        self.elites, self.scores = allc.take(order), alls[order]
        if self.scores[0] < self.best:
            self.best = float(self.scores[0])
            self.history.append((self.evals, self.best))
            if self.bar is not None:
                self.bar.set_postfix_str(f"best {self.objective} {self.best:.4g}")

    def descend(self, cur, cur_sc: float) -> None:
        while not self.out_of_budget():
            pool, sc = self.run(self.space.neighbours(cur, 0))
            if pool is None:
                break
            j = int(np.argmin(sc))
            if sc[j] >= cur_sc * (1 - 1e-12):
                break
            cur, cur_sc = pool.take(np.array([j])), float(sc[j])

    def explore(self, rng, n: int, batch: int) -> None:
        """Random samples, ``batch`` at a time whatever is left of the budget (``run`` cuts the last batch), so
        a run with a larger budget repeats a smaller one's evaluations first."""
        target = self.evals + n
        while self.evals < target and not self.out_of_budget():
            before = self.evals
            self.run(self.space.sample(rng, batch))
            if self.evals == before:
                break

    def descend_from_new_patterns(self, n_starts: int, started: set, classes_started: set) -> None:
        """Descend from the best candidates of patterns (kept data spaces, spatially mapped dimensions) not yet
        descended from: single steps rarely change those."""
        for _ in range(n_starts):
            if self.out_of_budget():
                break
            el = self.elites
            keys = el.keys()
            cls = [el.keep[i].tobytes() + (el.sf[i] > 1).tobytes() for i in range(el.n)]
            nxt = next((i for i, k in enumerate(keys) if k not in started and cls[i] not in classes_started), None)
            if nxt is None:
                break
            started.add(keys[nxt])
            classes_started.add(cls[nxt])
            self.descend(el.take(np.array([nxt])), float(self.scores[nxt]))

    def perturb_and_descend(self, rng) -> None:
        """Iterated local search: three random mutations of the best, then descend from the best child."""
        if self.out_of_budget():
            return
        kids = self.elites.take(np.array([0] * 8))
        for _ in range(3):
            kids = self.space.mutate(rng, kids, kids.n)
        pool, sc = self.run(kids)
        if pool is not None:
            j = int(np.argmin(sc))
            self.descend(pool.take(np.array([j])), float(sc[j]))


def search(problem: ir.Problem, arch: ir.Arch, *, objective: str = "edp", budget_s: Optional[float] = None,
           max_evaluations: Optional[int] = None, seed: int = 0, constraints=None, progress: bool = True,
           batch: int = 1024, n_elites: int = 64, n_starts: int = 4, patience: int = 3, finalists: int = 6,
           explore_bypass: bool = True, initial: Optional[list[ir.Mapping]] = None) -> SearchResult:
    """Search the mapspace for the best mapping by ``objective``; MappingError if nothing fits.

    Random exploration (4 batches, then one batch per round), then steepest descent over the full
    one-step neighbourhood (``MapSpace.neighbours``) from the best distinct candidates, then iterated local
    search (perturb the best with a few random mutations, descend again) until the budget is spent (with
    ``budget_s``, counted in evaluations) or ``patience`` perturbations in a row bring nothing (without);
    it stops early when three rounds find no unseen candidate (the space is exhausted)."""

    max_evaluations = _evaluation_budget(objective, budget_s, max_evaluations)
    if budget_s is not None:
        patience = 10 ** 9                   # a budget is spent in full unless the space runs out
    t0 = time.perf_counter()
    rng = np.random.default_rng(validate(NonNegInt, seed, "seed", "an integer >= 0"))
    space = MapSpace(problem, arch, constraints, explore_bypass=explore_bypass)
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=max_evaluations, desc=f"mapping {problem.name}", unit="map", file=sys.stderr, leave=False,
                   dynamic_ncols=True)
    sr = _Search(space, make_static(problem, arch), objective, max_evaluations, n_elites, bar)
    try:
        if initial:
            sr.run(Candidates.concat([space.from_mapping(m) for m in initial]))
        started: set[bytes] = set()
        classes_started: set[bytes] = set()
        stale = dry = 0
        share = 4 * batch          # the first round explores more (independent of the budget: see explore)
        while stale < patience and not sr.out_of_budget():
            best_before, evals_before = sr.best, sr.evals
            sr.explore(rng, share, batch)
            share = batch
            if sr.elites is None:
                stale += 1
                continue
            sr.descend_from_new_patterns(n_starts, started, classes_started)
            sr.perturb_and_descend(rng)
            stale = 0 if sr.best < best_before * (1 - 1e-12) else stale + 1
            dry = dry + 1 if sr.evals == evals_before else 0
            sr.exhausted = dry >= 3               # three rounds found nothing unseen: the space is spent
    finally:
        if bar is not None:
            bar.close()
    if sr.elites is None:
        raise _no_fit(space, problem, arch, sr.evals, sr.overflow)
    results = _finalists(problem, arch, space, sr.elites, objective, finalists, constraints)
    if not results:
        raise _no_fit(space, problem, arch, sr.evals, sr.overflow)
    _, _, m, r = results[0]
    secs = time.perf_counter() - t0
    r.extra["mapper"] = {"engine": "builtin", "objective": objective, "evaluations": sr.evals, "valid": sr.valid,
                         "seconds": secs, "seed": seed, "budget_evaluations": int(max_evaluations),
                         "exhausted": sr.exhausted}
    return SearchResult(mapping=m, result=r, evaluations=sr.evals, valid=sr.valid, seconds=secs,
                        history=sr.history)


def _finalists(problem: ir.Problem, arch: ir.Arch, space, elites, objective: str, finalists: int,
               constraints) -> list:
    """The best elites, evaluated exactly, that pass the checker ``cimscope model`` uses (constraints, strict:
    the innermost level's order too) and the exact model's fanout and capacity checks; best first."""

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
    """Explain why no mapping fits: try the smallest footprint (every loop at the outermost level, and every data
    space bypassed wherever the mapspace may bypass it); only when even that breaks a level is "nothing fits"
    the reason, else the search ran out of evaluations."""
    levels = []
    for lv in arch.levels:
        lm = ir.LevelMapping(target=lv.name, temporal_factors={d: 1 for d in problem.dims})
        s = space.levels.index(lv)
        byp = [space.ds[k] for k in range(space.S) if space.keep_fixed[s, k] != 1]
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
