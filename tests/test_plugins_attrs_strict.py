"""Plug-in attributes are validated strictly at the door (issue 14): finite numbers in range, integers that are
integers, booleans that are booleans; one line naming the attribute and the valid values, exit 2; the same
check behind `cimscope estimate`, the Python API and the Accelergy/hwcomponents adapters."""
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cimscope.cli import main
from cimscope.errors import InputError
from cimscope.plugins import load_all
from cimscope.plugins.base import REGISTRY, Attr, estimate
from cimscope.validation import (Bits, ExactInt, FiniteNonNegFloat, PositiveInt, StrictBool, load_yaml,
                                 read_text_utf8, validate)


@pytest.mark.parametrize("argv, words", [
    (["ap_1d", "--attr", "write_latency_ns=inf"], ["write_latency_ns", "valid: a finite number >= 0"]),
    (["ap_1d", "--attr", "write_latency_ns=.inf"], ["write_latency_ns", "finite"]),
    (["digital_cim_array", "--attr", "input_bits=true"], ["input_bits=True", "an integer in [1, 16]"]),
    (["ap_2d", "--attr", "rows=8.5"], ["rows=8.5", "valid integer", "an integer in [1, 16777216]"]),
    (["hbm", "--attr", "bandwidth_GBps=nan"], ["bandwidth_GBps", "a finite number in [0.001, 100000]"]),
    (["hbm", "--attr", "bandwidth_GBps=.nan"], ["bandwidth_GBps", "finite"]),
    (["ap_2d", "--attr", "technology=True"], ["technology=True", "[7, 180]"]),
    (["ap_2d", "--attr", "compare_energy_fJ=-1"], ["compare_energy_fJ=-1", ">= 0"]),
    (["sram_buffer", "--attr", "capacity_bytes=0"], ["capacity_bytes=0", "an integer in [1, "]),
])
def test_estimate_refuses_bad_values_in_one_line(capsys, argv, words):
    assert main(["estimate", *argv, "--json"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    for w in words:
        assert w in err


@pytest.mark.parametrize("attrs, expect", [
    ({"rows": 8}, 8), ({"rows": 8.0}, 8), ({"rows": "8"}, 8), ({"technology": "16nm"}, 16.0),
    ({"technology": 16e-9}, 16.0), ({"capacity_bytes": "1e3"}, 1000),
])
def test_exact_values_are_taken(attrs, expect):
    comp = "sram_buffer" if "capacity_bytes" in attrs else "ap_2d"
    est = estimate(comp, attrs)
    (name, value), = attrs.items()
    assert est.attributes[name] == expect and type(est.attributes[name]) is type(expect)


def test_adapters_share_the_check():
    import cimscope.plugins.accelergy_plugin as plugin
    cls = next(c for c in vars(plugin).values() if isinstance(c, type) and getattr(c, "name", None)
               and "ap_2d" in (c.name if isinstance(c.name, list) else [c.name]))
    with pytest.raises(InputError, match="rows=8.5"):
        cls(rows=8.5)
    with pytest.raises(InputError, match="write_latency_ns=inf"):
        cls(write_latency_ns=math.inf)


def _models():
    load_all()
    return sorted({m.component_name: m for m in REGISTRY.values()}.items())


def _invalid_values(spec: Attr) -> list:
    if spec.choices is not None:
        return ["no-such-choice", 1, True]
    bad = [math.nan, math.inf, -math.inf, True, "abc", [1]]
    if spec.kind is int:
        bad += [0.5 + (spec.low or 0)]
    if spec.low is not None:
        bad.append(spec.low - 1)
    if spec.high is not None:
        bad.append(spec.high * 2 + 1)
    return bad


@pytest.mark.parametrize("name, model", _models())
def test_every_attribute_refuses_every_invalid_kind(name, model):
    req = {n: s.choices[0] for n, s in model.attributes.items() if s.required and s.choices}
    for attr, spec in model.attributes.items():
        for bad in _invalid_values(spec):
            with pytest.raises(InputError) as e:
                model(**{**req, attr: bad})
            msg = str(e.value)
            assert f"attribute {attr}=" in msg and "valid: " in msg and "\n" not in msg


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([m for _, m in _models()]), st.data())
def test_valid_values_give_finite_costs(model, data):
    """Any in-range value of any attribute gives finite, non-negative energies, latencies and area (or a
    one-line InputError for a combination the model cannot build), never a traceback or a NaN."""
    req = {n: s.choices[0] for n, s in model.attributes.items() if s.required and s.choices}
    attr, spec = data.draw(st.sampled_from(sorted(model.attributes.items())))
    if spec.choices is not None:
        value = data.draw(st.sampled_from(spec.choices))
    elif spec.kind is int:
        value = data.draw(st.integers(int(spec.low or 0), int(min(spec.high or 1 << 20, 1 << 20))))
    else:
        value = data.draw(st.floats(spec.low or 0.0, spec.high or 1e6, allow_nan=False))
    try:
        est = model(**{**req, attr: value}).estimate()
    except InputError as exc:
        assert "\n" not in str(exc)
        return
    for c in est.actions.values():
        assert math.isfinite(c.energy_pJ) and c.energy_pJ >= 0
        assert math.isfinite(c.latency_s) and c.latency_s >= 0
    assert math.isfinite(est.area_um2) and est.area_um2 >= 0


def test_validation_types():
    assert validate(Bits, 8, "w") == 8
    for bad in (0, 65, True, 8.0, "8"):
        with pytest.raises(InputError, match="^w: "):
            validate(Bits, bad, "w")
    for bad in (math.nan, math.inf, -1.0, True, "1"):
        with pytest.raises(InputError):
            validate(FiniteNonNegFloat, bad, "e")
    assert validate(FiniteNonNegFloat, 2, "e") == 2.0
    assert validate(ExactInt, "12", "n") == 12 and validate(ExactInt, 12.0, "n") == 12
    for bad in (12.5, True, "12.5", "x"):
        with pytest.raises(InputError):
            validate(ExactInt, bad, "n")
    with pytest.raises(InputError):
        validate(PositiveInt, 0, "n")
    with pytest.raises(InputError, match="is invalid"):
        validate(StrictBool, "false", "read_write")


def test_read_text_utf8_and_load_yaml(tmp_path):
    f = tmp_path / "latin1.yaml"
    f.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"'.*latin1.yaml' is not UTF-8 text \(byte 0xe9 at offset 9\)"):
        read_text_utf8(f, "config")
    with pytest.raises(InputError, match="cannot be read"):
        read_text_utf8(tmp_path / "missing.yaml")
    with pytest.raises(InputError, match="is a folder"):
        read_text_utf8(tmp_path)
    g = tmp_path / "bad.yaml"
    g.write_text("a: [1, 2\n")
    with pytest.raises(InputError, match=r"is not valid YAML \(.*line \d+, column \d+\)") as e:
        load_yaml(g)
    assert "\n" not in str(e.value)
