"""timeloopfe v0.4's required processors, in its order (``v4/processors``), on the parsed specification:

1. constraint attacher: each entry of ``constraints.targets`` and of ``mapping`` joins the ``constraints`` of the
   node it names (containers too), combined with what is already there (factors concatenate, a dimension given
   two different ``=`` values, or a data space both kept and bypassed, is refused);
2. constraint macros: ``*`` in a data-space list means every data space; ``factors_only`` (listed factors, all
   other dimensions 1), ``no_iteration_over_dataspaces`` / ``must_iterate_over_dataspaces`` (factors 1 for the
   dimensions of / not of those data spaces), ``keep_only`` / ``bypass_only``, ``maximize_dims`` (see
   :func:`maximize`);
3. data space to branch: below a ``!Parallel`` node each branch keeps what its nodes keep and bypasses every
   other data space; a data space kept in two peer branches, or in none, is refused;
4. permutation optimizer: in the temporal constraint of every storage level and the spatial one of every node
   with a fanout, dimensions fixed to 1 (by a factor, or by a problem size of 1) go innermost (front) of the
   permutation when not already in it.
"""
from __future__ import annotations

import math
from typing import Any

from cimscope.errors import InputError
from cimscope.timeloop.spec.parse import CONSTRAINT_TYPES
from cimscope.timeloop.spec.tree import fanout, is_branch, kind, leaves, named

_DS_LISTS = ("keep", "bypass", "no_coalesce", "no_reuse", "no_link_transfer", "rmw_first_update", "keep_only",
             "bypass_only", "no_iteration_over_dataspaces", "must_iterate_over_dataspaces")


class Problem:
    """What the processors need from the problem: dimensions, sizes, data spaces and their dimensions."""

    def __init__(self, problem: dict) -> None:
        shape = problem.get("shape") or {}
        self.dims = [str(d) for d in shape.get("dimensions") or []]
        self.instance = problem.get("instance") or {}
        for d in self.dims:
            v = self.instance.get(d)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InputError(f"problem.instance.{d}: the size of dimension {d} must be a positive integer, "
                                 f"found {v!r}")
        self.ds_dims: dict[str, list[str]] = {}
        for ds in shape.get("data_spaces") or []:
            names = _flat_names(ds.get("projection"))
            self.ds_dims[str(ds.get("name"))] = [d for d in self.dims if d in names]

    def size(self, dim: str) -> int:
        return self.instance.get(dim, 1)


def _flat_names(x: Any) -> set:
    if isinstance(x, list):
        return set().union(*(_flat_names(v) for v in x)) if x else set()
    return {str(x)}


def split_factor(f: str, where: str) -> tuple[str, str, int]:
    """``"R=3"`` -> ("R", "=", 3); also ``<=`` and ``>=``."""
    for op in ("<=", ">=", "="):
        if op in f:
            name, _, value = f.partition(op)
            try:
                return name.strip(), op, int(value)
            except ValueError:
                break
    raise InputError(f"{where}: cannot read factor {f!r}; write each factor as D=n, D<=n or D>=n")


def add_factors(existing: list[str], new: list[str], where: str) -> list[str]:
    """Concatenate factor lists (repeats dropped); the same dimension with two different values is refused
    unless one is ``<=`` and the other ``>=``."""
    out: list[str] = []
    for f in list(existing) + list(new):
        if f not in out:
            out.append(f)
    seen: dict[str, tuple[str, int, str]] = {}
    for f in out:
        name, op, v = split_factor(f, where)
        if name in seen and seen[name][1] != v and {seen[name][0], op} != {"<=", ">="}:
            raise InputError(f"{where}: conflicting factors {seen[name][2]} and {f} for dimension {name}")
        seen.setdefault(name, (op, v, f))
    return out


def combine_constraint(mine: dict, other: dict, ctype: str, where: str) -> dict:
    """Combine two constraints of the same type on one node (timeloopfe ``Constraint.combine``)."""
    out = dict(mine)
    keep = set(mine.get("keep") or []) | set(other.get("keep") or [])
    bypass = set(mine.get("bypass") or []) | set(other.get("bypass") or [])
    if keep & bypass:
        raise InputError(f"{where}: data space(s) {', '.join(sorted(keep & bypass))} both kept and bypassed")
    for k, v in other.items():
        if k in ("target", "type"):
            continue
        cur = out.get(k)
        if cur is None or cur == [] or cur == {}:
            out[k] = v
        elif v is None or v == [] or v == {} or cur == v:
            continue
        elif k == "factors":
            out[k] = add_factors(cur, v, where)
        elif k in _DS_LISTS:
            out[k] = list(cur) + [x for x in v if x not in cur]
        else:
            raise InputError(f"{where}: {ctype} {k} given twice with different values ({cur!r} and {v!r})")
    return out


def attach(nodes: list, targets: list[dict], what: str) -> None:
    """Attach each constraint of ``targets`` to the node it names."""
    by_name = {}
    for n in named(nodes):
        by_name.setdefault(n["name"], n)
    for i, c in enumerate(targets):
        ctype = str(c["type"])
        where = f"{what}[{i}] (target {c['target']}, type {ctype})"
        if ctype not in CONSTRAINT_TYPES:
            raise InputError(f"{where}: unknown constraint type {ctype!r}; types are {', '.join(CONSTRAINT_TYPES)}")
        node = by_name.get(c["target"])
        if node is None or is_branch(node):
            raise InputError(f"{where}: no node named {c['target']!r} in the architecture; nodes are "
                             f"{', '.join(str(n) for n in by_name)}")
        cons = node.setdefault("constraints", {})
        body = {k: v for k, v in c.items() if k not in ("target", "type")}
        cons[ctype] = combine_constraint(cons.get(ctype) or {}, body, ctype, where)


def _expand_star(c: dict, prob: Problem, where: str) -> None:
    for key in _DS_LISTS:
        lst = c.get(key)
        if isinstance(lst, list) and "*" in lst:
            c[key] = lst = [x for x in lst if x != "*"] + [d for d in prob.ds_dims if d not in lst]
        for name in lst if isinstance(lst, list) else []:
            if name not in prob.ds_dims:
                raise InputError(f"{where}.{key}: unknown data space {name!r}; data spaces are "
                                 f"{', '.join(prob.ds_dims)}")


def _ds_dims(names: list[str], prob: Problem, where: str) -> set:
    out: set = set()
    for n in names:
        if n not in prob.ds_dims:
            raise InputError(f"{where}: unknown data space {n!r}; data spaces are {', '.join(prob.ds_dims)}")
        out |= set(prob.ds_dims[n])
    return out


def _iteration_macros(c: dict, prob: Problem, where: str) -> None:
    only = c.pop("factors_only", None)
    if only is not None:
        c["factors"] = add_factors(c.get("factors") or [], only, where)
        named_dims = {split_factor(f, where)[0] for f in c["factors"]}
        c["factors"] += [f"{d}=1" for d in prob.dims if d not in named_dims]
    ds = c.pop("no_iteration_over_dataspaces", None)
    if ds is not None:
        dims = _ds_dims(ds, prob, where)
        c["factors"] = add_factors(c.get("factors") or [], [f"{d}=1" for d in prob.dims if d in dims], where)
    ds = c.pop("must_iterate_over_dataspaces", None)
    if ds is not None:
        dims = _ds_dims(ds, prob, where)
        c["factors"] = add_factors(c.get("factors") or [], [f"{d}=1" for d in prob.dims if d not in dims], where)


def _dataspace_macros(c: dict, prob: Problem, where: str) -> None:
    all_ds = list(prob.ds_dims)
    for key, keep_of in (("keep_only", lambda ds: ds), ("bypass_only", lambda ds: [d for d in all_ds
                                                                                  if d not in ds])):
        ds = c.pop(key, None)
        if ds is None:
            continue
        keep = keep_of(ds)
        bypass = [d for d in all_ds if d not in keep]
        merged = combine_constraint(c, {"keep": keep, "bypass": bypass}, "dataspace", where)
        c.clear()
        c.update(merged)


def greedy_allocate(sizes: dict[str, int], capacity: int) -> tuple[list[tuple[str, int]], float]:
    """Greedy search for the spatial factors of ``sizes`` that best use ``capacity`` units: returns
    ([(dim, factor), ...], utilisation). Tries, per dimension, each prime factor that fits (recursing on the
    capacity left) and, for a dimension larger than the capacity, an even split with a remainder."""
    best: list[tuple[str, int]] = []
    best_util = 1.0
    if capacity <= 1:
        return best, best_util
    for k, v in sizes.items():
        if v > capacity:
            rounds = math.ceil(v / capacity)
            alloc = math.ceil(v / rounds)
            util = (alloc * (rounds - 1) + v % alloc) / rounds
            if util > best_util:
                best_util, best = util, [(k, alloc)]
        for p in set(_prime_factors(v)):
            if p > capacity:
                continue
            sub, util = greedy_allocate({**sizes, k: v // p}, capacity // p)
            if util * p > best_util:
                best_util, best = util * p, [(k, p)] + sub
    return best, best_util


def _prime_factors(x: int) -> list[int]:
    out, d = [], 2
    while x > 1:
        while x % d == 0:
            out.append(d)
            x //= d
        d += 1
    return out


def maximize(nodes: list, prob: Problem) -> None:
    """``maximize_dims: [[M, C], ...]``: per group, the largest factors of those dimensions that fit the node's
    fanout (spatial) or ``maximize_dims_capacity`` (temporal), after the factors already fixed there. Nodes are
    visited innermost first, spatial constraints before temporal ones."""
    left = {d: prob.size(d) for d in prob.dims}
    for leaf in leaves(nodes):
        for c in (leaf.get("constraints") or {}).values():
            for f in c.get("factors") or []:
                name, op, v = split_factor(f, leaf.get("name", "?"))
                v = v or prob.size(name)
                if v > 0 and op == "=" and name in left:
                    left[name] = math.ceil(left[name] / v)
    order = list(leaves(nodes))[::-1]
    for ctype in ("spatial", "temporal"):
        for leaf in order:
            c = (leaf.get("constraints") or {}).get(ctype)
            if not c:
                continue
            groups = c.pop("maximize_dims", None)
            capacity = c.pop("maximize_dims_capacity", None)
            if not groups:
                continue
            where = f"architecture: {leaf.get('name')}.constraints.{ctype}.maximize_dims"
            if capacity is None:
                if ctype == "temporal":
                    raise InputError(f"{where}: a temporal maximize_dims needs maximize_dims_capacity (an integer)")
                mx, my = fanout(leaf)
                capacity = mx * my
            groups = [groups] if all(isinstance(g, str) for g in groups) else groups
            for group in groups:
                _maximize_group(c, [str(d) for d in group], int(capacity), left, prob, where)


def _maximize_group(c: dict, group: list[str], capacity: int, left: dict, prob: Problem, where: str) -> None:
    factors = c.setdefault("factors", [])
    for f in factors:
        name, op, v = split_factor(f, where)
        v = v or prob.size(name)
        if v > 0 and op in ("=", ">="):
            capacity //= v
    named_dims = {split_factor(f, where)[0] for f in factors}
    for d in group:
        if d in named_dims:
            raise InputError(f"{where}: cannot maximize {d}: it is already constrained in {factors}")
        if d not in left:
            raise InputError(f"{where}: {d} is not a problem dimension; dimensions are {', '.join(prob.dims)}")
    best = {d: 1 for d in group}
    for d, f in greedy_allocate({d: left[d] for d in group}, capacity)[0]:
        best[d] *= f
    for d, f in best.items():
        c["factors"] = add_factors(c["factors"], [f"{d}={f}"], where)
        left[d] = math.ceil(left[d] / f)


def apply_macros(nodes: list, prob: Problem) -> None:
    for leaf in leaves(nodes):
        for ctype, c in (leaf.get("constraints") or {}).items():
            where = f"architecture: {leaf.get('name')}.constraints.{ctype}"
            _expand_star(c, prob, where)
            if ctype in ("spatial", "temporal"):
                _iteration_macros(c, prob, where)
            if ctype == "dataspace":
                _dataspace_macros(c, prob, where)
    maximize(nodes, prob)


def _kept(nodes: list) -> set:
    return set().union(*[set(((n.get("constraints") or {}).get("dataspace") or {}).get("keep") or [])
                         for n in leaves(nodes)] or [set()])


def dataspace_to_branch(nodes: list, dataspaces: set, prob: Problem, where: str = "architecture") -> None:
    for n in nodes:
        if not is_branch(n):
            continue
        children = n.get("nodes") or []
        if n.tag != "Parallel":
            dataspace_to_branch(children, dataspaces, prob, where)
            continue
        keeps = [_kept([s]) if not is_branch(s) else _kept(s.get("nodes") or []) for s in children]
        for i in range(len(children)):
            for j in range(i + 1, len(children)):
                if keeps[i] & keeps[j]:
                    raise InputError(f"{where}: !Parallel: data space(s) {', '.join(sorted(keeps[i] & keeps[j]))} "
                                     f"kept in two peer branches; each data space may be kept in one branch")
        missing = set(dataspaces) - set().union(*keeps) if keeps else set()
        if missing:
            raise InputError(f"{where}: !Parallel: no branch keeps {', '.join(sorted(missing))}; add a keep "
                             f"constraint for it to one branch")
        for s, keep in zip(children, keeps):
            bypass = sorted(set(prob.ds_dims) - keep)
            for leaf in (leaves(s.get("nodes") or []) if is_branch(s) else [s]):
                cons = leaf.setdefault("constraints", {})
                cons["dataspace"] = combine_constraint(cons.get("dataspace") or {}, {"bypass": bypass}, "dataspace",
                                                       f"{where}: {leaf.get('name')}")
            if is_branch(s):
                dataspace_to_branch([s], keep, prob, where)


def optimize_permutations(nodes: list, prob: Problem) -> None:
    for leaf in leaves(nodes):
        k = kind(leaf)
        mx, my = fanout(leaf)
        for ctype, applies in (("temporal", k == "storage"), ("spatial", mx * my > 1)):
            if not applies:
                continue
            c = leaf.setdefault("constraints", {}).setdefault(ctype, {})
            perm = c.setdefault("permutation", [])
            for f in c.get("factors") or []:
                d, _, v = split_factor(f, leaf.get("name", "?"))
                if v == 1 and d not in perm:
                    perm.insert(0, d)
            for d in prob.dims:
                if prob.size(d) == 1 and d not in perm:
                    perm.insert(0, d)
