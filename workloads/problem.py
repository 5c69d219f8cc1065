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

Timeloop's limits (NVlabs/timeloop, checked when each problem is written; :func:`timeloop_limit_problems`):

* at most :data:`MAX_DATA_SPACES` = 5 data spaces (include/workload/shape-models/problem-shape.hpp
  ``MAX_DATA_SPACES``; more prints "exceeds max allowed" and breaks the run). An inference BatchNorm has six
  (input, running_mean, running_var, weight, bias, output): its four per-channel tensors are *folded* into the
  per-channel scale ``weight / sqrt(running_var + eps)`` and shift ``bias - running_mean * scale`` that
  inference applies (``y = x * scale + shift``), written as ``Inputs2`` (scale) and ``Inputs3`` (shift), so the
  problem has four data spaces (:func:`timeloop_data_spaces`). The Op itself (workload.yaml, the builtin
  engine's costs) keeps all four tensors; the problem file says in its header what was folded;
* dimension names of one letter: mapping permutations are read one character per dimension
  (src/mapping/parser.cpp ``ParseUserPermutations``) and factors as ``[A-Za-z]+=N``;
* exactly one read-write data space (the output) and every dimension used by some projection
  (:func:`validate_problem`).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from cimscope.atomic import write_text
from cimscope.errors import ExportError
from cimscope.ir import Op, Tensor, Workload

PROBLEM_VERSION = "0.4"
#: Timeloop's MAX_DATA_SPACES (include/workload/shape-models/problem-shape.hpp).
MAX_DATA_SPACES = 5
#: What an inference BatchNorm's four per-channel tensors fold into (names of the folded data spaces).
BATCHNORM_FOLD = (("Inputs2", "scale = weight / sqrt(running_var + eps)"),
                  ("Inputs3", "shift = bias - running_mean * scale"))

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


def timeloop_data_spaces(op: Op) -> tuple[list[Tensor], str]:
    """The data spaces written for ``op`` and a note on what was folded ("" when none): ``op.tensors``, or, when
    they exceed :data:`MAX_DATA_SPACES` and the op is a normalization whose read-only tensors after the first
    all share one projection (BatchNorm's running_mean, running_var, weight, bias over C), those folded into
    the scale and shift of :data:`BATCHNORM_FOLD`. ExportError when the op still exceeds the limit."""
    tensors = list(op.tensors)
    if len(tensors) <= MAX_DATA_SPACES:
        return tensors, ""
    params = [t for t in tensors[1:] if not t.read_write]
    if op.kind == "norm" and len(params) == 4 and all(t.projection == params[0].projection for t in params):
        folded = [Tensor(name, params[0].role, params[0].projection, max(t.bits for t in params))
                  for name, _ in BATCHNORM_FOLD]
        rest = [t for t in tensors if t not in params]
        out = rest[:1] + folded + rest[1:]
        note = (f"{', '.join(t.name for t in params)} (per-channel) folded into "
                + " and ".join(f"{n}: {what}" for n, what in BATCHNORM_FOLD)
                + f"; Timeloop allows {MAX_DATA_SPACES} data spaces")
        return out, note
    raise ExportError(f"operator {op.name} ({op.target}) has {len(tensors)} data spaces "
                      f"({', '.join(t.name for t in tensors)}); Timeloop allows {MAX_DATA_SPACES}")


def op_to_problem(op: Op) -> dict[str, Any]:
    """The Timeloop v0.4 problem document of one Op: ``{"problem": {"version", "shape", "instance"}}``."""
    tensors, _ = timeloop_data_spaces(op)
    shape = {
        "name": shape_name(op),
        "dimensions": [str(d) for d in op.dims],
        "coefficients": [{"name": str(c), "default": 1} for c in op.coefficients],
        "data_spaces": [
            {"name": t.name,
             "projection": [[_term(term) for term in rank] for rank in t.projection],
             "read_write": bool(t.read_write)}
            for t in tensors
        ],
    }
    instance: dict[str, Any] = {str(d): int(v) for d, v in op.dims.items()}
    for c, v in op.coefficients.items():
        instance[str(c)] = int(v)
    instance["densities"] = {}
    doc = {"problem": {"version": PROBLEM_VERSION, "shape": shape, "instance": instance}}
    errs = timeloop_limit_problems(doc)
    if errs:
        raise ExportError(f"operator {op.name} ({op.target}): its Timeloop problem is outside Timeloop's limits: "
                          + "; ".join(errs))
    return doc


def timeloop_limit_problems(doc: dict[str, Any]) -> list[str]:
    """Where a problem document exceeds real Timeloop's limits (data spaces, dimension names); empty: none."""
    shape = doc["problem"]["shape"]
    errs = []
    n = len(shape["data_spaces"])
    if n > MAX_DATA_SPACES:
        errs.append(f"{n} data spaces (max {MAX_DATA_SPACES})")
    bad = [d for d in shape["dimensions"] if not (len(d) == 1 and d.isascii() and d.isalpha())]
    if bad:
        errs.append(f"dimension names {bad} are not single letters (mapping permutations name one per letter)")
    return errs


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
    _, folded = timeloop_data_spaces(op)
    if folded:
        lines.append(f"# folded for Timeloop: {folded}")
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
        folded = timeloop_data_spaces(op)[1]
        if folded:
            index[-1]["folded_for_timeloop"] = folded
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
