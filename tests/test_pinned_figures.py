"""Behaviour is kept: the figures of every placement x primitive (and the CiM options, resident weights,
a100_sm) on a small network equal the ones recorded before the evaluation layer was restructured
(``scripts/pin_figures.py --write`` on main, 2026-12-06). A difference is a behaviour change: name it."""
import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("pin_figures", ROOT / "scripts" / "pin_figures.py")
pin = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pin)
PINNED = json.loads(pin.PINNED.read_text())


@pytest.fixture(scope="module")
def workload():
    return pin.load_workload()


@pytest.fixture(autouse=True)
def _mapper_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("CIMSCOPE_CACHE", str(tmp_path_factory.getbasetemp() / "mapper-cache"))


@pytest.mark.parametrize("cfg", pin.configs(), ids=pin.label)
def test_figures_unchanged(workload, cfg):
    assert pin.same(pin.figures(workload, cfg), PINNED[pin.label(cfg)])
