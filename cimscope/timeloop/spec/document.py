"""The top-level keys of a timeloopfe v0.4 specification, and how several files combine into one.

timeloopfe (``v4/specification.py``) recognises these top keys; a key that *contains* ``ignore``, ``components``,
``constraints``, ``mapping`` or ``globals`` counts as that key (checked in this order after an exact match), so
``compound_components`` is ``components``, ``mapspace_constraints``, ``architecture_constraints`` and
``extra_mapping_constraints`` are ``constraints``, and ``problem_base_ignore`` is ignored.

Files combine in the order given: a key seen again is combined with the first value (architecture ``nodes``,
constraint ``targets``, component ``classes`` and ``mapping`` lists are concatenated; mappings merge key by key;
a scalar given twice must be the same, else the input is refused naming the key).
"""
from __future__ import annotations

from typing import Any

from cimscope.errors import InputError

TOP_KEYS = ("architecture", "components", "constraints", "mapping", "mapper", "problem", "sparse_optimizations",
            "variables", "mapspace", "globals", "ERT", "ART")
_PART_MATCH = ("ignore", "components", "constraints", "mapping", "globals")
_CONCAT_LISTS = {"nodes", "targets", "classes", "mapping", "tables"}


def top_key(key: str) -> str:
    """The specification key that a file's top-level ``key`` stands for ('ignore' for ignored keys)."""
    if key in TOP_KEYS:
        return key
    for part in _PART_MATCH:
        if part in key:
            return part
    raise InputError(f"unknown top-level key {key!r}; timeloopfe v0.4 keys are {', '.join(TOP_KEYS)} (a key "
                     f"containing 'ignore' is skipped)")


def _empty(x: Any) -> bool:
    return x is None or (isinstance(x, (list, dict, str)) and len(x) == 0)


def combine(a: Any, b: Any, key: str) -> Any:
    """timeloopfe's ``Node.try_combine``: empty yields to the other, equal values stay, mappings merge, the
    concatenated lists extend, anything else given twice differently is refused."""
    if _empty(a):
        return b
    if _empty(b) or a == b:
        return a
    if isinstance(a, dict) and isinstance(b, dict):
        out = type(a)(a) if not hasattr(a, "tag") else a.__class__(a, tag=a.tag)
        for k, v in b.items():
            out[k] = combine(out[k], v, f"{key}.{k}") if k in out else v
        return out
    if isinstance(a, list) and isinstance(b, list) and key.split(".")[-1] in _CONCAT_LISTS:
        return a + b
    raise InputError(f"{key} is given twice with different values ({a!r} and {b!r}); give it once, or give the "
                     f"same value")


def combine_files(docs: list[tuple[str, dict]]) -> dict:
    """One specification (spec key -> value) from the top-level mappings of the input files."""
    spec: dict[str, Any] = {}
    for path, doc in docs:
        for key, value in doc.items():
            try:
                k = top_key(str(key))
            except InputError as exc:
                raise InputError(f"{path}: {exc}") from None
            if k == "ignore":
                continue
            if k == "mapping" and isinstance(value, dict):
                value = value.get("targets", value.get("mapping", []))
            try:
                spec[k] = combine(spec[k], value, k) if k in spec else value
            except InputError as exc:
                raise InputError(f"{path}: {exc}") from None
    if "architecture" not in spec:
        raise InputError(f"{', '.join(p for p, _ in docs)}: no 'architecture' key in the inputs")
    if "problem" not in spec:
        raise InputError(f"{', '.join(p for p, _ in docs)}: no 'problem' key in the inputs")
    return spec


def flatten_classes(classes: Any) -> list:
    """Component classes, with the lists that ``include_all`` yields flattened."""
    out: list = []
    for c in classes or []:
        if isinstance(c, list):
            out.extend(flatten_classes(c))
        else:
            out.append(c)
    return out
