"""The one parsing module of the Timeloop v0.4 documents: YAML loading (tolerant of timeloopfe's ``!Tag`` nodes,
libyaml when available), merging several files like timeloop-model does (top-level keys of later files are
added to, and deep-merged into, those of earlier ones), and the small readers every document shares: component
names with ``[a..b]`` ranges, numbers, factor lists (``R=3 P=16``, ``R3 P16``, ``P<=8``), permutations (innermost
loop first), keep/bypass lists and directives."""
from __future__ import annotations

import copy
import functools
import math
import re
from pathlib import Path
from typing import Annotated, Any, Optional, Union

import yaml

from cimscope.errors import InputError
from cimscope.textio import describe_range, exact_number, read_text_utf8


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):   # libyaml when PyYAML has it: ~7x faster
    """SafeLoader that turns any ``!Tag`` node into plain data, remembering the tag under ``_tag``."""


def _construct_tagged(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        data = loader.construct_mapping(node, deep=True)
        data = dict(data)
        data["_tag"] = tag_suffix
        return data
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


_Loader.add_multi_constructor("!", _construct_tagged)


def read_text(path: Union[str, Path]) -> str:
    """The text of an input file; a missing, unreadable or non-UTF-8 file is one line naming it."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        raise InputError(f"{path}: no such file")
    return read_text_utf8(path, "input")


def load_yaml(path: Union[str, Path]) -> dict:
    path = Path(path)
    text = read_text(path)
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"{path}: malformed YAML{where}: {problem}") from None
    if data is None:
        raise InputError(f"{path}: the file is empty")
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a YAML mapping at top level (keys such as architecture, problem, "
                         f"mapping), found a {type(data).__name__}")
    return data


def deep_merge(base: dict, extra: dict) -> dict:
    """Merge ``extra`` into a copy of ``base``: nested dicts merge, everything else is replaced."""
    out = dict(base)
    for key, value in extra.items():
        if key in out and isinstance(out[key], dict) and isinstance(value, dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_yaml_files(paths: list[Union[str, Path]]) -> dict:
    """Read and merge several YAML files (later files add to / override earlier ones)."""
    if not paths:
        raise InputError("no input files given")
    merged: dict = {}
    for p in paths:
        merged = deep_merge(merged, load_yaml(p))
    return merged


_RANGE = re.compile(r"^\s*([^\[\]]+?)\s*\[\s*(-?\d+)\s*(?:\.\.|:)\s*(-?\d+)\s*\]\s*$")


def parse_name(name: str, where: str = "") -> tuple[str, int]:
    """``"RegisterFile[1..16]"`` -> ("RegisterFile", 16); ``"PE[0..15]"`` -> ("PE", 16); plain -> (name, 1)."""
    m = _RANGE.match(str(name))
    if not m:
        return str(name).strip(), 1
    lo, hi = int(m.group(2)), int(m.group(3))
    if hi < lo:
        raise InputError(f"{where + ': ' if where else ''}component name {name!r}: range [{lo}..{hi}] is empty")
    return m.group(1), hi - lo + 1


@functools.lru_cache(maxsize=None)
def _number_type(integer: bool, low: Optional[float]) -> Any:
    """pydantic's TypeAdapter of the number (imported here: only a value that is not already a plain number,
    such as number text or a bad value, needs it)."""
    from pydantic import Field, TypeAdapter

    from cimscope.validation import ExactFloat, ExactInt
    base = ExactInt if integer else ExactFloat
    return TypeAdapter(base if low is None else Annotated[base, Field(ge=low)])


def _checked(value: Any, what: str, integer: bool, low: Optional[float]) -> Union[int, float]:
    # What pydantic would return without building its validator: a plain int, or for a float a finite float, in
    # range, also when written as plain number text ("8", "1e-9": exact_number, the before-validator of
    # ExactInt/ExactFloat); the fast path of `cimscope model` reads hundreds of such values. Everything else is
    # pydantic's to accept or refuse.
    plain = exact_number(value) if type(value) is str else value
    if type(plain) is int and (low is None or plain >= low):
        return plain if integer else float(plain)
    if not integer and type(plain) is float and math.isfinite(plain) and (low is None or plain >= low):
        return plain
    adapter = _number_type(integer, low)
    from pydantic import ValidationError
    try:
        return adapter.validate_python(value)
    except ValidationError:
        raise InputError(f"{what}: expected a number ({describe_range(low, None, integer=integer)}), "
                         f"got {value!r}") from None


def as_number(value: Any, what: str, *, low: Optional[float] = None) -> Union[int, float]:
    """A finite number (written as a number or as number text such as ``"1e-9"``), at least ``low`` when given;
    booleans, NaN, inf and other text are one-line InputErrors (checked by pydantic with the types of
    :mod:`cimscope.validation`). An integer written as an integer stays an int."""
    v = _checked(value, what, False, low)
    text = str(value)
    integral = isinstance(value, int) or ("." not in text and "e" not in text.lower())
    return int(v) if v.is_integer() and integral else v


def as_int(value: Any, what: str, *, low: Optional[int] = None) -> int:
    """An integer (``8``, ``8.0`` or ``"8"``; never ``8.5``, ``true``, NaN or inf), at least ``low`` when given."""
    return _checked(value, what, True, low)


def list_of_mappings(block: Any, where: str, expected: str, item: str) -> list[dict]:
    """``block`` itself when it is a list of mappings; otherwise an InputError: "``where``: ``expected``, found
    <type>" or "``where``: each ``item`` must be a mapping, found <item>"."""
    if not isinstance(block, list):
        raise InputError(f"{where}: {expected}, found {type(block).__name__}")
    for x in block:
        if not isinstance(x, dict):
            raise InputError(f"{where}: each {item} must be a mapping, found {x!r}")
    return block


def first_attr(attrs: dict, *names: str, default: Any = None) -> Any:
    for n in names:
        if n in attrs and attrs[n] is not None:
            return attrs[n]
    return default


def typed_value(node: dict, key: str, typ: type, where: str) -> Any:
    """``node[key]`` (empty when absent) checked to be a ``typ`` (dict or list), else InputError."""
    value = node.get(key)
    if value is None:
        return typ()
    if not isinstance(value, typ):
        raise InputError(f"{where}: '{key}' must be a {'mapping' if typ is dict else 'list'}, found {value!r}")
    return value


def split_dims(text: Union[str, list, None], dims: list[str], what: str) -> list[str]:
    """Split a permutation (``"RPK"``, ``"R P K"``, ``"R,P,K"`` or a list) into known dimension names."""
    if text is None:
        return []
    if isinstance(text, (list, tuple)):
        tokens = [str(t).strip() for t in text]
    else:
        s = str(text).strip()
        if re.search(r"[\s,]", s):
            tokens = [t for t in re.split(r"[\s,]+", s) if t]
        else:
            # Timeloop reads one character per dimension; fall back to longest-match for long names.
            tokens, i = [], 0
            names = sorted(dims, key=len, reverse=True)
            while i < len(s):
                for n in names:
                    if s.startswith(n, i):
                        tokens.append(n)
                        i += len(n)
                        break
                else:
                    raise InputError(f"{what}: {s[i:]!r} does not start with a dimension; dimensions are "
                                     f"{', '.join(dims)}")
    for t in tokens:
        if t not in dims:
            raise InputError(f"{what}: unknown dimension {t!r}; dimensions are {', '.join(dims)}")
    if len(set(tokens)) != len(tokens):
        raise InputError(f"{what}: a dimension appears twice in {text!r}")
    return tokens


_FACTOR = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=|=)\s*(-?\d+)(?:\s*,\s*(\d+))?")
_FACTOR_OLD = re.compile(r"([A-Za-z_]+)()\s*(\d+)()")       # Timeloop's older "R3 P16" form


def parse_factors(text: Union[str, list, dict, None], dims: list[str], what: str,
                  allow_ops: bool = False) -> dict[str, Any]:
    """Parse ``"R=3,P=16"`` / ``"R3 P16"`` / ``["R=3", "P=16"]`` / ``{R: 3}``.

    Returns dim -> int, or with ``allow_ops`` dim -> (op, int) for constraints (op is '=', '<=' or '>=').
    """
    if text is None:
        return {}
    out: dict[str, Any] = {}
    if isinstance(text, dict):
        items = [(str(k), "=", v, None) for k, v in text.items()]
    else:
        s = " ".join(str(t) for t in text) if isinstance(text, (list, tuple)) else str(text)
        s = s.split("#")[0]
        items = []
        pos = 0
        pattern = _FACTOR if re.search(r"[=<>]", s) else _FACTOR_OLD
        for m in pattern.finditer(s):
            gap = s[pos:m.start()].strip(" ,;\t\n")
            if gap:
                raise InputError(f"{what}: cannot read {gap!r} in factors {s.strip()!r}")
            items.append((m.group(1), m.group(2) or "=", m.group(3), m.group(4) or None))
            pos = m.end()
        tail = s[pos:].strip(" ,;\t\n")
        if tail:
            raise InputError(f"{what}: cannot read {tail!r} in factors {s.strip()!r}")
    for name, op, value, residual in items:
        if name not in dims:
            raise InputError(f"{what}: unknown dimension {name!r} in factors; dimensions are {', '.join(dims)}")
        v = as_int(value, f"{what}: factor {name}")
        if v < 0:
            raise InputError(f"{what}: factor {name}={v} is negative")
        if residual is not None and int(residual) != v:
            raise InputError(f"{what}: factor {name}={v},{residual} has a residual (imperfect factorization); "
                             f"cimscope's engines take perfect factorizations only")
        if op != "=" and not allow_ops:
            raise InputError(f"{what}: factor {name}{op}{v}: only '=' is allowed in a mapping")
        out[name] = (op, v) if allow_ops else v
    return out


def listify(value: Any) -> Optional[list[str]]:
    if value is None:
        return None
    if isinstance(value, str):
        return [t for t in re.split(r"[\s,]+", value.strip("[] ")) if t]
    return [str(v) for v in value]


# ---------------------------------------------------------------------------------------------------------
# Architecture
# ---------------------------------------------------------------------------------------------------------

#: Timeloop's storage and compute classes (model/topology.hpp); other classes are classified by position.


def pad_perm(perm: Union[str, list[str]], dims: list[str]) -> list[str]:
    p = split_dims(perm, dims, "permutation") if isinstance(perm, str) else list(perm)
    return p + [d for d in dims if d not in p]


def perm_str(perm: list[str], dims: list[str]) -> str:
    if all(len(d) == 1 for d in dims):
        return "".join(perm)
    return " ".join(perm)


def perm_list(perm: str, dims: list[str]) -> list[str]:
    """A LevelMapping permutation string as a list of dimensions (innermost first), padded like Timeloop."""
    return pad_perm(perm or "", dims)


def safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name) or "arch"


def yaml_scalar(v: Any) -> bool:
    return isinstance(v, (str, int, float, bool)) or v is None


def bypass_directive(target: str, keep: Optional[list[str]], bypass: Optional[list[str]]) -> Optional[dict]:
    """A v0.4 ``type: bypass`` directive (mapping or constraint) for ``target``; None when both lists are empty."""
    if not keep and not bypass:
        return None
    d: dict[str, Any] = {"target": target, "type": "bypass"}
    if keep:
        d["keep"] = list(keep)
    if bypass:
        d["bypass"] = list(bypass)
    return d
