"""Timeloop v0.4 problem documents from Ops, one file per unique operator shape.

A document has exactly the structure ``timeloop-model`` reads (compare the ``problem`` section of
/work/shared/reference/timeloop_cases/*/parsed-processed-input.yaml)::

    problem:
      version: '0.4'
      shape:
        name: CNN-Layer
        dimensions: [N, C, K, R, S, P, Q]
        coefficients: [{name: Wstride, default: 1}, ...]
        data_spaces:
        - name: Inputs
          projection:                      # one list per rank; a rank is a sum of terms
          - - [N]
          - - [R, Wdilation]               # term [dimension, coefficient]: R*Wdilation + P*Wstride
            - [P, Wstride]
          read_write: false
        - ...
      instance: {N: 1, C: 3, ..., Wstride: 2, ..., densities: {}}

Everything else (occurrence count, class, ops per element) goes in a YAML comment at the top of each file and
in ``index.yaml`` next to them, so the documents stay exactly what Timeloop parses.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from cimscope.atomic import write_text
from cimscope.ir import Op, Workload

PROBLEM_VERSION = "0.4"

_SHAPE_NAMES = {"conv": "CNN-Layer", "gemm": "GEMM", "pool": "Pooling", "norm": "Normalization",
                "reduction": "Reduction", "elementwise": "Elementwise", "memory": "Memory",
                "embedding": "Embedding", "softmax": "Softmax", "other": "Other"}


def shape_name(op: Op) -> str:
    name = _SHAPE_NAMES.get(op.kind, op.kind)
    if op.kind == "conv" and "G" in op.dims:
        name = "Grouped-CNN-Layer"
    elif op.kind == "gemm" and "B" in op.dims:
        name = "Batched-GEMM"
    elif op.kind == "softmax" and op.attrs.get("part"):
        name = f"Softmax-{op.attrs['part']}"
    return name


def _term(term) -> list:
    dim, coef = term[0], term[1] if len(term) > 1 else 1
    if coef == 1 or coef is None:
        return [str(dim)]
    return [str(dim), coef if isinstance(coef, str) else int(coef)]


def op_to_problem(op: Op) -> dict[str, Any]:
    """The Timeloop v0.4 problem document of one Op: ``{"problem": {"version", "shape", "instance"}}``."""
    shape = {
        "name": shape_name(op),
        "dimensions": [str(d) for d in op.dims],
        "coefficients": [{"name": str(c), "default": 1} for c in op.coefficients],
        "data_spaces": [
            {"name": t.name,
             "projection": [[_term(term) for term in rank] for rank in t.projection],
             "read_write": bool(t.read_write)}
            for t in op.tensors
        ],
    }
    instance: dict[str, Any] = {str(d): int(v) for d, v in op.dims.items()}
    for c, v in op.coefficients.items():
        instance[str(c)] = int(v)
    instance["densities"] = {}
    return {"problem": {"version": PROBLEM_VERSION, "shape": shape, "instance": instance}}


def problem_text(op: Op, *, count: int = 1, names: list[str] | None = None) -> str:
    """YAML text of the document with a comment header naming the operator and its occurrence count."""
    lines = [
        f"# cimscope problem {op.shape_key()}: {op.kind} ({op.op_class}), target {op.target}",
        f"# occurrences: {count}" + (f" (first: {names[0]}" + (f", module {op.module}" if op.module else "") + ")"
                                     if names else ""),
    ]
    if op.is_gemm:
        lines.append(f"# MACs per occurrence: {op.macs}")
    else:
        lines.append(f"# element ops per occurrence: {op.elem_ops} ({op.ops_per_element:g} per point of the "
                     f"iteration space)")
    if op.attrs.get("dynamic_weight"):
        lines.append("# Weights is an activation (rewritten every inference)")
    lines.append(f"# bits: " + ", ".join(f"{t.name}={t.bits}" for t in op.tensors))
    body = yaml.safe_dump(op_to_problem(op), sort_keys=False, default_flow_style=None)
    return "\n".join(lines) + "\n" + body


def unique_ops(workload: Workload) -> list[tuple[str, Op, list[Op]]]:
    """(shape_key, first op, all ops with that key), in order of first occurrence."""
    groups: dict[str, list[Op]] = {}
    for op in workload.ops:
        groups.setdefault(op.shape_key(), []).append(op)
    return [(k, ops[0], ops) for k, ops in groups.items()]


def write_problems(workload: Workload, out_dir: str | os.PathLike) -> list[Path]:
    """One problem YAML per unique ``Op.shape_key()`` under ``out_dir`` (``NNN-<kind>-<key>.yaml``), plus
    ``index.yaml`` listing each file with its occurrence count and the ops it stands for. Returns the problem
    file paths (without the index), in order of first occurrence."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    index: list[dict[str, Any]] = []
    for i, (key, op, ops) in enumerate(unique_ops(workload)):
        count = sum(o.count for o in ops)
        fname = f"{i:03d}-{op.kind}-{key}.yaml"
        names = [o.name for o in ops]
        paths.append(write_text(out / fname, problem_text(op, count=count, names=names)))
        index.append({
            "file": fname, "shape_key": key, "shape": shape_name(op), "kind": op.kind, "class": op.op_class,
            "target": op.target, "count": count, "macs_each": op.macs, "elem_ops_each": op.elem_ops,
            "ops_per_element": op.ops_per_element, "dims": dict(op.dims), "ops": names,
            "modules": sorted({o.module for o in ops if o.module}),
        })
    doc = {"model": workload.model, "batch": workload.batch, "problems": len(index),
           "operators": len(workload.ops), "index": index}
    write_text(out / "index.yaml", yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, width=120))
    return paths


def validate_problem(doc: dict[str, Any]) -> list[str]:
    """Structural check of a problem document against what timeloop-model reads; returns the problems found
    (empty list: valid). Every dimension used is declared, every coefficient used is declared and valued,
    every declared dimension has a positive instance size, one dataspace is read_write (the output)."""
    errs: list[str] = []
    if set(doc) != {"problem"}:
        return [f"top-level keys {sorted(doc)} != ['problem']"]
    p = doc["problem"]
    if set(p) != {"version", "shape", "instance"}:
        errs.append(f"problem keys {sorted(p)} != ['instance', 'shape', 'version']")
    if str(p.get("version")) != PROBLEM_VERSION:
        errs.append(f"version {p.get('version')!r} != {PROBLEM_VERSION!r}")
    shape, inst = p.get("shape", {}), p.get("instance", {})
    if set(shape) != {"name", "dimensions", "coefficients", "data_spaces"}:
        errs.append(f"shape keys {sorted(shape)}")
    dims = list(shape.get("dimensions", []))
    coefs = [c.get("name") for c in shape.get("coefficients", [])]
    if len(set(dims)) != len(dims):
        errs.append(f"repeated dimensions {dims}")
    for c in shape.get("coefficients", []):
        if set(c) != {"name", "default"}:
            errs.append(f"coefficient keys {sorted(c)}")
    used: set[str] = set()
    outputs = 0
    for ds in shape.get("data_spaces", []):
        if set(ds) != {"name", "projection", "read_write"}:
            errs.append(f"data space keys {sorted(ds)}")
            continue
        outputs += bool(ds["read_write"])
        if not isinstance(ds["projection"], list):
            errs.append(f"{ds['name']}: projection is not a list")
            continue
        for rank in ds["projection"]:
            if not isinstance(rank, list) or not rank:
                errs.append(f"{ds['name']}: rank {rank!r} is not a non-empty list of terms")
                continue
            for term in rank:
                if not isinstance(term, list) or len(term) not in (1, 2):
                    errs.append(f"{ds['name']}: term {term!r} is not [dim] or [dim, coefficient]")
                    continue
                if term[0] not in dims:
                    errs.append(f"{ds['name']}: dimension {term[0]!r} not declared")
                used.add(term[0])
                if len(term) == 2 and not isinstance(term[1], str):
                    # timeloop-model reads a term as [dimension name, coefficient name] (both strings)
                    errs.append(f"{ds['name']}: coefficient {term[1]!r} of {term[0]!r} is not a coefficient name")
                elif len(term) == 2 and term[1] not in coefs:
                    errs.append(f"{ds['name']}: coefficient {term[1]!r} not declared")
    if outputs != 1:
        errs.append(f"{outputs} read_write data spaces (want 1)")
    for d in dims:
        if d not in used:
            errs.append(f"dimension {d} appears in no projection")
        v = inst.get(d)
        if not isinstance(v, int) or v < 1:
            errs.append(f"instance {d} = {v!r} is not a positive integer")
    for c in coefs:
        if not isinstance(inst.get(c), int):
            errs.append(f"instance coefficient {c} = {inst.get(c)!r} is not an integer")
    extra = set(inst) - set(dims) - set(coefs) - {"densities"}
    if extra:
        errs.append(f"instance has undeclared keys {sorted(extra)}")
    return errs
