"""setup.py declares every package folder and every data file of the checkout (no wheel build: fast).

setuptools warns "Package would be ignored" for a folder under a declared package that is not itself in
``packages`` and ships package data only for files matched by ``package_data`` globs (relative to each
package's folder). Both are computed here from the keyword arguments ``setup.py`` passes to ``setup()``.
"""
from __future__ import annotations

import runpy
from pathlib import Path

import pytest
import setuptools

ROOT = Path(__file__).resolve().parents[1]
SKIP_DIRS = {"__pycache__"}
SKIP_SUFFIXES = {".py", ".pyc", ".pyo"}


@pytest.fixture(scope="module")
def setup_kwargs() -> dict:
    captured: dict = {}
    mp = pytest.MonkeyPatch()
    mp.setattr(setuptools, "setup", lambda **kw: captured.update(kw))
    mp.chdir(ROOT)
    try:
        runpy.run_path(str(ROOT / "setup.py"), run_name="__main__")
    finally:
        mp.undo()
    assert captured, "setup.py did not call setuptools.setup"
    return captured


def package_folder(package: str, package_dir: dict[str, str]) -> Path:
    """The source folder of ``package`` under setuptools' package_dir rules (longest mapped prefix)."""
    parts = package.split(".")
    for i in range(len(parts), 0, -1):
        prefix = ".".join(parts[:i])
        if prefix in package_dir:
            return ROOT / package_dir[prefix] / Path(*parts[i:])
    return ROOT / package_dir.get("", "") / Path(*parts)


def source_dirs(kw: dict) -> list[Path]:
    """Every folder (with files) under the declared top-level packages' folders."""
    tops = {p for p in kw["packages"] if "." not in p} | set(kw.get("package_dir", {}))
    roots = {package_folder(p, kw.get("package_dir", {})) for p in tops if p}
    out = []
    for root in roots:
        for d in [root, *root.rglob("*")]:
            rel = d.relative_to(ROOT).parts
            if d.is_dir() and not SKIP_DIRS & set(rel) and not any(p.startswith(".") for p in rel) \
                    and any(f.is_file() for f in d.iterdir()):
                out.append(d)
    return sorted(set(out))


def shipped_data(kw: dict) -> set[Path]:
    """The data files setuptools copies: each package's package_data globs, relative to its folder."""
    pdir, pdata = kw.get("package_dir", {}), kw.get("package_data", {})
    files: set[Path] = set()
    for pkg in kw["packages"]:
        folder = package_folder(pkg, pdir)
        for pattern in [*pdata.get("", []), *pdata.get(pkg, [])]:
            files |= {f for f in folder.glob(pattern) if f.is_file()}
    return files


def test_every_folder_is_a_declared_package(setup_kwargs):
    """No folder holding files is left out of ``packages`` (setuptools' "Package would be ignored")."""
    declared = {package_folder(p, setup_kwargs.get("package_dir", {})) for p in setup_kwargs["packages"]}
    missing = [str(d.relative_to(ROOT)) for d in source_dirs(setup_kwargs) if d not in declared]
    assert not missing, f"folders not in setup.py's packages: {missing}"


def test_every_data_file_is_shipped(setup_kwargs):
    on_disk = {f for d in source_dirs(setup_kwargs) for f in d.iterdir()
               if f.is_file() and f.suffix not in SKIP_SUFFIXES and not f.name.startswith(".")}
    assert on_disk, "no data files found: the walk over the package folders is broken"
    missing = sorted(str(f.relative_to(ROOT)) for f in on_disk - shipped_data(setup_kwargs))
    assert not missing, f"data files not matched by setup.py's package_data: {missing}"


def test_known_data_files_are_covered(setup_kwargs):
    """Files the code loads at run time (presets, macro data, taxonomy) are among the shipped ones."""
    shipped = {str(f.relative_to(ROOT)) for f in shipped_data(setup_kwargs)}
    for rel in ("arch/presets/a100_like.yaml", "plugins/data/cim_macros.yaml",
                "workloads/data/nongemm_taxonomy.yaml", "plugins/cimscope.estimator.yaml"):
        assert rel in shipped
