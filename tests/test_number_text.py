"""The Timeloop loader converts plain numbers and number text itself (no pydantic on `cimscope model`'s path);
what it returns or refuses must be what the pydantic types of cimscope.validation return or refuse."""
import math
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from cimscope.errors import InputError
from cimscope.timeloop.parsing import as_int, as_number
from cimscope.validation import ExactFloat, ExactInt

CASE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "timeloop_cases" / "04-conv1d+oc-3levelspatial-kp"

number_text = st.one_of(
    st.integers(-10**20, 10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda x: f"{x:e}"),
    st.from_regex(r"\A\s?[+-]?(\d{0,4}\.?\d{0,4})([eE][+-]?\d{1,3})?\s?\Z"),
    st.text(max_size=6),
)


def pydantic_says(tp, value):
    try:
        return ("ok", TypeAdapter(tp).validate_python(value))
    except ValidationError:
        return ("refused", None)


def loader_says(fn, value):
    try:
        return ("ok", fn(value, "x"))
    except InputError:
        return ("refused", None)


def same(a, b):
    if a[0] != b[0]:
        return False
    if a[0] == "refused":
        return True
    return type(a[1]) is type(b[1]) and (a[1] == b[1] or (math.isnan(a[1]) and math.isnan(b[1])))


@settings(max_examples=400, deadline=None, derandomize=True)
@given(number_text)
def test_integer_text_read_as_pydantic_reads_it(text):
    assert same(loader_says(as_int, text), pydantic_says(ExactInt, text))


@settings(max_examples=400, deadline=None, derandomize=True)
@given(number_text)
def test_number_text_read_as_pydantic_reads_it(text):
    expected = pydantic_says(ExactFloat, text)
    got = loader_says(as_number, text)
    assert got[0] == expected[0]
    if got[0] == "ok":
        assert got[1] == expected[1]        # as_number keeps an integer written as an integer: value equal


@pytest.mark.skipif(not CASE.is_dir(), reason="shared reference cases not beside the checkout")
def test_model_on_a_reference_case_imports_no_pydantic():
    code = ("import sys, io, contextlib\nfrom cimscope.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    rc = main(['model', {str(CASE / 'parsed-processed-input.yaml')!r}, '--ert', "
            f"{str(CASE / 'timeloop-model.ERT.yaml')!r}, '--json'])\n"
            "print(rc, any(m.startswith('pydantic') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["0", "False"], out.stderr
