"""The ``problem:`` document (Timeloop v0.4 ``shape`` + ``instance``): read into :class:`cimscope.ir.Problem`
and written back. A projection is a list of ranks, a rank a list of terms ``[dim]`` or ``[dim, coefficient]``
(or the string forms ``P*Wstride + R``)."""
from __future__ import annotations

import re
from typing import Any, Optional

from cimscope import ir
from cimscope.errors import InputError
from cimscope.timeloop.parsing import as_int, typed_value


_TERM = re.compile(r"^\s*(?:(-?\d+|[A-Za-z_][A-Za-z0-9_]*)\s*\*\s*)?([A-Za-z_][A-Za-z0-9_]*)"
                   r"(?:\s*\*\s*(-?\d+|[A-Za-z_][A-Za-z0-9_]*))?\s*$")


def _parse_term(term: Any, dims: list[str], coefs: dict[str, int], what: str) -> ir.ProjectionTerm:
    if isinstance(term, (list, tuple)):
        parts = [str(t).strip() for t in term]
        if len(parts) == 1:
            d, c = parts[0], 1
        elif len(parts) == 2:
            a, b = parts
            if a in dims and b not in dims:
                d, c = a, b
            elif b in dims and a not in dims:
                d, c = b, a
            else:
                raise InputError(f"{what}: term {term!r} needs one dimension and one coefficient")
        else:
            raise InputError(f"{what}: term {term!r} has more than two parts")
    else:
        m = _TERM.match(str(term))
        if not m:
            raise InputError(f"{what}: cannot read projection term {term!r}")
        left, d, right = m.group(1), m.group(2), m.group(3)
        if d not in dims and left in dims:
            d, left = left, d
        c = left if left is not None else (right if right is not None else 1)
    if d not in dims:
        raise InputError(f"{what}: unknown dimension {d!r} in projection; dimensions are {', '.join(dims)}")
    if isinstance(c, str):
        if re.fullmatch(r"-?\d+", c):
            c = int(c)
        elif c not in coefs:
            raise InputError(f"{what}: unknown coefficient {c!r}; coefficients are "
                             f"{', '.join(coefs) or '(none)'}")
    return (d, c)


def _parse_projection(proj: Any, dims: list[str], coefs: dict[str, int], what: str) -> ir.Projection:
    if isinstance(proj, str):
        proj = [r for r in re.split(r"\s*,\s*", proj.strip().strip("[]")) if r]
    if not isinstance(proj, (list, tuple)) or not proj:
        raise InputError(f"{what}: projection must be a non-empty list of ranks, got {proj!r}")
    ranks: ir.Projection = []
    for rank in proj:
        if isinstance(rank, str):
            terms = [t for t in rank.split("+")]
        elif isinstance(rank, (list, tuple)) and rank and all(isinstance(t, (list, tuple)) for t in rank):
            terms = list(rank)
        elif isinstance(rank, (list, tuple)):
            terms = [list(rank)]
        else:
            terms = [str(rank)]
        ranks.append([_parse_term(t, dims, coefs, what) for t in terms])
    return ranks


def _role(name: str, read_write: bool, seen_inputs: int) -> str:
    if read_write:
        return "output"
    low = name.lower()
    if any(k in low for k in ("weight", "filter", "kernel")):
        return "weight"
    if any(k in low for k in ("input", "ifmap", "activation")):
        return "input"
    return "input" if seen_inputs == 0 else "weight"


def problem_from_yaml(spec: dict, *, where: str = "problem", bits: int = 8,
                      warnings: Optional[list[str]] = None) -> ir.Problem:
    """Build an :class:`ir.Problem` from the value of a v0.4 ``problem:`` key (``shape`` + ``instance``).

    ``instance`` keys that are neither a dimension nor a coefficient (timeloopfe leaves layer parameters such as
    ``H``, ``W``, ``Hpad`` there) are ignored as Timeloop ignores them (it looks up only the shape's dimensions
    and coefficients); they are named in ``warnings`` when a list is given."""
    if not isinstance(spec, dict):
        raise InputError(f"{where}: expected a mapping, found {type(spec).__name__}")
    shape = spec.get("shape")
    instance = spec.get("instance")
    if shape is None or instance is None:
        raise InputError(f"{where}: needs both 'shape' and 'instance'")
    if not isinstance(shape, dict) or not isinstance(instance, dict):
        raise InputError(f"{where}: 'shape' and 'instance' must be mappings")
    dims = [str(d) for d in typed_value(shape, "dimensions", list, f"{where}.shape")]
    if not dims:
        raise InputError(f"{where}.shape: 'dimensions' is empty")
    if len(set(dims)) != len(dims):
        raise InputError(f"{where}.shape: a dimension is listed twice in {dims}")
    coefs: dict[str, int] = {}
    for c in typed_value(shape, "coefficients", list, f"{where}.shape"):
        if isinstance(c, dict):
            if "name" not in c:
                raise InputError(f"{where}.shape.coefficients: an entry has no name: {c!r}")
            coefs[str(c["name"])] = as_int(c.get("default", 1), f"{where}.shape.coefficients.{c['name']}")
        else:
            coefs[str(c)] = 1
    sizes: dict[str, int] = {}
    for d in dims:
        if d not in instance:
            raise InputError(f"{where}.instance: dimension {d} has no size")
        sizes[d] = as_int(instance[d], f"{where}.instance.{d}")
        if sizes[d] < 1:
            raise InputError(f"{where}.instance: dimension {d} must be >= 1, got {sizes[d]}")
    ignored = []
    for k, v in instance.items():
        if k in coefs:
            coefs[k] = as_int(v, f"{where}.instance.{k}")
        elif k not in sizes and k != "densities":
            ignored.append(repr(k))
    if ignored and warnings is not None:
        warnings.append(f"{where}.instance: {', '.join(ignored)} {'is' if len(ignored) == 1 else 'are'} neither a "
                        f"dimension nor a coefficient; ignored, as Timeloop ignores it")
    dss = shape.get("data_spaces") or shape.get("data-spaces") or []
    if not dss or not isinstance(dss, list):
        raise InputError(f"{where}.shape: no data_spaces list")
    tensors = []
    n_in = 0
    for ds in dss:
        if not isinstance(ds, dict) or "name" not in ds:
            raise InputError(f"{where}.shape.data_spaces: each entry needs a name and a projection, found {ds!r}")
        name = str(ds.get("name"))
        if any(t.name == name for t in tensors):
            raise InputError(f"{where}.shape.data_spaces: data space {name!r} is listed twice")
        rw = bool(ds.get("read_write", ds.get("read-write", False)))
        role = _role(name, rw, n_in)
        if role != "output":
            n_in += 1
        proj = _parse_projection(ds.get("projection"), dims, coefs, f"{where}.data_spaces.{name}")
        tensors.append(ir.Tensor(name=name, role=role, projection=proj, bits=bits, read_write=rw))
    if not any(t.read_write for t in tensors):
        raise InputError(f"{where}: no data space is read_write (the output)")
    multi = any(len(r) > 1 for t in tensors for r in t.projection)
    return ir.Problem(name=str(shape.get("name", "problem")), dims=sizes, dataspaces=tensors,
                      coefficients=coefs, kind="conv" if multi else "gemm")


def problem_to_yaml(problem: ir.Problem) -> dict:
    """The value of a v0.4 ``problem:`` key for ``problem``."""
    def term(t: ir.ProjectionTerm) -> list:
        d, c = t
        return [d] if c == 1 else [d, c]
    coefs = [{"name": k, "default": 1} for k in problem.coefficients]
    shape = {
        "name": problem.name or "problem",
        "dimensions": list(problem.dims),
        "coefficients": coefs,
        "data_spaces": [{"name": t.name, "projection": [[term(x) for x in rank] for rank in t.projection],
                         **({"read_write": True} if t.read_write else {})} for t in problem.dataspaces],
    }
    instance: dict[str, Any] = {d: int(n) for d, n in problem.dims.items()}
    instance.update({k: int(v) for k, v in problem.coefficients.items()})
    return {"version": "0.4", "shape": shape, "instance": instance}
