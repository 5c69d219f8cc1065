"""Evaluate the expressions of a timeloopfe v0.4 specification (timeloopfe ``parse_expressions``).

Scopes, as timeloopfe builds them:

* ``variables`` are evaluated in order, each seeing the ones before it; all of them, plus ``variables`` (the dict)
  and ``spec`` (the whole specification, read with ``spec.problem.instance`` ...), are in scope everywhere;
* in the architecture, the attributes of each ``!Container`` join the scope of every node after it (and inside
  the branches after it); within a node, keys evaluated earlier (``name``, ``attributes`` ...) and, within
  ``attributes``, the attributes above are in scope;
* every unquoted string of ``variables`` and of an ``attributes`` mapping is an expression; elsewhere only the
  numeric fields (``meshX``, ``meshY``, ``split``, problem ``instance`` sizes, ...) and strings written in
  parentheses are evaluated, and everything else stays as written.

Constraint ``factors`` and ``permutation`` are normalised to lists here (``"R=1 S=1"`` -> ``["R=1", "S=1"]``,
``"RSC"`` -> ``["R", "S", "C"]``).
"""
from __future__ import annotations

from typing import Any, Mapping

from cimscope.errors import InputError
from cimscope.timeloop.spec.expr import evaluate
from cimscope.timeloop.spec.yamlload import Quoted, Tagged

CONSTRAINT_TYPES = ("spatial", "temporal", "dataspace", "max_overbooked_proportion", "utilization")
NUMERIC_FIELDS = {"meshX", "meshY", "split", "proportion", "min", "default_max_factor", "default_min_factor",
                  "remainders", "maximize_dims_capacity", "default", "version"}
_ITERATION = ("spatial", "temporal")


def _maybe(value: Any, scope: Mapping[str, Any], where: str, numeric: bool) -> Any:
    if isinstance(value, str) and not isinstance(value, Quoted):
        s = value.strip()
        if numeric or (s.startswith("(") and s.endswith(")")):
            return evaluate(value, scope, where)
    return value


def parse_all(mapping: dict, scope: dict, where: str) -> dict:
    """Every unquoted string value evaluated; earlier keys join the scope of later ones."""
    if not isinstance(mapping, dict):
        raise InputError(f"{where}: expected a mapping, found {mapping!r}")
    local = dict(scope)
    out: dict = {}
    for k, v in mapping.items():
        out[k] = _parse_value(v, local, f"{where}.{k}")
        local[str(k)] = out[k]
    return out


def _parse_value(v: Any, scope: dict, where: str) -> Any:
    if isinstance(v, dict):
        return parse_all(v, scope, where)
    if isinstance(v, list):
        return [_parse_value(x, scope, f"{where}[{i}]") for i, x in enumerate(v)]
    return evaluate(v, scope, where)


def parse_fields(x: Any, scope: Mapping[str, Any], where: str) -> Any:
    """Numeric fields and parenthesised strings evaluated, recursively; other values kept."""
    if isinstance(x, dict):
        out = Tagged(tag=x.tag) if isinstance(x, Tagged) else {}
        for k, v in x.items():
            w = f"{where}.{k}"
            out[k] = parse_fields(v, scope, w) if isinstance(v, (dict, list)) else \
                _maybe(v, scope, w, str(k) in NUMERIC_FIELDS)
        return out
    if isinstance(x, list):
        return [parse_fields(v, scope, f"{where}[{i}]") if isinstance(v, (dict, list)) else
                _maybe(v, scope, f"{where}[{i}]", False) for i, v in enumerate(x)]
    return x


def split_factors(value: Any, where: str) -> list[str]:
    """timeloopfe ``Factors.factory``: a string splits on commas, else on spaces; a list stays."""
    if value is None:
        return []
    if isinstance(value, str):
        parts = value.split(",") if "," in value else value.split(" ")
    elif isinstance(value, list):
        parts = ["".join(map(str, v)) if isinstance(v, list) else str(v) for v in value]
    elif isinstance(value, dict):
        parts = [f"{k}={v}" for k, v in value.items()]
    else:
        raise InputError(f"{where}: factors must be a list such as [R=1, S=3] or a string, found {value!r}")
    return [p.strip() for p in parts if p and p.strip()]


def split_permutation(value: Any, where: str) -> list[str]:
    """timeloopfe ``Permutation.factory``: a string splits on commas, else into single characters."""
    if value is None:
        return []
    if isinstance(value, str):
        parts = value.split(",") if "," in value else list(value)
        return [p.strip() for p in parts if p.strip()]
    if isinstance(value, list):
        return [str(p) for p in value]
    raise InputError(f"{where}: permutation must be a list such as [R, S, C] or a string, found {value!r}")


def normalize_constraint(c: dict, ctype: str, where: str) -> dict:
    out = dict(c)
    if ctype in _ITERATION:
        for key in ("factors", "factors_only"):
            if key in out and out[key] is not None:
                out[key] = split_factors(out[key], f"{where}.{key}")
        if "permutation" in out:
            out["permutation"] = split_permutation(out["permutation"], f"{where}.permutation")
    for key in ("keep", "bypass", "keep_only", "bypass_only", "no_reuse", "no_coalesce", "no_link_transfer",
                "rmw_first_update", "no_iteration_over_dataspaces", "must_iterate_over_dataspaces"):
        if isinstance(out.get(key), str):
            out[key] = [out[key]]
    return out


def _parse_leaf(node: dict, scope: dict, where: str) -> dict:
    out = Tagged(tag=node.tag) if isinstance(node, Tagged) else {}
    local = dict(scope)
    for k, v in node.items():
        w = f"{where}.{k}"
        if k == "attributes":
            local["attributes"] = {}
            v = parse_all(v or {}, local, w)
        elif k == "constraints":
            if not isinstance(v, dict):
                raise InputError(f"{w}: expected a mapping of spatial/temporal/dataspace constraints, found {v!r}")
            unknown = [str(ct) for ct in v if ct not in CONSTRAINT_TYPES]
            if unknown:
                raise InputError(f"{w}: unknown constraint type(s) {', '.join(unknown)}; types are "
                                 f"{', '.join(CONSTRAINT_TYPES)}")
            v = {ct: normalize_constraint(parse_fields(c or {}, local, f"{w}.{ct}"), ct, f"{w}.{ct}")
                 for ct, c in v.items()}
        elif k == "nodes":
            continue
        else:
            v = parse_fields(v, local, w) if isinstance(v, (dict, list)) else _maybe(v, local, w, False)
        out[k] = v
        local[str(k)] = v
    return out


def parse_nodes(nodes: Any, scope: dict, where: str) -> list:
    """The architecture tree with its expressions evaluated."""
    if not isinstance(nodes, list):
        raise InputError(f"{where}: 'nodes' must be a list of !Container/!Component/... nodes, found {nodes!r}")
    scope = dict(scope)
    out = []
    for i, node in enumerate(nodes):
        if not isinstance(node, dict):
            raise InputError(f"{where}[{i}]: expected a !Component, !Container, !Parallel or !Hierarchical node, "
                             f"found {node!r}")
        w = f"{where}: {node.get('name', f'node {i}')}"
        tag = node.tag if isinstance(node, Tagged) else ""
        if tag in ("Hierarchical", "Parallel", "Pipelined") or ("nodes" in node and tag not in ("Component",
                                                                                                  "Container")):
            branch = Tagged({k: v for k, v in node.items() if k != "nodes"}, tag=tag or "Hierarchical")
            branch["nodes"] = parse_nodes(node.get("nodes") or [], scope, w)
            out.append(branch)
            continue
        parsed = _parse_leaf(node, scope, w)
        if tag == "Container":
            scope.update(parsed.get("attributes") or {})
        out.append(parsed)
    return out


def parse_spec(spec: dict) -> dict:
    """The specification with every expression evaluated (see the module docstring)."""
    out = dict(spec)
    variables = parse_all(spec.get("variables") or {}, {}, "variables")
    out["variables"] = variables
    scope = dict(variables)
    scope["variables"] = variables
    scope["spec"] = out
    problem = spec["problem"]
    if not isinstance(problem, dict):
        raise InputError(f"problem: expected a mapping with shape and instance, found {problem!r}")
    problem = parse_fields(problem, scope, "problem")
    inst = problem.get("instance")
    if isinstance(inst, dict):
        problem["instance"] = {k: (v if k == "densities" else _maybe(v, scope, f"problem.instance.{k}", True))
                               for k, v in inst.items()}
        problem["instance"].setdefault("densities", {})   # timeloopfe's Instance default (len() counts it)
    out["problem"] = problem
    arch = spec["architecture"]
    if not isinstance(arch, dict) or "nodes" not in arch:
        raise InputError("architecture: expected a timeloopfe v0.4 architecture with a 'nodes' list (found "
                         f"keys {', '.join(map(str, arch)) if isinstance(arch, dict) else type(arch).__name__})")
    out["architecture"] = {**{k: v for k, v in arch.items() if k != "nodes"},
                           "nodes": parse_nodes(arch["nodes"], scope, "architecture")}
    cons = spec.get("constraints") or {}
    targets = cons.get("targets") if isinstance(cons, dict) else cons
    if not isinstance(targets or [], list):
        raise InputError(f"constraints.targets: expected a list of constraints, found {targets!r}")
    out["constraint_targets"] = [_parse_target(c, scope, f"constraints.targets[{i}]")
                                 for i, c in enumerate(targets or [])]
    mapping = spec.get("mapping") or []
    if not isinstance(mapping, list):
        raise InputError(f"mapping: expected a list of directives (target, type, factors, permutation), found "
                         f"{mapping!r}")
    out["mapping"] = [_parse_target(c, scope, f"mapping[{i}]") for i, c in enumerate(mapping)]
    for key in ("mapper", "mapspace", "globals"):
        if key in spec:
            out[key] = parse_fields(spec[key], scope, key)
    return out


def _parse_target(c: Any, scope: dict, where: str) -> dict:
    if not isinstance(c, dict) or "target" not in c or "type" not in c:
        raise InputError(f"{where}: a constraint needs 'target' and 'type' (spatial, temporal, dataspace, "
                         f"max_overbooked_proportion, utilization), found {c!r}")
    return normalize_constraint(parse_fields(c, scope, where), str(c["type"]), where)
