"""``cimscope mapper``: drop-in for timeloop-mapper.

    cimscope mapper INPUT.yaml [INPUT.yaml ...] [--objective edp|energy|delay] [--budget-s S]
                    [--max-evaluations N] [--seed S] [--out DIR] [--json] [--engine builtin|timeloop]
                    [--ert ERT.yaml] [--art ART.yaml] [--no-cache] [--jinja KEY=VALUE ...]

Reads architecture, problem and (optional) mapspace constraints (v0.4 inputs, or the timeloopfe source files
they are made from, processed as timeloopfe does for timeloop-mapper, the container constraints included),
searches for the best mapping, prints a summary, and with ``--out`` writes ``timeloop-mapper.map.yaml`` (v0.4
mapping), ``timeloop-mapper.stats.txt`` and ``timeloop-mapper.map.txt`` there (from source files also
``parsed-processed-input.yaml``, as timeloopfe does: ``cimscope model OUT/parsed-processed-input.yaml
OUT/timeloop-mapper.map.yaml`` evaluates the map again).
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("mapper")
    def mapper_cmd(
        inputs: List[Path] = typer.Argument(
            ..., help="Timeloop v0.4 YAML inputs (architecture, problem, constraints) or the timeloopfe source files "
                      "(Jinja2 top files, nodes trees)"),
        objective: str = typer.Option("edp", "--objective", help="edp, energy or delay"),
        budget_s: Optional[float] = typer.Option(
            None, "--budget-s", help="search budget in seconds, counted as evaluations at a fixed nominal rate "
                                     "(2,000 mappings/s): the same budget and seed give the same mapping on any load"),
        max_evaluations: Optional[int] = typer.Option(None, "--max-evaluations", help="evaluation budget"),
        seed: int = typer.Option(0, "--seed", help="random seed (same seed, same answer under an evaluation budget)"),
        out: Optional[Path] = typer.Option(None, "--out", help="folder for timeloop-mapper.map.yaml/.stats.txt"),
        json_out: bool = typer.Option(False, "--json", help="print one JSON document on stdout"),
        engine: str = typer.Option("builtin", "--engine", help="builtin or timeloop (the real timeloop-mapper)"),
        ert: Optional[Path] = typer.Option(None, "--ert", help="Accelergy ERT YAML (energy per action)"),
        art: Optional[Path] = typer.Option(None, "--art", help="Accelergy ART YAML (area per component)"),
        no_cache: bool = typer.Option(False, "--no-cache", help="do not read or write the mapping cache"),
        jinja: List[str] = typer.Option([], "--jinja", metavar="KEY=VALUE",
                                        help="data for timeloopfe Jinja2 source files (VALUE read as YAML); "
                                             "repeatable"),
    ) -> None:
        """Find the best mapping like timeloop-mapper and write it as v0.4 YAML with its statistics."""
        import sys

        from cimscope.cli._common import print_json
        from cimscope.cli.model import jinja_data, prepare_energies, result_json, summary_text, write_outputs
        from cimscope.engine import get_engine
        from cimscope.errors import InputError
        from cimscope.mappers.search import OBJECTIVES
        from cimscope.timeloop.inputs import read_inputs
        from cimscope.timeloop.mapping import mapping_to_yaml
        from cimscope.validation import FinitePositiveFloat, NonNegInt, PositiveInt, validate

        if objective not in OBJECTIVES:
            raise InputError(f"unknown objective {objective!r}; objectives are {', '.join(OBJECTIVES)}")
        # Checked at the door, for every engine (the timeloop engine never reaches cimscope's search).
        validate(NonNegInt, seed, "--seed", "an integer >= 0")
        if budget_s is not None:
            validate(FinitePositiveFloat, budget_s, "--budget-s", "a finite number of seconds > 0")
        if max_evaluations is not None:
            validate(PositiveInt, max_evaluations, "--max-evaluations", "an integer >= 1")
        ti = read_inputs(inputs, jinja_data(jinja), for_model=False, ert=ert, art=art,
                         check_mapping_constraints=False)
        filled = prepare_energies(ti, objective == "delay", what="mapper")
        if engine == "builtin":
            eng = get_engine("builtin", progress=True, cache=not no_cache)
        else:
            eng = get_engine(engine)
        cons = ti.constraints if not ti.constraints.is_empty() else None
        mapping, r = eng.map(ti.problem, ti.arch, objective=objective, budget_s=budget_s,
                             max_evaluations=max_evaluations, seed=seed, constraints=cons)
        r.extra["warnings"] = list(ti.warnings) + list(r.extra.get("warnings", []))
        files = write_outputs(out, "timeloop-mapper", r, ti.arch, ti.problem, mapping,
                              ti.raw if ti.from_sources else None) if out else []
        if json_out:
            print_json(result_json(r, ti.arch, ti.problem, objective=objective,
                                   mapping=mapping_to_yaml(mapping, ti.problem), mapper=r.extra.get("mapper", {}),
                                   energy_sources=filled, files=files))
        else:
            print(summary_text(r, ti.problem, ti.arch), file=sys.stderr)
            m = r.extra.get("mapper", {})
            if m:
                budget = m.get("budget_evaluations")
                print(f"  mapper: {m.get('evaluations', '-')} mappings evaluated"
                      + (f" of a budget of {budget}" if budget else "") + f" in {m.get('seconds', 0):.3g} s"
                      + (" (cached)" if m.get("cached") else "")
                      + ("; the mapspace is exhausted (every candidate the search can reach was evaluated)"
                         if m.get("exhausted") else ""), file=sys.stderr)
            for f in files:
                print(f"wrote {f}", file=sys.stderr)
