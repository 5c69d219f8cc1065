"""Typed field types for input validated at the door (pydantic v2, strict), and one-line errors.

Every door (plug-in attributes, precision/bitfluid configs, option values, YAML documents) declares its
fields with these types so the rules are written once:

* numbers are finite (no NaN, no inf) and in range: :data:`FiniteFloat`, :data:`FiniteNonNegFloat`,
  :data:`FinitePositiveFloat`, :data:`Percent`;
* integers are integers (``8.5`` and ``true`` are refused, never truncated or read as 1): :data:`PositiveInt`,
  :data:`NonNegInt`, :data:`Bits` (1-64);
* booleans are booleans (``'false'``, ``0`` or ``1`` are refused): :data:`StrictBool`;
* :data:`ExactInt` / :data:`ExactFloat` also take a number written as text (``"8"``, ``"1e3"``: how values
  arrive from ``--attr k=v`` or an Accelergy attribute) and an integral float for an integer (``8.0``),
  because no value changes; everything else is refused as above.

:func:`validate` checks a value against a type and raises :class:`cimscope.errors.InputError` with one line
naming where, what was given and what is valid; :func:`one_line` does the same for a pydantic
``ValidationError`` of a model. :func:`read_text_utf8` and :func:`load_yaml` read user files with the same
one-line errors (a non-UTF-8 file, a YAML syntax error, an unreadable path).
"""
from __future__ import annotations

import functools
import math
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Optional

import yaml
from pydantic import BeforeValidator, Field, Strict, TypeAdapter, ValidationError
from pydantic import StrictBool as _PydanticStrictBool

from cimscope.errors import InputError, UnknownNameError
from cimscope.textio import describe_range, exact_number, read_text_utf8

#: A real number, finite (NaN and +-inf are refused); ints are taken as floats, booleans and text are not.
FiniteFloat = Annotated[float, Strict(), Field(allow_inf_nan=False)]
FiniteNonNegFloat = Annotated[float, Strict(), Field(allow_inf_nan=False, ge=0)]
FinitePositiveFloat = Annotated[float, Strict(), Field(allow_inf_nan=False, gt=0)]
Percent = Annotated[float, Strict(), Field(allow_inf_nan=False, ge=0, le=100)]
PositiveInt = Annotated[int, Strict(), Field(ge=1)]
NonNegInt = Annotated[int, Strict(), Field(ge=0)]
#: A bit width: an integer in 1..64.
Bits = Annotated[int, Strict(), Field(ge=1, le=64)]
StrictBool = _PydanticStrictBool

#: Input-shape limits of every command that builds a model (evaluate, compare, export, bitfluid, profile):
#: one source, refused before any export. Batch up to 1024 and images of 8-1024 px bound the memory of an
#: export; 131072 tokens (128 Ki) is the longest published context window of the common open LLMs (Llama 3.1,
#: 128K tokens) and refuses runaway values only (each model's own position limit is applied when it is built).
BATCH_RANGE: tuple[int, int] = (1, 1024)
IMAGE_SIZE_RANGE: tuple[int, int] = (8, 1024)
SEQ_LEN_RANGE: tuple[int, int] = (1, 131072)
#: Seconds the code of a ``file.py:factory`` model (load, factory call, capture) may run by default before it is
#: stopped (``--timeout``; cimscope.workloads.contain): generous, the largest named models export in about a
#: minute on a laptop CPU, so it stops only code that never returns.
FACTORY_TIMEOUT_S: float = 600.0

def _float_from_text(value: Any) -> Any:
    v = exact_number(value)
    return float(v) if isinstance(v, int) and not isinstance(v, bool) else v


def _integral(value: Any) -> Any:
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


#: An integer, or an integral float (8.0 -> 8); text, booleans, 8.5 and NaN are refused.
IntegralInt = Annotated[int, BeforeValidator(_integral), Strict()]
#: An integer given as an int, an integral float or integer text; booleans, 8.5 and "x" are refused.
ExactInt = Annotated[int, BeforeValidator(exact_number), Strict()]
#: A finite float given as a number or number text; booleans, NaN, inf and "x" are refused.
ExactFloat = Annotated[float, BeforeValidator(_float_from_text), Strict(), Field(allow_inf_nan=False)]


def _first_error(exc: ValidationError) -> tuple[str, str, Any]:
    err = exc.errors(include_url=False)[0]
    loc = ".".join(str(x) for x in err.get("loc", ()) if x != "__root__")
    return loc, err.get("msg", "invalid value"), err.get("input")


def _keys_at(model: Any, loc: tuple) -> list[str]:
    """Field names of the pydantic model reached by following ``loc`` from ``model`` (for 'unknown key')."""
    tp = model
    for part in loc:
        fields = getattr(tp, "model_fields", None)
        if fields is not None:
            if part not in fields:
                break
            tp = fields[part].annotation
        else:
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            tp = args[-1] if args else tp
        while typing.get_origin(tp) is typing.Union or typing.get_origin(tp) is types.UnionType \
                or typing.get_origin(tp) is typing.Annotated:
            tp = [a for a in typing.get_args(tp) if a is not type(None)][0]
        if getattr(tp, "model_fields", None) is None and typing.get_origin(tp) in (dict, list):
            args = typing.get_args(tp)
            tp = args[-1] if args else tp
    return list(getattr(tp, "model_fields", {}) or [])


def one_line(exc: ValidationError, where: str, valid: "str | dict[str, str]" = "") -> InputError:
    """An InputError of one line for a pydantic ValidationError: where, the field, the value given, pydantic's
    reason and (optionally) the valid values; further errors are counted, not listed. An unknown key of a
    model is named with the model's valid keys. ``valid``: the valid values in words, or a dict from field
    name (the last key of the error's location) to them."""
    err = exc.errors(include_url=False)[0]
    if isinstance(valid, dict):
        names = [str(x) for x in err.get("loc", ()) if isinstance(x, str)]
        valid = valid.get(names[-1], "") if names else ""
    loc, msg, given = _first_error(exc)
    more = exc.error_count() - 1
    if err.get("type") == "extra_forbidden" and exc.title:
        keys = _keys_at(_MODELS.get(exc.title), tuple(err["loc"][:-1])) if exc.title in _MODELS else []
        text = f"{where}: unknown key {loc!r}" + (f"; valid keys: {', '.join(keys)}" if keys else "")
        return InputError(text + (f" (and {more} more error{'s' if more > 1 else ''})" if more else ""))
    text = f"{where}{': ' + loc if loc else ''}: {_short(given)} is invalid ({msg[:1].lower() + msg[1:]})"
    if valid:
        text += f"; valid: {valid}"
    if more:
        text += f" (and {more} more error{'s' if more > 1 else ''})"
    return InputError(text.replace("\n", " "))


def _short(value: Any, limit: int = 60) -> str:
    r = repr(value)
    return r if len(r) <= limit else r[:limit - 3] + "..."


#: pydantic models by class name, for naming valid keys (filled by :func:`parse`).
_MODELS: dict[str, Any] = {}


def parse(model: Any, data: Any, where: str, valid: "str | dict[str, str]" = "") -> Any:
    """``model.model_validate(data)``; one-line InputError naming ``where``, the offending key and (from
    ``valid``, see :func:`one_line`) the valid values otherwise."""
    _MODELS[model.__name__] = model
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise one_line(exc, where, valid) from None


@functools.lru_cache(maxsize=256)
def _adapter(tp: Any) -> TypeAdapter:
    return TypeAdapter(tp)


def validate(tp: Any, value: Any, where: str, valid: str = "") -> Any:
    """``value`` checked (strictly) against ``tp``; InputError of one line naming ``where`` otherwise."""
    try:
        return _adapter(tp).validate_python(value)
    except ValidationError as exc:
        raise one_line(exc, where, valid) from None


def in_range(value: Any, where: str, low: int, high: Optional[int] = None, unit: str = "") -> int:
    """``value`` checked to be an integer (strictly: no bool, no float) in ``[low, high]``; one-line
    InputError naming ``where`` and the valid range (``unit`` appended, e.g. ``" (pixels)"``) otherwise."""
    tp = Annotated[int, Strict(), Field(ge=low, le=high)]
    return validate(tp, value, where, describe_range(low, high, integer=True) + unit)


def load_yaml(path: str | Path, what: str = "YAML file") -> Any:
    """A user YAML file parsed with ``yaml.safe_load``; one-line InputError for unreadable, non-UTF-8 or
    malformed YAML (the first line of the parser's message, with its line and column)."""
    text = read_text_utf8(path, what)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"{what} {str(Path(path))!r} is not valid YAML ({problem}{at})") from None


def named_number(what: str, key: str, value: Any, names: Any) -> float:
    """``value`` of the named setting ``key`` (an override) as a float: an UnknownNameError listing ``names``
    for an unknown key, a one-line InputError for a value that is not a number. Ranges stay with the caller."""
    if key not in names:
        raise UnknownNameError(what, key, names)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InputError(f"{what} {key}={value!r} is not a number") from None
