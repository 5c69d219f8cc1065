"""A whole set of Timeloop v0.4 input files: read (merged), checked at the door (Sparseloop features refused
by name, the mapping checked against the architecture constraints) into typed :class:`TimeloopInputs`, and
written back as one document."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

from cimscope import ir
from cimscope.errors import InputError
from cimscope.timeloop.arch import arch_constraints_to_yaml, arch_from_yaml, arch_to_yaml
from cimscope.timeloop.constraints import check_mapping, constraints_from_yaml
from cimscope.timeloop.ert import apply_art, apply_ert, art_table, ert_table, load_art, load_ert
from cimscope.timeloop.mapping import mapping_from_yaml, mapping_to_yaml
from cimscope.timeloop.parsing import load_yaml_files, read_text
from cimscope.timeloop.problem import problem_from_yaml, problem_to_yaml
from cimscope.timeloop.spec.detect import is_source_spec, is_template


@dataclass
class TimeloopInputs:
    """Everything read from a set of v0.4 input files."""

    arch: ir.Arch
    problem: ir.Problem
    mapping: Optional[ir.Mapping]
    constraints: Any                    # cimscope.timeloop.constraints.Constraints
    raw: dict
    sources: list[str] = field(default_factory=list)
    has_ert: bool = False
    has_art: bool = False
    warnings: list[str] = field(default_factory=list)   # input parts ignored as Timeloop ignores them
    from_sources: bool = False          # raw is the document processed from timeloopfe source files


#: The one-line prefix of every refusal of a Sparseloop input (shared with the timeloopfe source reader).
SPARSE_REFUSAL = "sparse (Sparseloop) feature not modelled"


def sparse_features(raw: dict) -> list[str]:
    """The Sparseloop features a merged input document carries: ``sparse_optimizations`` targets (by action:
    representation_format, action_optimization ...) and densities below 1 in ``problem.instance.densities``."""
    found: list[str] = []
    so = raw.get("sparse_optimizations")
    targets = (so.get("targets") if isinstance(so, dict) else so) or []
    for t in targets if isinstance(targets, list) else [targets]:
        if isinstance(t, dict):
            kinds = sorted(k for k in t if k not in ("name", "target"))
            found.append(f"sparse_optimizations at {t.get('name', t.get('target', '?'))} "
                         f"({', '.join(kinds) or 'empty'})")
    inst = (raw.get("problem") or {}).get("instance") if isinstance(raw.get("problem"), dict) else None
    dens = (inst or {}).get("densities") if isinstance(inst, dict) else None
    for ds, d in (dens or {}).items() if isinstance(dens, dict) else ():
        value = d.get("density", 1) if isinstance(d, dict) else d
        try:
            sparse = float(value) != 1.0
        except (TypeError, ValueError):
            sparse = True
        if sparse:
            found.append(f"density {value} of {ds}" + (f" ({d['distribution']})" if isinstance(d, dict)
                                                        and d.get("distribution") else ""))
    return found


def _apply_arch_constraints(arch: ir.Arch, constraints: Any) -> None:
    """Architecture keep/bypass constraints become Level.keep / Level.bypass."""
    for name, lc in constraints.levels.items():
        try:
            lv = arch.level(name)
        except KeyError:
            continue
        if lc.keep:
            lv.keep = sorted(set((lv.keep or []) + list(lc.keep)))
        if lc.bypass:
            lv.bypass = sorted(set((lv.bypass or []) + list(lc.bypass)))


def load_inputs(paths: list[Union[str, Path]], *, ert: Optional[Union[str, Path]] = None,
                art: Optional[Union[str, Path]] = None, check_mapping_constraints: bool = True) -> TimeloopInputs:
    """Read one or more v0.4 YAML files (merged like timeloop-model does) into typed inputs
    (:func:`inputs_from_raw` on the merged document)."""
    paths = [str(p) for p in paths]
    return inputs_from_raw(load_yaml_files(paths), where=", ".join(paths), ert=ert, art=art,
                           check_mapping_constraints=check_mapping_constraints, sources=paths)


def read_inputs(paths: list[Union[str, Path]], jinja_data: Optional[dict] = None, *, for_model: bool,
                ert: Optional[Union[str, Path]] = None, art: Optional[Union[str, Path]] = None,
                check_mapping_constraints: bool = True) -> TimeloopInputs:
    """What ``cimscope model`` / ``cimscope mapper`` read: timeloopfe v0.4 source files (Jinja2 top files,
    ``nodes:`` trees, ``variables``) are processed the way timeloopfe does it (for timeloop-model with
    ``for_model``, else for timeloop-mapper), a processed or plain v0.4 document is read as it is. ``jinja_data``
    is given to the Jinja2 templates; with processed inputs it would be unused, so it is refused."""
    paths = [str(p) for p in paths]
    where = ", ".join(paths)
    templated = any(is_template(p, read_text(p)) for p in paths) if paths else False
    raw = None
    if not templated:
        try:
            raw = load_yaml_files(paths)
        except InputError:
            if not is_source_spec(paths):   # e.g. an anchor defined twice: an error for YAML, fine for timeloopfe
                raise
    if raw is not None and not is_source_spec(raw):
        if jinja_data:
            raise InputError(f"{where}: --jinja {', '.join(jinja_data)} given, but these inputs are no timeloopfe "
                             f"source files (no Jinja2 template, 'nodes' tree or 'variables'); drop --jinja")
        return inputs_from_raw(raw, where=where, ert=ert, art=art,
                               check_mapping_constraints=check_mapping_constraints, sources=paths)
    from cimscope.timeloop.spec import load_sources     # deferred: imports Jinja2, needed for sources only
    doc = load_sources(paths, jinja_data, for_model=for_model)
    ti = inputs_from_raw(doc, where=where, ert=ert, art=art, check_mapping_constraints=check_mapping_constraints,
                         sources=paths)
    ti.from_sources = True
    return ti


def inputs_from_raw(raw: dict, *, where: str, ert: Optional[Union[str, Path]] = None,
                    art: Optional[Union[str, Path]] = None, check_mapping_constraints: bool = True,
                    sources: Optional[list[str]] = None) -> TimeloopInputs:
    """Typed inputs from a merged v0.4 document (a processed ``parsed-processed-input.yaml`` or a plain input).

    A ``mapping`` in the inputs must satisfy the ``architecture_constraints`` (MappingError otherwise), as
    timeloop-model requires; ``check_mapping_constraints=False`` skips that (the mapper ignores the mapping).

    ``ERT``/``ART`` keys found in the inputs, or the ``ert``/``art`` files, fill each level's
    ``action_energy_pJ`` and ``area_um2``. ``where`` names the inputs in error messages.
    """
    if not isinstance(raw, dict):
        raise InputError(f"{where}: expected a mapping at top level, found a {type(raw).__name__}")
    if "architecture" not in raw:
        raise InputError(f"{where}: no 'architecture' key in the inputs")
    if "problem" not in raw:
        raise InputError(f"{where}: no 'problem' key in the inputs")
    sparse = sparse_features(raw)
    if sparse:
        raise InputError(f"{SPARSE_REFUSAL}: {'; '.join(sparse)} (in {where}); cimscope models dense "
                         f"Timeloop only")
    warnings: list[str] = []
    arch = arch_from_yaml(raw["architecture"], where=f"{where}: architecture")
    problem = problem_from_yaml(raw["problem"], where=f"{where}: problem", warnings=warnings)
    constraints = constraints_from_yaml(raw, arch, problem, where=where)
    # Keep/bypass of the architecture constraints and of timeloopfe component constraints fix Level.keep/bypass.
    arch_only = constraints_from_yaml({"architecture_constraints": raw.get("architecture_constraints") or {}},
                                      arch, problem, where=where)
    _apply_arch_constraints(arch, arch_only)
    _apply_arch_constraints(arch, constraints_from_yaml({"architecture": raw["architecture"]}, arch, problem,
                                                        where=where))
    mapping = None
    if raw.get("mapping") is not None:
        mapping = mapping_from_yaml(raw["mapping"], arch, problem, where=f"{where}: mapping")
        # timeloop-model refuses a mapping that violates the architecture constraints.
        if check_mapping_constraints:
            warnings += check_mapping(arch_only, mapping, problem, where=f"{where}: mapping",
                                      innermost=arch.levels[-1].name)
    has_ert = has_art = False
    if "ERT" in raw:
        apply_ert(arch, ert_table(raw["ERT"], where=f"{where}: ERT"))
        has_ert = True
    if "ART" in raw:
        apply_art(arch, art_table(raw["ART"], where=f"{where}: ART"))
        has_art = True
    if ert is not None:
        load_ert(ert, arch)
        has_ert = True
    if art is not None:
        load_art(art, arch)
        has_art = True
    warnings += [w for w in constraints.warnings if w not in warnings]
    return TimeloopInputs(arch=arch, problem=problem, mapping=mapping, constraints=constraints, raw=raw,
                          sources=list(sources or [where]), has_ert=has_ert, has_art=has_art, warnings=warnings)


def inputs_to_yaml(arch: ir.Arch, problem: ir.Problem, mapping: Optional[ir.Mapping] = None,
                   constraints: Any = None) -> dict:
    """A complete v0.4 input document (architecture, problem, mapping, constraints) for timeloop-model or
    timeloop-mapper."""
    doc: dict[str, Any] = {"architecture": arch_to_yaml(arch), "problem": problem_to_yaml(problem)}
    ac = arch_constraints_to_yaml(arch)
    if ac["targets"]:
        doc["architecture_constraints"] = ac
    if constraints is not None:
        doc["mapspace_constraints"] = constraints.to_yaml()
    if mapping is not None:
        doc["mapping"] = mapping_to_yaml(mapping, problem)
    return doc
