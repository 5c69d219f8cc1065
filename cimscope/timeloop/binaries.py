"""Find and run the real Timeloop binaries (``timeloop-model``, ``timeloop-mapper``) by subprocess.

Inputs are written as v0.4 YAML (architecture, problem, mapping or constraints, and ERT/ART tables made
from the levels' energies and areas, so no Accelergy run is needed); the binary runs in the output folder,
where it writes ``timeloop-model.stats.txt`` / ``.map.txt`` (or ``timeloop-mapper.*``), which
:func:`cimscope.timeloop.stats.parse_stats` reads back. ``$TIMELOOP_BIN`` may name the folder holding the
binaries; otherwise they are looked up on ``$PATH``.

What is written follows the rules of the real tools (pinned by tests/test_timeloop_files.py):

* every level's class is one real Timeloop gives the role cimscope models (:func:`cimscope.arch.builders.
  timeloop_class`: Timeloop silently drops a component whose class has none of its storage/compute substrings,
  e.g. ``cim_buffer``, and then fails with "target storage level not found");
* every string attribute value is written double-quoted (:func:`dump_yaml`): Accelergy 0.4 evaluates an
  unquoted string such as ``7nm`` or ``analog6T`` as a Python expression and stops (accelergy/parsing_utils.py
  ``parse_expression_for_arithmetic``: quoted scalars stay strings);
* without an ERT (levels with no energies), the compound components of cimscope's storage classes are written
  beside the architecture (``components.yaml``), so Accelergy prices them with the cimscope plug-in.
"""
from __future__ import annotations

import copy
import os
import shutil
import signal
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional, Union

import yaml

from cimscope import ir
from cimscope.arch.builders import REQUIRED_ACTIONS, compound_components, timeloop_class, timeloop_role
from cimscope.atomic import write_text
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
               timeout_s: Optional[float] = None, interrupt_after_s: Optional[float] = None
               ) -> subprocess.CompletedProcess:
    """Run ``name INPUT...`` in ``workdir``; EngineError (with the tail of its output) when it fails.

    ``interrupt_after_s``: send SIGINT after that many seconds (timeloop-mapper then stops its search threads
    and writes its best mapping, src/applications/mapper/main.cpp ``handler``); ``timeout_s``: kill it after
    that many seconds in all."""
    exe = require_binary(name)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = [exe] + [str(Path(p).resolve()) for p in inputs]
    try:
        proc = subprocess.Popen(cmd, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except OSError as exc:
        raise EngineError(f"{name} could not be started ({exc.strerror}): {exe}") from None
    try:
        out, err = _communicate(proc, timeout_s, interrupt_after_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise EngineError(f"{name} did not finish within {timeout_s} s (inputs in {workdir})") from None
    done = subprocess.CompletedProcess(cmd, proc.returncode, out, err)
    if proc.returncode != 0:
        tail = "\n".join((err or out or "").strip().splitlines()[-8:])
        raise EngineError(f"{name} failed with exit status {proc.returncode} (inputs in {workdir}): {tail}")
    return done


def _communicate(proc: subprocess.Popen, timeout_s: Optional[float], interrupt_after_s: Optional[float]
                 ) -> tuple[str, str]:
    if interrupt_after_s is None or (timeout_s is not None and timeout_s <= interrupt_after_s):
        return proc.communicate(timeout=timeout_s)
    try:
        return proc.communicate(timeout=interrupt_after_s)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
    rest = None if timeout_s is None else max(1.0, timeout_s - interrupt_after_s)
    return proc.communicate(timeout=rest)


class _Quoted(str):
    """A string written double-quoted."""


class AccelergyDumper(yaml.SafeDumper):
    """SafeDumper that writes :class:`_Quoted` strings double-quoted."""


AccelergyDumper.add_representer(
    _Quoted, lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style='"'))


#: Documents whose attribute strings are expressions Accelergy must evaluate (a compound class binds its
#: subcomponent's ``depth: depth``; ``must_specify``), so they are written unquoted.
EXPRESSION_DOCUMENTS = ("compound_components",)


def quote_attribute_strings(doc: Any, *, inside: bool = False) -> Any:
    """A copy of ``doc`` in which every string value under an ``attributes`` key (at any depth) is quoted, so
    Accelergy 0.4 keeps it a string instead of evaluating it; :data:`EXPRESSION_DOCUMENTS` are left as they are
    (a quoted binding would reach the plug-in as the literal string)."""
    if isinstance(doc, dict):
        return {k: (v if k in EXPRESSION_DOCUMENTS else quote_attribute_strings(v, inside=inside or k == "attributes"))
                for k, v in doc.items()}
    if isinstance(doc, list):
        return [quote_attribute_strings(v, inside=inside) for v in doc]
    if inside and isinstance(doc, str):
        return _Quoted(doc)
    return doc


def dump_yaml(doc: dict) -> str:
    """YAML text of a Timeloop/Accelergy input document, string attributes double-quoted."""
    return yaml.dump(quote_attribute_strings(doc), Dumper=AccelergyDumper, sort_keys=False, default_flow_style=None)


def timeloop_arch(arch: ir.Arch) -> ir.Arch:
    """A copy of ``arch`` whose classes real Timeloop reads with the roles cimscope models (storage levels,
    then the compute level): :func:`cimscope.arch.builders.timeloop_class`."""
    out = copy.deepcopy(arch)
    for lv in out.levels:
        lv.cls = timeloop_class(lv.cls)
    out.compute.cls = timeloop_class(out.compute.cls, compute=True)
    return out


def architecture_doc(arch: ir.Arch) -> dict:
    """The ``architecture`` (and ``architecture_constraints``) document real Timeloop reads for ``arch``."""
    from cimscope.timeloop.yaml_io import arch_constraints_to_yaml, arch_to_yaml

    tl = timeloop_arch(arch)
    doc = {"architecture": with_required_actions(arch_to_yaml(tl))}
    ac = arch_constraints_to_yaml(tl)
    if ac["targets"]:
        doc["architecture_constraints"] = ac
    return doc


def with_required_actions(tree: dict) -> dict:
    """``tree`` (an ``architecture`` value, flattened form) with each component's ``required_actions`` by its
    Timeloop role (:data:`cimscope.arch.builders.REQUIRED_ACTIONS`), as timeloopfe writes them: the actions
    Accelergy 0.4 prices for a primitive class it has no class definition for (``tensor_core_mac``)."""
    for sub in tree.get("subtree") or []:
        for comp in sub.get("local") or []:
            role = timeloop_role(str(comp.get("class", "")))
            if role in REQUIRED_ACTIONS:
                comp["required_actions"] = list(REQUIRED_ACTIONS[role])
    return tree


def timeloop_class_problems(doc: dict) -> list[str]:
    """What real Timeloop would not read as cimscope means in an ``architecture`` document (flattened
    ``subtree``/``local`` form): components it drops, a compute component that is not last. Empty: none."""
    errs = []
    subtree = (doc.get("architecture") or {}).get("subtree") or []
    if len(subtree) != 1:
        errs.append(f"{len(subtree)} top-level subtrees (Timeloop reads exactly one per level)")
    local = (subtree[0].get("local") if subtree else None) or []
    for i, comp in enumerate(local):
        want = "compute" if i == len(local) - 1 else "storage"
        role = timeloop_role(str(comp.get("class", "")))
        if role != want:
            errs.append(f"{comp.get('name')}: class {comp.get('class')!r} is {role or 'dropped'} to Timeloop, "
                        f"not {want}")
    return errs


def write_arch(workdir: Union[str, Path], arch: ir.Arch) -> list[Path]:
    """Write ``arch.yaml`` (and ``ERT.yaml``/``ART.yaml`` from the levels' energies and areas, or, when the levels
    have none, ``components.yaml`` with cimscope's compound components for Accelergy); returns the paths."""
    from cimscope.timeloop.ert import arch_to_art, arch_to_ert

    workdir = Path(workdir)
    paths = [write_text(workdir / "arch.yaml", dump_yaml(architecture_doc(arch)))]
    if any(lv.action_energy_pJ for lv in list(arch.levels) + [arch.compute]):
        paths.append(write_text(workdir / "ERT.yaml", dump_yaml(arch_to_ert(arch))))
        paths.append(write_text(workdir / "ART.yaml", dump_yaml(arch_to_art(arch))))
    else:
        paths.append(write_text(workdir / "components.yaml", dump_yaml(compound_components())))
    return paths


def write_inputs(workdir: Union[str, Path], arch: ir.Arch, problem: ir.Problem, mapping: Optional[ir.Mapping] = None,
                 constraints=None, extra: Optional[dict] = None) -> list[Path]:
    """Write the v0.4 input files timeloop-model / timeloop-mapper need; returns their paths."""
    from cimscope.timeloop.yaml_io import mapping_to_yaml, problem_to_yaml

    workdir = Path(workdir)
    arch_paths = write_arch(workdir, arch)
    paths = arch_paths[:1]
    paths.append(write_text(workdir / "problem.yaml", dump_yaml({"problem": problem_to_yaml(problem)})))
    if mapping is not None:
        paths.append(write_text(workdir / "map.yaml", dump_yaml({"mapping": mapping_to_yaml(mapping, problem)})))
    if constraints is not None and not constraints.is_empty():
        paths.append(write_text(workdir / "constraints.yaml",
                                dump_yaml({"mapspace_constraints": constraints.to_yaml()})))
    paths += arch_paths[1:]
    if extra:
        paths.append(write_text(workdir / "extra.yaml", dump_yaml(extra)))
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
