"""Fixtures shared by several test files."""
import stat
import sys

import pytest


@pytest.fixture()
def standin_binaries(tmp_path, monkeypatch):
    """`timeloop-model` / `timeloop-mapper` on $TIMELOOP_BIN, played by cimscope's own drop-ins (`cimscope model`
    / `cimscope mapper` read the same positional v0.4 inputs and write the same files into the working folder),
    so the timeloop engine's subprocess path runs here without the real binaries."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name, sub in (("timeloop-model", "model"), ("timeloop-mapper", "mapper")):
        exe = bindir / name
        exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m cimscope {sub} "$@" --out .\n')
        exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("TIMELOOP_BIN", str(bindir))
    monkeypatch.setenv("CIMSCOPE_CACHE", str(tmp_path / "cache"))
    return bindir
