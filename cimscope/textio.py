"""Reading a user's text file and describing a valid range, with one-line errors and no pydantic import.

The parsers of Timeloop documents read hundreds of plain numbers per input and need pydantic only for a value
that is not one already (:mod:`cimscope.timeloop.parsing`), so these two helpers live apart from the typed
field types of :mod:`cimscope.validation` (which re-exports them) and ``cimscope model`` starts without
building pydantic's validators.
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Optional

from cimscope.errors import InputError

_INT_TEXT = re.compile(r"^[+-]?\d+$")
_FLOAT_TEXT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def exact_number(value: Any) -> Any:
    """Before-validator: a number written as text becomes that number (``"8"`` -> 8, ``"1e3"`` -> 1000.0,
    ``"inf"``/``"nan"`` stay text and are refused); an integral float becomes an int (8.0 -> 8, never 8.5 ->
    8). Anything else passes unchanged to the strict check."""
    if isinstance(value, str):
        s = value.strip()
        if _INT_TEXT.match(s):
            return int(s)
        if _FLOAT_TEXT.match(s):
            value = float(s)
        else:
            return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


def describe_range(low: Optional[float], high: Optional[float], *, integer: bool = False,
                   low_open: bool = False) -> str:
    """``"an integer in [1, 64]"``, ``"a finite number > 0"`` ... for error messages and ``--list``."""
    what = "an integer" if integer else "a finite number"
    lo = None if low is None else _num(low)
    hi = None if high is None else _num(high)
    if lo is not None and hi is not None:
        return f"{what} in {'(' if low_open else '['}{lo}, {hi}]"
    if lo is not None:
        return f"{what} {'>' if low_open else '>='} {lo}"
    if hi is not None:
        return f"{what} <= {hi}"
    return what


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


def read_text_utf8(path: str | Path, what: str = "file") -> str:
    """The text of a user file; a missing, unreadable or non-UTF-8 file raises one line naming it."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except IsADirectoryError:
        raise InputError(f"{what} {str(p)!r} is a folder, not a file") from None
    except OSError as exc:
        raise InputError(f"{what} {str(p)!r} cannot be read ({exc.strerror or exc})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{what} {str(p)!r} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
                         f"{exc.start}); save it as UTF-8") from None
