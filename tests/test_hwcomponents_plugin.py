"""hwcomponents adapter: found by hwcomponents' own lookup when cimscope is installed, and usable directly.

hwcomponents.get_models() lists importable top-level modules named ``hwcomponents_*`` (pkgutil.iter_modules)
and, for editable installs, only distributions whose name starts with "hwcomponents". So the discovery test
installs cimscope for real (``pip install --no-deps --target``, a regular, non-editable install) into a
temporary folder and runs hwcomponents in a subprocess with that folder on PYTHONPATH. Each hwcomponents
lookup runs in its own subprocess: get_model/get_action_cost cache wrappers that break a later get_models()
in the same process (DESIGN.md).
"""
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import hwcomponents  # noqa: E402,F401  (a required dependency: fail, never skip)

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("setup.py", "README.md", "cimscope", "plugins", "arch", "workloads", "mappers", "hwcomponents_cimscope")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A regular (non-editable) install of cimscope in a temporary site folder."""
    tmp = tmp_path_factory.mktemp("hwc")
    src, target = tmp / "src", tmp / "site"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    for name in SOURCES:
        p = ROOT / name
        if p.is_dir():
            shutil.copytree(p, src / name, ignore=ignore)
        elif p.exists():
            shutil.copy2(p, src / name)
    import importlib.util
    if importlib.util.find_spec("setuptools") is None:
        # no build backend offline: lay out the one top-level module as an install would put it in
        # site-packages (cimscope itself then comes from the current install)
        shutil.copytree(src / "hwcomponents_cimscope", target / "hwcomponents_cimscope")
        return target
    r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                        "--disable-pip-version-check", "--target", str(target), str(src)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (target / "hwcomponents_cimscope" / "__init__.py").exists()
    return target


def run_py(code: str, pythonpath: Path | None = None) -> dict:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath) + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                       env=env, cwd=str(pythonpath or ROOT), timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_hwcomponents_get_models_finds_installed_cimscope(installed):
    out = run_py("""
        import json, logging
        logging.disable(logging.CRITICAL)
        import hwcomponents as hwc
        models = hwc.get_models()
        ours = {m.__name__: m.__module__ for m in models if m.__name__.startswith("Cimscope")}
        import hwcomponents_cimscope
        print(json.dumps({"ours": ours, "file": hwcomponents_cimscope.__file__}))
    """, installed)
    assert out["file"].startswith(str(installed))
    for cls in ("CimscopeCimMacro", "CimscopeAnalogCimArray", "CimscopeDigitalCimArray", "CimscopeSramBuffer",
                "CimscopeDram", "CimscopeHbm", "CimscopeTensorCoreMac", "CimscopeSimtLane",
                "CimscopeAssociativeProcessor", "CimscopeAp1d", "CimscopeAp2d"):
        assert out["ours"].get(cls) == "hwcomponents_cimscope", cls


def test_hwcomponents_selects_and_costs_cimscope_models(installed):
    out = run_py("""
        import json, logging
        logging.disable(logging.CRITICAL)
        import hwcomponents as hwc
        mac = hwc.get_action_cost("cim_macro", {"primitive": "analog6T"}, "mac", {})
        wave = hwc.get_action_cost("cim_macro", {"primitive": "digital6T", "tech_node": 7e-9}, "mac_wave", {})
        rd = hwc.get_action_cost("sram_buffer", {"capacity_bytes": 4096, "banks": 16}, "read", {})
        area = hwc.get_area("cim_macro", {"primitive": "analog6T"})
        leak = hwc.get_leak_power("hbm", {})
        print(json.dumps({"mac": [mac.energy, mac.latency, mac.throughput], "wave": [wave.energy, wave.latency],
                          "rd": rd.energy, "area": area, "leak": leak}))
    """, installed)
    from cimscope.plugins.base import estimate
    assert out["mac"][0] == pytest.approx(0.15e-12)
    assert out["mac"][1] == pytest.approx(9e-9)
    assert out["mac"][2] == pytest.approx(256 / 9e-9)
    w = estimate("cim_macro", {"primitive": "digital6T", "technology": 7}).actions["mac_wave"]
    assert out["wave"] == pytest.approx([w.energy_pJ * 1e-12, w.latency_s])
    assert out["rd"] == pytest.approx(11.39e-12)
    assert out["area"] == pytest.approx(estimate("cim_macro", {"primitive": "analog6T"}).area_um2 * 1e-12)
    assert out["leak"] == 0.0


def test_explicit_models_work_with_an_editable_install():
    out = run_py("""
        import json, logging
        logging.disable(logging.CRITICAL)
        import hwcomponents as hwc, hwcomponents_cimscope as h
        c = hwc.get_action_cost("ap_2d", {"technology": 16}, "add", {}, models=h.MODELS)
        print(json.dumps({"add": c.energy}))
    """)
    from cimscope.plugins.base import estimate
    assert out["add"] == pytest.approx(estimate("ap_2d", {"technology": 16}).actions["add"].energy_pJ * 1e-12)


def test_model_classes_directly():
    import hwcomponents
    import hwcomponents_cimscope as h
    m = h.CimscopeSramBuffer(capacity_bytes=262144, banks=2, tech_node=45e-9)
    assert isinstance(m, hwcomponents.ComponentModel)
    assert m.read().energy == pytest.approx(124.70e-12)
    # width_bits defaults to WWW's 256-bit SRAM row: 512 bits per action are two accesses
    assert m.read(bits_per_action=512).energy == pytest.approx(2 * 124.70e-12)
    assert m.area == pytest.approx(h.CimscopeSramBuffer.cimscope_model(capacity_bytes=262144, banks=2)
                                   .estimate().area_um2 * 1e-12)
    code = h.CimscopeCimMacro.__init__.__code__
    assert code.co_varnames[1:code.co_argcount][0] == "primitive"            # required: no default
    assert 0 < h.CimscopeCimMacro.priority <= 1
    assert "mac" in h.CimscopeCimMacro.get_action_names()


def test_model_classes_validate_attributes_strictly():
    """The hwcomponents classes go through the same typed attribute check as `cimscope estimate`."""
    import math

    import hwcomponents_cimscope as h
    from cimscope.errors import InputError
    with pytest.raises(InputError, match=r"rows=8\.5 is invalid"):
        h.CimscopeAp2d(rows=8.5)
    with pytest.raises(InputError, match="write_latency_ns=inf"):
        h.CimscopeAp1d(write_latency_ns=math.inf)
    with pytest.raises(InputError, match="bandwidth_GBps=nan"):
        h.CimscopeHbm(bandwidth_GBps=math.nan)
