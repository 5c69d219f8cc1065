"""Find and run the real Timeloop binaries (``timeloop-model``, ``timeloop-mapper``) by subprocess.

Inputs are written as v0.4 YAML (architecture, problem, mapping or constraints, and ERT/ART tables made
from the levels' energies and areas, so no Accelergy run is needed); the binary runs in the output folder,
where it writes ``timeloop-model.stats.txt`` / ``.map.txt`` (or ``timeloop-mapper.*``), which
:func:`cimscope.timeloop.stats.parse_stats` reads back. ``$TIMELOOP_BIN`` may name the folder holding the
binaries; otherwise they are looked up on ``$PATH``.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional, Union

from cimscope import ir
from cimscope.errors import EngineError

INSTALL_HINT = ("install Timeloop (https://github.com/NVlabs/timeloop; e.g. the Docker image of "
                "https://github.com/Accelergy-Project/accelergy-timeloop-infrastructure) and put its bin folder "
                "on PATH, or set TIMELOOP_BIN to that folder; or use --engine builtin")


def find_binary(name: str) -> Optional[str]:
    """Absolute path of ``name`` in ``$TIMELOOP_BIN`` or on ``$PATH``, else None."""
    tb = os.environ.get("TIMELOOP_BIN")
    if tb:
        p = Path(tb) / name
        if p.is_file() and os.access(p, os.X_OK):
            return str(p)
    return shutil.which(name)


def require_binary(name: str) -> str:
    path = find_binary(name)
    if path is None:
        raise EngineError(f"{name} not found (searched TIMELOOP_BIN={os.environ.get('TIMELOOP_BIN', '')!r} and "
                          f"PATH={os.environ.get('PATH', '')}); {INSTALL_HINT}")
    return path


def run_binary(name: str, inputs: list[Union[str, Path]], workdir: Union[str, Path], *,
               timeout_s: Optional[float] = None) -> subprocess.CompletedProcess:
    """Run ``name INPUT...`` in ``workdir``; EngineError (with the tail of its output) when it fails."""
    exe = require_binary(name)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = [exe] + [str(Path(p).resolve()) for p in inputs]
    try:
        proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise EngineError(f"{name} did not finish within {timeout_s} s (inputs in {workdir})") from None
    except OSError as exc:
        raise EngineError(f"{name} could not be started ({exc.strerror}): {exe}") from None
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout or "").strip().splitlines()[-8:])
        raise EngineError(f"{name} failed with exit status {proc.returncode} (inputs in {workdir}): {tail}")
    return proc


def write_inputs(workdir: Union[str, Path], arch: ir.Arch, problem: ir.Problem, mapping: Optional[ir.Mapping] = None,
                 constraints=None, extra: Optional[dict] = None) -> list[Path]:
    """Write the v0.4 input files timeloop-model / timeloop-mapper need; returns their paths."""
    from cimscope.atomic import write_yaml
    from cimscope.timeloop.ert import arch_to_art, arch_to_ert
    from cimscope.timeloop.yaml_io import arch_constraints_to_yaml, arch_to_yaml, mapping_to_yaml, problem_to_yaml

    workdir = Path(workdir)
    paths = []
    arch_doc = {"architecture": arch_to_yaml(arch)}
    ac = arch_constraints_to_yaml(arch)
    if ac["targets"]:
        arch_doc["architecture_constraints"] = ac
    paths.append(write_yaml(workdir / "arch.yaml", arch_doc))
    paths.append(write_yaml(workdir / "problem.yaml", {"problem": problem_to_yaml(problem)}))
    if mapping is not None:
        paths.append(write_yaml(workdir / "map.yaml", {"mapping": mapping_to_yaml(mapping, problem)}))
    if constraints is not None and not constraints.is_empty():
        paths.append(write_yaml(workdir / "constraints.yaml", {"mapspace_constraints": constraints.to_yaml()}))
    if any(lv.action_energy_pJ for lv in list(arch.levels) + [arch.compute]):
        paths.append(write_yaml(workdir / "ERT.yaml", arch_to_ert(arch)))
        paths.append(write_yaml(workdir / "ART.yaml", arch_to_art(arch)))
    if extra:
        paths.append(write_yaml(workdir / "extra.yaml", extra))
    return paths


@contextmanager
def run_folder(out_dir: Optional[Union[str, Path]], prefix: str) -> Iterator[tuple[Path, bool]]:
    """The folder a binary runs in: ``out_dir`` (kept), or a fresh temporary one, removed afterwards even when
    the run fails. Yields (folder, is_temporary)."""
    if out_dir is not None:
        yield Path(out_dir), False
        return
    tmp = tempfile.mkdtemp(prefix=prefix)
    try:
        yield Path(tmp), True
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_model(problem: ir.Problem, arch: ir.Arch, mapping: ir.Mapping, *, out_dir: Optional[Union[str, Path]] = None,
              timeout_s: Optional[float] = None) -> ir.Result:
    """Evaluate ``mapping`` with the real timeloop-model and parse its statistics."""
    from cimscope.timeloop.stats import parse_stats

    require_binary("timeloop-model")
    with run_folder(out_dir, "cimscope-timeloop-") as (folder, temporary):
        inputs = write_inputs(folder, arch, problem, mapping)
        run_binary("timeloop-model", inputs, folder, timeout_s=timeout_s)
        stats = folder / "timeloop-model.stats.txt"
        if not stats.exists():
            raise EngineError(f"timeloop-model ran but wrote no {stats.name} in {folder}")
        mp = folder / "timeloop-model.map.txt"
        r = parse_stats(stats, map_text=mp if mp.exists() else None)
    r.op_name = problem.name
    r.cycle_seconds = arch.cycle_seconds
    if not temporary:
        r.extra["timeloop_dir"] = str(folder)
    return r
