"""The Timeloop loader and `cimscope mapper` options checked at the door (issue 14): sizes are finite integers
(>= 1 for n_banks and the compute width), ERT energies and ART areas finite and >= 0 (never a boolean), the seed an
integer >= 0, the budget finite and > 0; each refusal is one line (exit 2), never a traceback or a number."""
import math

import pytest
import yaml

from refpaths import REFERENCE

from cimscope.cli import main
from cimscope.errors import InputError
from cimscope.timeloop.ert import art_table, ert_table
from cimscope.timeloop.parsing import as_int, as_number

KP = REFERENCE / "timeloop_cases" / "04-conv1d+oc-3levelspatial-kp"
pytestmark = pytest.mark.skipif(not KP.exists(), reason="reference Timeloop runs not available")


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, True, 8.5, "8.5", "nan", "abc", [1], None])
def test_as_int_refuses_what_is_no_integer(value):
    with pytest.raises(InputError, match=r"^x\.y: expected a number \(an integer\), got "):
        as_int(value, "x.y")


def test_numbers_written_as_text_or_integral_floats_are_read_unchanged():
    assert (as_int(8, "x"), as_int(8.0, "x"), as_int("8", "x"), as_int("1e3", "x")) == (8, 8, 8, 1000)
    assert (as_number("1e-9", "x"), as_number(3, "x"), as_number(2.5, "x")) == (1e-9, 3, 2.5)
    with pytest.raises(InputError, match=r"an integer >= 1\), got -1$"):
        as_int(-1, "x", low=1)
    with pytest.raises(InputError, match="a finite number"):
        as_number(math.inf, "x")


def _ert(energy):
    return {"ERT": {"tables": [{"name": "top.Buf[1..4]", "actions": [{"name": "read", "energy": energy}]}]}}


@pytest.mark.parametrize("energy", [-1.0, math.nan, math.inf, True, "abc", "-0.5"])
def test_ert_energy_must_be_finite_and_non_negative(energy):
    with pytest.raises(InputError, match=r"^ERT: top\.Buf\[1\.\.4\]\.read\.energy \(pJ per action\): expected a "
                                         r"number \(a finite number >= 0\), got "):
        ert_table(_ert(energy))


def test_ert_energy_as_number_text_and_art_area():
    assert ert_table(_ert("1.5")) == {"Buf": {"read": 1.5}}
    assert ert_table(_ert(0)) == {"Buf": {"read": 0.0}}
    with pytest.raises(InputError, match=r"^ART: top\.Buf\.area \(um\^2 per instance\): expected a number"):
        art_table({"ART": {"tables": [{"name": "top.Buf", "area": math.nan}]}})


def _kp(tmp_path, mutate):
    doc = yaml.safe_load((KP / "parsed-processed-input.yaml").read_text())
    mutate(doc)
    p = tmp_path / "in.yaml"
    p.write_text(yaml.safe_dump(doc))
    return [str(p), "--ert", str(KP / "timeloop-model.ERT.yaml")]


def _levels(doc):
    return doc["architecture"]["subtree"][0]["local"]


def _one_line_error(capsys, *words):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and all(w in err[0] for w in words) and "Traceback" not in err[0], err


def test_model_refuses_negative_compute_width_and_nonfinite_sizes(tmp_path, capsys):
    def width(doc):
        _levels(doc)[-1]["attributes"]["width"] = -1

    def depth(doc):
        next(c for c in _levels(doc) if c["name"].startswith("GlobalBuffer"))["attributes"]["depth"] = math.inf

    assert main(["model", *_kp(tmp_path, width)]) == 2
    _one_line_error(capsys, "compute width", "an integer >= 1", "got -1")
    assert main(["model", *_kp(tmp_path, depth)]) == 2
    _one_line_error(capsys, "GlobalBuffer.depth", "got inf")


@pytest.mark.parametrize("option,value,words", [("--seed", "-1", "an integer >= 0"),
                                                 ("--budget-s", "nan", "a finite number of seconds > 0"),
                                                 ("--budget-s", "0", "a finite number of seconds > 0"),
                                                 ("--max-evaluations", "0", "an integer >= 1")])
def test_mapper_options_checked_at_the_door(tmp_path, capsys, option, value, words):
    args = _kp(tmp_path, lambda d: d.pop("mapping"))
    assert main(["mapper", *args, "--no-cache", "--max-evaluations", "5", option, value]) == 2
    _one_line_error(capsys, option, words)
