"""``cimscope model``: drop-in for timeloop-model.

    cimscope model INPUT.yaml [INPUT.yaml ...] [--ert ERT.yaml] [--art ART.yaml] [--out DIR] [--json]
                   [--engine builtin|timeloop] [--counts-only] [--jinja KEY=VALUE ...]

Reads the same v0.4 inputs as timeloop-model (merged; flattened ``parsed-processed-input.yaml`` or
hierarchical) or the timeloopfe source files they are made from (Jinja2 top files, ``nodes:`` trees with
constraints, ``variables``: processed as timeloopfe does for timeloop-model, ``--jinja`` giving the templates'
data), evaluates the mapping, prints a summary, and with ``--out`` writes
``timeloop-model.stats.txt``, ``timeloop-model.map.txt`` and ``timeloop-model.map.yaml`` there (atomic; from
source files also ``parsed-processed-input.yaml``, as timeloopfe does).
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Optional


def result_json(r, arch=None, problem=None, **more: Any) -> dict:
    """The JSON document of ``--json``: energy_pJ, cycles, computes, utilization, energy_pJ_per_level,
    accesses (per level and data space: reads, fills, updates as totals over instances; tile_words)."""
    doc: dict[str, Any] = {
        "engine": r.engine,
        "problem": problem.name if problem is not None else r.op_name,
        "arch": arch.name if arch is not None else None,
        "energy_pJ": r.energy_pJ,
        "cycles": r.cycles,
        "computes": r.computes,
        "utilization": r.utilization,
        "latency_s": r.latency_s,
        "edp_Js": r.edp_Js,
        "energy_pJ_per_level": r.energy_pJ_per_level,
        "accesses": {lv: {ds: {"reads": a.reads, "fills": a.fills, "updates": a.updates,
                               "tile_words": a.tile_words} for ds, a in per.items()}
                     for lv, per in r.accesses.items()},
    }
    if "energy_by_action_pJ" in r.extra:
        doc["energy_by_action_pJ"] = r.extra["energy_by_action_pJ"]
    doc["warnings"] = list(r.extra.get("warnings", []))
    doc.update(more)
    return doc


def summary_text(r, problem, arch) -> str:
    lines = [f"{problem.name} on {arch.name} ({r.engine} engine)",
             f"  energy      {r.energy_pJ:.6g} pJ  ({r.energy_pJ / max(r.computes, 1):.4g} pJ/compute)",
             f"  cycles      {r.cycles:.0f} cycles  ({r.latency_s:.4g} s at {r.cycle_seconds:.3g} s/cycle)",
             f"  computes    {r.computes:.0f} computes (MACs / element operations)",
             f"  utilization {100 * r.utilization:.2f} %",
             f"  EDP         {r.edp_Js:.4g} J*s",
             "  energy per level:"]
    for lv, e in r.energy_pJ_per_level.items():
        lines.append(f"    {lv:<20s} {e:14.6g} pJ")
    lines.append("  accesses (words, totals over instances): level / data space: reads fills updates")
    for lv, per in r.accesses.items():
        for ds, a in per.items():
            lines.append(f"    {lv:<20s} {ds:<10s} {a.reads:12.0f} {a.fills:12.0f} {a.updates:12.0f}")
    for w in r.extra.get("warnings", []):
        lines.append(f"  warning: {w}")
    return "\n".join(lines)


def price_energies(ti, counts_only: bool, *, what: str = "model") -> list:
    """Price the levels without energies with cimscope's plug-ins (:mod:`cimscope.arch.level_pricing`, the
    attributes Accelergy would pass) and return their :class:`LevelPricing` records (``cimscope model``
    prints them once the evaluation succeeded, so an error stays one line). A level no plug-in prices is refused (no silent zeros), naming
    its class and the classes cimscope prices, unless ``--counts-only``."""
    if all(lv.action_energy_pJ or getattr(lv, "is_dummy", False) for lv in [*ti.arch.levels, ti.arch.compute]):
        return []                      # every level has energies (e.g. from --ert): no plug-in to load
    from cimscope.arch.level_pricing import known_classes, price_missing_levels
    from cimscope.errors import InputError
    priced, unpriced = price_missing_levels(ti.arch)
    if unpriced and not counts_only:
        why = "; ".join(f"{u.level}: {u.reason}" for u in unpriced)
        raise InputError(f"no energy per action for {', '.join(u.level for u in unpriced)} ({why}; classes "
                         f"cimscope prices without an ERT: {', '.join(known_classes())}); pass --ert ERT.yaml (an "
                         f"Accelergy v0.4 ERT, e.g. timeloop-model.ERT.yaml)"
                         + (" or --counts-only to report access counts with those energies at 0 pJ"
                            if what == "model" else ""))
    return priced


def prepare_energies(ti, counts_only: bool, *, what: str = "model") -> dict[str, str]:
    """:func:`price_energies` as level -> source (the ``energy_sources`` of ``--json``)."""
    return {p.level: p.source for p in price_energies(ti, counts_only, what=what)}


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are cimscope's one-line InputError (exit 2), never a SystemExit inside."""

    def error(self, message: str) -> None:  # type: ignore[override]
        from cimscope.errors import InputError
        usage = " ".join(self.format_usage().split()[1:])
        raise InputError(f"cimscope model: {message}; usage: {usage}")


def parser() -> argparse.ArgumentParser:
    """The options of ``cimscope model`` (the one definition: the typer command passes its arguments here)."""
    p = _Parser(prog="cimscope model", description="Evaluate a mapping like timeloop-model: access counts, "
                                                   "energy, cycles (same inputs, same stats).")
    p.add_argument("inputs", nargs="+", type=Path,
                   help="Timeloop v0.4 YAML inputs (architecture, problem, mapping) or the timeloopfe source files "
                        "(Jinja2 top files, nodes trees)")
    p.add_argument("--ert", type=Path, help="Accelergy ERT YAML (energy per action); without it, levels are "
                                             "priced by cimscope's plug-ins, one 'priced LEVEL with COMPONENT "
                                             "{attributes}' line each on stderr")
    p.add_argument("--art", type=Path, help="Accelergy ART YAML (area per component)")
    p.add_argument("--out", type=Path, help="folder for timeloop-model.stats.txt/.map.txt/.map.yaml")
    p.add_argument("--json", dest="json_out", action="store_true", help="print one JSON document on stdout")
    p.add_argument("--engine", default="builtin", help="builtin or timeloop (the real binary)")
    p.add_argument("--counts-only", action="store_true",
                   help="allow levels without energies (reported as 0 pJ with a warning)")
    p.add_argument("--jinja", action="append", default=[], metavar="KEY=VALUE",
                   help="data for timeloopfe Jinja2 source files (VALUE read as YAML); repeatable")
    return p


def jinja_data(items: list[str], option: str = "--jinja") -> dict:
    """``KEY=VALUE`` items (VALUE read as YAML: ``8`` is a number, ``false`` a boolean) as a dict; a malformed
    item is one line naming it."""
    import yaml

    from cimscope.errors import InputError
    out: dict = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise InputError(f"{option} {item!r}: expected KEY=VALUE with KEY a name (letters, digits, _)")
        try:
            out[key] = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise InputError(f"{option} {item!r}: VALUE is not valid YAML ({problem})") from None
    return out


def run(argv: list[str]) -> None:
    """``cimscope model ARGV``: parse, evaluate, report. Needs neither typer nor the other commands, so a
    dispatcher can call it directly (the light path: about 0.2 CPU s on a reference case)."""
    import sys

    from cimscope.cli._common import print_json
    from cimscope.engine import get_engine
    from cimscope.errors import InputError
    from cimscope.timeloop.inputs import read_inputs

    a = parser().parse_args(argv)
    ti = read_inputs(a.inputs, jinja_data(a.jinja), for_model=True, ert=a.ert, art=a.art)
    if ti.mapping is None:
        raise InputError(f"{', '.join(map(str, a.inputs))}: no 'mapping' in the inputs; add one, or find one with "
                         f"'cimscope mapper'")
    priced = price_energies(ti, a.counts_only)
    filled = {p.level: p.source for p in priced}
    r = get_engine(a.engine).evaluate(ti.problem, ti.arch, ti.mapping)
    r.extra["warnings"] = list(ti.warnings) + list(r.extra.get("warnings", []))
    for p in priced:                       # which estimator and attributes priced each level without an ERT
        print(p.line(), file=sys.stderr)
    files = write_outputs(a.out, "timeloop-model", r, ti.arch, ti.problem, ti.mapping,
                          ti.raw if ti.from_sources else None) if a.out else []
    if a.json_out:
        print_json(result_json(r, ti.arch, ti.problem, energy_sources=filled,
                               priced_by={p.level: p.to_dict() for p in priced}, files=files))
    else:
        print(summary_text(r, ti.problem, ti.arch), file=sys.stderr)
        for f in files:
            print(f"wrote {f}", file=sys.stderr)


def register(app) -> None:
    import typer

    def model_cmd(ctx) -> None:
        """Evaluate a mapping like timeloop-model: access counts, energy, cycles (same inputs, same stats)."""
        run(list(ctx.args))

    model_cmd.__annotations__ = {"ctx": typer.Context, "return": None}   # typer reads the real class
    app.command("model", add_help_option=False,
                context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(model_cmd)


def write_outputs(out: Path, prefix: str, r, arch, problem, mapping, processed: Optional[dict] = None) -> list[str]:
    """The stats, map text and map YAML files of a run in ``out``; with ``processed`` (the document made from
    timeloopfe source files) also ``parsed-processed-input.yaml``, as timeloopfe writes it, so the map can be
    evaluated again (``cimscope model parsed-processed-input.yaml PREFIX.map.yaml``)."""
    from cimscope.atomic import write_text, write_yaml
    from cimscope.errors import InputError
    from cimscope.timeloop.stats import format_map, format_stats
    from cimscope.timeloop.mapping import mapping_to_yaml
    out = Path(out)
    files = []
    try:
        if r.extra.get("levels"):
            files.append(str(write_text(out / f"{prefix}.stats.txt", format_stats(r))))
        files.append(str(write_text(out / f"{prefix}.map.txt", format_map(arch, problem, mapping, r))))
        files.append(str(write_yaml(out / f"{prefix}.map.yaml", {"mapping": mapping_to_yaml(mapping, problem)})))
        if processed is not None:
            files.append(str(write_yaml(out / "parsed-processed-input.yaml", processed)))
    except OSError as exc:
        raise InputError(f"--out {out}: cannot write there ({exc.strerror or exc})") from None
    return files
