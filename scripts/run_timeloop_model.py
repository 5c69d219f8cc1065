#!/usr/bin/env python3
"""Run the real timeloop-model on every problem of a cimscope folder and compare with the builtin engine.

    scripts/run_timeloop_model.sh DIR [--arch ARCH.yaml] [--ert ERT.yaml] [--art ART.yaml]
                                      [--objective edp|energy|delay] [--max-evaluations N]

DIR is a ``cimscope export`` folder (problems in ``DIR/problems/*.yaml``) or any folder of Timeloop v0.4
problem files. The architecture is ``--arch`` or ``DIR/arch.yaml`` (with ``ERT.yaml``/``ART.yaml`` beside it
used when present; otherwise the architecture's own energies, or cimscope's plug-in estimates). Mappings are
read from ``DIR/mappings/<problem>.map.yaml``; a problem without one is mapped first with the builtin mapper
(``cimscope mapper``) and its mapping saved there. For each problem, timeloop-model runs in
``DIR/timeloop/<problem>/`` (its ``timeloop-model.stats.txt`` and ``.map.txt`` stay there) and the builtin
engine evaluates the same inputs; ``DIR/timeloop/summary.csv`` lists both energies (pJ) and cycles and their
ratio. Exit status 3 (with what to install) when timeloop-model is not on PATH.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def problem_files(folder: Path) -> list[Path]:
    import yaml
    cands = sorted((folder / "problems").glob("*.yaml")) if (folder / "problems").is_dir() else []
    cands += sorted(p for p in folder.glob("*.yaml"))
    out = []
    for p in cands:
        if p.name in ("index.yaml", "arch.yaml", "ERT.yaml", "ART.yaml") or p.name.endswith(".map.yaml"):
            continue
        try:
            doc = yaml.safe_load(p.read_text(encoding="utf-8"))
        except Exception:
            continue
        if isinstance(doc, dict) and "problem" in doc:
            out.append(p)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--arch", type=Path, default=None)
    ap.add_argument("--ert", type=Path, default=None)
    ap.add_argument("--art", type=Path, default=None)
    ap.add_argument("--objective", default="edp")
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
        return _run(args)
    except CimscopeError as exc:
        print(f"run_timeloop_model: error: {exc}", file=sys.stderr)
        return 2


def _run(args) -> int:
    from tqdm import tqdm

    from cimscope.atomic import write_text, write_yaml
    from cimscope.engine import fill_missing_energies, missing_energy_levels
    from cimscope.errors import InputError
    from cimscope.mappers import map_problem
    from cimscope.model import evaluate
    from cimscope.timeloop.binaries import run_model
    from cimscope.timeloop.ert import load_art, load_ert
    from cimscope.timeloop.yaml_io import (_load_one, arch_from_yaml, mapping_from_yaml, mapping_to_yaml,
                                           problem_from_yaml)

    folder = args.folder
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder")
    arch_path = args.arch or folder / "arch.yaml"
    if not arch_path.exists():
        raise InputError(f"{arch_path}: no architecture; pass --arch ARCH.yaml or put arch.yaml in {folder}")
    arch_doc = _load_one(arch_path)
    if "architecture" not in arch_doc:
        raise InputError(f"{arch_path}: no 'architecture' key")
    arch = arch_from_yaml(arch_doc["architecture"], where=str(arch_path))
    ert = args.ert or (arch_path.parent / "ERT.yaml" if (arch_path.parent / "ERT.yaml").exists() else None)
    art = args.art or (arch_path.parent / "ART.yaml" if (arch_path.parent / "ART.yaml").exists() else None)
    if ert is not None:
        load_ert(ert, arch)
    if art is not None:
        load_art(art, arch)
    fill_missing_energies(arch)
    missing = missing_energy_levels(arch)
    if missing:
        raise InputError(f"no energy per action for {', '.join(missing)}; pass --ert ERT.yaml")
    problems = problem_files(folder)
    if not problems:
        raise InputError(f"{folder}: no Timeloop problem files (problems/*.yaml or *.yaml with a 'problem' key)")
    rows = ["problem,timeloop_energy_pJ,builtin_energy_pJ,energy_ratio,timeloop_cycles,builtin_cycles,cycles_ratio"]
    for p in tqdm(problems, desc="timeloop-model", unit="problem", file=sys.stderr):
        stem = p.name[:-len(".yaml")]
        problem = problem_from_yaml(_load_one(p)["problem"], where=str(p))
        map_path = folder / "mappings" / f"{stem}.map.yaml"
        if map_path.exists():
            doc = _load_one(map_path)
            mapping = mapping_from_yaml(doc.get("mapping", doc), arch, problem, where=str(map_path))
        else:
            mapping, _ = map_problem(problem, arch, objective=args.objective, max_evaluations=args.max_evaluations,
                                     progress=False)
            write_yaml(map_path, {"mapping": mapping_to_yaml(mapping, problem)})
        tl = run_model(problem, arch, mapping, out_dir=folder / "timeloop" / stem)
        bi = evaluate(problem, arch, mapping)
        rows.append(f"{stem},{tl.energy_pJ:.6g},{bi.energy_pJ:.6g},{bi.energy_pJ / tl.energy_pJ if tl.energy_pJ else 0:.6f},"
                    f"{tl.cycles:.0f},{bi.cycles:.0f},{bi.cycles / tl.cycles if tl.cycles else 0:.6f}")
        print(f"{stem}: timeloop-model {tl.energy_pJ:.6g} pJ, {tl.cycles:.0f} cycles; builtin {bi.energy_pJ:.6g} pJ, "
              f"{bi.cycles:.0f} cycles", file=sys.stderr)
    out = write_text(folder / "timeloop" / "summary.csv", "\n".join(rows) + "\n")
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
