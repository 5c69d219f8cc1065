#!/usr/bin/env python3
"""Run the real timeloop-model on every problem of a cimscope folder and compare with the builtin engine.

    scripts/run_timeloop_model.sh DIR [--arch ARCH.yaml | --preset NAME] [--ert ERT.yaml] [--art ART.yaml]
                                      [--objective edp|energy|delay] [--max-evaluations N]

DIR is a ``cimscope export`` folder (problems in ``DIR/problems/*.yaml``) or any folder of Timeloop v0.4
problem files. The architecture is ``--arch``, else ``DIR/arch.yaml``; when DIR has none, the preset ``--preset``
(default :data:`DEFAULT_PRESET`: the WWW tensor-core-like SM with its published ERT) is written there as
``arch.yaml`` with its ``ERT.yaml``/``ART.yaml`` (the way the timeloop engine writes it: classes real Timeloop
reads, string attributes quoted for Accelergy), so an export folder runs as it is. ``ERT.yaml``/``ART.yaml``
beside the architecture are used when present; otherwise the architecture's own energies, or cimscope's plug-in
estimates priced as ``cimscope model`` prices them (one ``priced LEVEL with COMPONENT {attributes}`` line each). Mappings are read from ``DIR/mappings/<problem>.map.yaml``; a problem without one is mapped first
with the builtin mapper (``cimscope mapper``) and its mapping saved there. For each problem, timeloop-model runs
in ``DIR/timeloop/<problem>/`` (its ``timeloop-model.stats.txt`` and ``.map.txt`` stay there) and the builtin
engine evaluates the same inputs; ``DIR/timeloop/summary.csv`` lists both energies (pJ) and cycles and their
ratio. A problem that fails (bad input, timeloop-model error) is reported and skipped; the run goes on, lists
the failures at the end and exits 1. Exit status 3 (with what to install) when timeloop-model is not on PATH,
2 for bad input (no problems, unreadable architecture).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

#: The architecture written when the folder has none.
DEFAULT_PRESET = "a100_sm"
#: Files of a folder that are not problems.
NOT_PROBLEMS = ("index.yaml", "arch.yaml", "ERT.yaml", "ART.yaml", "components.yaml", "workload.yaml")


def problem_files(folder: Path) -> list[Path]:
    import yaml
    cands = sorted((folder / "problems").glob("*.yaml")) if (folder / "problems").is_dir() else []
    cands += sorted(p for p in folder.glob("*.yaml"))
    out = []
    for p in cands:
        if p.name in NOT_PROBLEMS or p.name.endswith(".map.yaml"):
            continue
        try:
            doc = yaml.safe_load(p.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(doc, dict) and "problem" in doc:
            out.append(p)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--arch", type=Path, default=None, help="architecture YAML (default: DIR/arch.yaml)")
    ap.add_argument("--preset", default=DEFAULT_PRESET,
                    help=f"preset written as DIR/arch.yaml when DIR has none (default {DEFAULT_PRESET})")
    ap.add_argument("--ert", type=Path, default=None)
    ap.add_argument("--art", type=Path, default=None)
    ap.add_argument("--objective", default="edp", choices=("edp", "energy", "delay"))
    ap.add_argument("--max-evaluations", type=int, default=None)
    args = ap.parse_args(argv)

    from cimscope.errors import CimscopeError, EngineError
    from cimscope.timeloop.binaries import require_binary
    try:
        require_binary("timeloop-model")
    except EngineError as exc:
        print(f"run_timeloop_model: {exc}", file=sys.stderr)
        return 3
    try:
        arch, problems = _prepare(args)
    except CimscopeError as exc:
        print(f"run_timeloop_model: error: {exc}", file=sys.stderr)
        return 2
    return _run_all(args, arch, problems)


def _prepare(args):
    """(arch with energies, problem files); writes the default preset as DIR/arch.yaml when DIR has none."""
    from cimscope.arch import build_arch
    from cimscope.errors import InputError
    from cimscope.timeloop.binaries import write_arch
    from cimscope.timeloop.ert import load_art, load_ert
    from cimscope.timeloop.yaml_io import arch_from_yaml, load_yaml_files

    folder = args.folder
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder")
    problems = problem_files(folder)
    if not problems:
        raise InputError(f"{folder}: no Timeloop problem files (problems/*.yaml or *.yaml with a 'problem' key)")
    arch_path = args.arch or folder / "arch.yaml"
    if args.arch is None and not arch_path.exists():
        written = write_arch(folder, build_arch(args.preset))
        print(f"{folder} has no arch.yaml: wrote preset {args.preset} as {', '.join(p.name for p in written)} "
              f"(--arch or --preset to choose another)", file=sys.stderr)
    arch_doc = load_yaml_files([arch_path])
    if "architecture" not in arch_doc:
        raise InputError(f"{arch_path}: no 'architecture' key")
    arch = arch_from_yaml(arch_doc["architecture"], where=str(arch_path))
    ert = args.ert or (arch_path.parent / "ERT.yaml" if (arch_path.parent / "ERT.yaml").exists() else None)
    art = args.art or (arch_path.parent / "ART.yaml" if (arch_path.parent / "ART.yaml").exists() else None)
    if ert is not None:
        load_ert(ert, arch)
    if art is not None:
        load_art(art, arch)
    price_levels(arch)
    return arch, problems


def price_levels(arch) -> None:
    """Price the levels without an ERT row as ``cimscope model`` does (:func:`cimscope.arch.level_pricing.
    price_missing_levels`: each level's plug-in with the attributes Accelergy would pass), one ``priced LEVEL
    with COMPONENT {attributes}`` line each on stderr; InputError naming the levels no plug-in prices."""
    from cimscope.arch.level_pricing import known_classes, price_missing_levels
    from cimscope.errors import InputError

    priced, unpriced = price_missing_levels(arch)
    if unpriced:
        why = "; ".join(f"{u.level}: {u.reason}" for u in unpriced)
        raise InputError(f"no energy per action for {', '.join(u.level for u in unpriced)} ({why}; classes "
                         f"cimscope prices without an ERT: {', '.join(known_classes())}); pass --ert ERT.yaml")
    for p in priced:
        print(p.line(), file=sys.stderr)


def _run_one(args, arch, path: Path) -> str:
    """Run one problem through timeloop-model and the builtin engine; the CSV row."""
    from cimscope.atomic import write_yaml
    from cimscope.mappers import map_problem
    from cimscope.model import evaluate
    from cimscope.timeloop.binaries import run_model
    from cimscope.timeloop.yaml_io import load_yaml_files, mapping_from_yaml, mapping_to_yaml, problem_from_yaml

    folder = args.folder
    stem = path.name[:-len(".yaml")]
    problem = problem_from_yaml(load_yaml_files([path])["problem"], where=str(path))
    map_path = folder / "mappings" / f"{stem}.map.yaml"
    if map_path.exists():
        doc = load_yaml_files([map_path])
        mapping = mapping_from_yaml(doc.get("mapping", doc), arch, problem, where=str(map_path))
    else:
        mapping, _ = map_problem(problem, arch, objective=args.objective, max_evaluations=args.max_evaluations,
                                 progress=False)
        write_yaml(map_path, {"mapping": mapping_to_yaml(mapping, problem)})
    tl = run_model(problem, arch, mapping, out_dir=folder / "timeloop" / stem)
    bi = evaluate(problem, arch, mapping)
    print(f"{stem}: timeloop-model {tl.energy_pJ:.6g} pJ, {tl.cycles:.0f} cycles; builtin {bi.energy_pJ:.6g} pJ, "
          f"{bi.cycles:.0f} cycles", file=sys.stderr)
    return (f"{stem},{tl.energy_pJ:.6g},{bi.energy_pJ:.6g},{bi.energy_pJ / tl.energy_pJ if tl.energy_pJ else 0:.6f},"
            f"{tl.cycles:.0f},{bi.cycles:.0f},{bi.cycles / tl.cycles if tl.cycles else 0:.6f}")


def _run_all(args, arch, problems: list[Path]) -> int:
    from cimscope.atomic import write_text
    from cimscope.errors import CimscopeError

    rows = ["problem,timeloop_energy_pJ,builtin_energy_pJ,energy_ratio,timeloop_cycles,builtin_cycles,cycles_ratio"]
    failed: list[tuple[str, str]] = []
    for i, path in enumerate(problems, 1):
        print(f"[{i}/{len(problems)}] {path.name}", file=sys.stderr)
        try:
            rows.append(_run_one(args, arch, path))
        except CimscopeError as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            failed.append((path.name, first))
            print(f"{path.name}: FAILED: {first}", file=sys.stderr)
    out = write_text(args.folder / "timeloop" / "summary.csv", "\n".join(rows) + "\n")
    print(f"wrote {out}: {len(rows) - 1} of {len(problems)} problems ran", file=sys.stderr)
    if failed:
        print(f"{len(failed)} of {len(problems)} problems failed:", file=sys.stderr)
        for name, why in failed:
            print(f"  {name}: {why}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
