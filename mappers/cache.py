"""Mapping cache keyed by (problem shape, architecture, constraints, objective, engine, search settings).

In memory for the process and on disk under ``$CIMSCOPE_CACHE`` (default ``.cimscope_cache/`` in the
working directory), one JSON file per key holding the best mapping as v0.4 directives. Files are written
atomically (temporary file + rename), so concurrent mappers never see half a file. The problem *name* is
not part of the key: layers with the same shape are mapped once. The search settings (seed, evaluation and
time budgets) are: another seed or budget is another search, whose answer may differ.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any, Optional

from cimscope import ir
from cimscope.atomic import write_json

_MEMORY: dict[str, list] = {}
FORMAT = 3        # 2: mapper with constraint-checked output and Timeloop's leakage/cluster rules
#                   3: the model it searches with follows Timeloop's fill rule since PR #297 (best mappings may differ)


def cache_dir() -> Path:
    return Path(os.environ.get("CIMSCOPE_CACHE") or ".cimscope_cache") / "mapper"


def problem_key(problem: ir.Problem) -> dict:
    return {"dims": dict(problem.dims), "coefficients": dict(problem.coefficients),
            "dataspaces": [(t.name, [[list(x) for x in r] for r in t.projection], bool(t.read_write))
                           for t in problem.dataspaces]}


def arch_key(arch: ir.Arch) -> dict:
    d = asdict(arch)
    d.pop("name", None)
    return d


def make_key(problem: ir.Problem, arch: ir.Arch, constraints: Any, objective: str, engine: str = "builtin",
             search: Optional[dict] = None) -> str:
    """Identity of one mapper run: everything that changes its answer (problem shape, architecture with its
    energies, areas and bandwidths, constraints, objective, engine and the search settings ``search``)."""
    payload = {"format": FORMAT, "engine": engine, "objective": objective, "problem": problem_key(problem),
               "arch": arch_key(arch), "constraints": constraints.key() if constraints is not None else None,
               "search": search or {}}
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:24]


def get(key: str) -> Optional[list]:
    """The cached mapping directives for ``key`` (memory first, then disk), or None."""
    if key in _MEMORY:
        return _MEMORY[key]
    p = cache_dir() / f"{key}.json"
    if not p.exists():
        return None
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None                      # unreadable or partial: ignore, it will be rewritten
    if data.get("format") != FORMAT or not isinstance(data.get("mapping"), list):
        return None
    _MEMORY[key] = data["mapping"]
    return data["mapping"]


def put(key: str, mapping_yaml: list, meta: Optional[dict] = None) -> None:
    _MEMORY[key] = mapping_yaml
    try:
        write_json(cache_dir() / f"{key}.json", {"format": FORMAT, "mapping": mapping_yaml, "meta": meta or {}})
    except OSError:
        pass                             # a read-only cache dir only costs re-mapping


def clear_memory() -> None:
    _MEMORY.clear()
