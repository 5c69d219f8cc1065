"""timeloopfe v0.4 source files -> the processed v0.4 document Timeloop reads (``parsed-processed-input.yaml``).

Pipeline (each step one module): render Jinja2 and load YAML (``render``, ``yamlload``) -> combine the files'
top-level keys (``document``) -> evaluate expressions (``parse``) -> refuse Sparseloop features (``sparse``) ->
timeloopfe's processors (``processors``) -> flatten the tree (``transpile``).

``for_model=True`` gives what timeloopfe writes for timeloop-model (all constraints, the mapping included, as the
``mapping`` list); the default gives what it writes for timeloop-mapper (``architecture_constraints``).

Differences from timeloopfe's output, on purpose: problem ``instance`` keys that are neither dimensions nor
coefficients (``H``, ``W``, ``Hpad`` ...) are left out (Timeloop ignores them); an empty ``mapping`` is left out;
a container's temporal / dataspace constraints, which timeloopfe drops without a word (only a container's spatial
constraints reach Timeloop), are refused with a message instead.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Optional, Union

from cimscope.errors import InputError
from cimscope.timeloop.spec import processors as proc
from cimscope.timeloop.spec.detect import is_source_spec  # noqa: F401 - part of this module's interface
from cimscope.timeloop.spec.document import combine_files, flatten_classes
from cimscope.timeloop.spec.parse import parse_spec
from cimscope.timeloop.spec.render import load_top_files
from cimscope.timeloop.spec.sparse import check_sparse
from cimscope.timeloop.spec.transpile import flatten
from cimscope.timeloop.spec.tree import check_unique_names, kind, leaves


def plain(x: Any) -> Any:
    """Builtin dicts, lists and strs only (safe to dump and to hand to any loader)."""
    if isinstance(x, dict):
        return {plain(k): plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    if isinstance(x, str):
        return str(x)
    return x


def _check_containers(nodes: list) -> None:
    for leaf in leaves(nodes):
        if kind(leaf) != "container":
            continue
        bad = [t for t, c in (leaf.get("constraints") or {}).items() if t != "spatial" and c]
        if bad:
            raise InputError(f"architecture: container {leaf.get('name')!r} has {', '.join(bad)} constraints; "
                             f"timeloopfe passes only a container's spatial constraints to Timeloop and drops the "
                             f"rest, so cimscope refuses them: put them on a component")


def _problem(problem: dict, where: str = "problem") -> dict:
    out = copy.deepcopy(problem)
    shape = out.get("shape") or {}
    if not isinstance(shape, dict) or not shape.get("dimensions") or not shape.get("data_spaces"):
        raise InputError(f"{where}.shape: needs 'dimensions' and 'data_spaces'")
    for ds in shape["data_spaces"]:
        if isinstance(ds, dict):
            ds.setdefault("read_write", False)
    shape.setdefault("coefficients", [])
    coefs = {str(c.get("name")) for c in shape["coefficients"] if isinstance(c, dict)}
    inst = out.get("instance")
    if not isinstance(inst, dict):
        raise InputError(f"{where}: needs an 'instance' mapping of dimension sizes")
    keep = set(map(str, shape["dimensions"])) | coefs
    out["instance"] = {k: v for k, v in inst.items() if k in keep}
    out["instance"]["densities"] = {}
    return out


def process_spec(spec: dict, *, for_model: bool = False) -> dict:
    """The combined specification (top key -> value, see ``document``) -> the processed document."""
    spec = parse_spec(spec)
    nodes = spec["architecture"]["nodes"]
    check_unique_names(nodes)
    check_sparse(spec, list(leaves(nodes)))
    problem = proc.Problem(spec["problem"])
    proc.attach(nodes, spec["constraint_targets"], "constraints.targets")
    proc.attach(nodes, spec["mapping"], "mapping")
    _check_containers(nodes)
    proc.apply_macros(nodes, problem)
    proc.dataspace_to_branch(nodes, set(problem.ds_dims), problem)
    proc.optimize_permutations(nodes, problem)
    for leaf in leaves(nodes):
        k = kind(leaf)
        if k in ("storage", "compute"):
            actions = ["leak", "read", "write", "update"] if k == "storage" else ["compute"]
            leaf["required_actions"] = list(dict.fromkeys(list(leaf.get("required_actions") or []) + actions))
    variables = {k: v for k, v in spec["variables"].items()}
    variables.setdefault("version", "0.4")
    arch, constraints = flatten(nodes, variables, problem.dims, list(problem.ds_dims))
    doc: dict[str, Any] = {"dumped_by_timeloop_front_end": True, "architecture": arch,
                           "architecture_constraints": {"targets": [] if for_model else constraints},
                           "problem": _problem(spec["problem"])}
    comps = spec.get("components") or {}
    doc["compound_components"] = {"version": "0.4", "classes": flatten_classes(
        comps.get("classes") if isinstance(comps, dict) else comps)}
    if for_model and constraints:
        doc["mapping"] = constraints
    for key in ("mapper", "mapspace", "globals", "ERT", "ART"):
        if spec.get(key):
            doc[key] = spec[key]
    return plain(doc)


def load_sources(paths: list[Union[str, Path]], jinja_data: Optional[dict] = None, *,
                 for_model: bool = False) -> dict:
    """Read timeloopfe v0.4 source files (YAML and Jinja2 top files, combined in order) into the processed v0.4
    document (the structure of ``parsed-processed-input.yaml``). Bad input raises InputError (one line)."""
    docs = load_top_files([Path(p) for p in paths], jinja_data)
    return process_spec(combine_files(docs), for_model=for_model)
