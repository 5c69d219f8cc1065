"""Timeloop-style mapspace constraints: factors, permutations, keep/bypass and spatial utilization per level.

Read from the v0.4 keys ``architecture_constraints``, ``mapspace_constraints`` (or ``mapspace: constraints``,
or ``constraints``), each holding ``targets:`` - a list of directives::

    - {target: GlobalBuffer, type: temporal, factors: "R=3 S=3 P>=2", permutation: "RS"}
    - {target: RegisterFile, type: bypass, keep: [Weights], bypass: [Inputs, Outputs]}
    - {target: GlobalBuffer, type: spatial, factors: "C=16", permutation: "C", split: 1}
    - {target: GlobalBuffer, type: utilization, min: 0.5}          # spatial fanout utilisation below it

A factor ``D=0`` means "all of what remains of D" (Timeloop); ``D<=n`` / ``D>=n`` bound it. A partial
permutation fixes the given dimensions innermost, in the given order (innermost first).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Optional

from cimscope import ir
from cimscope.errors import InputError, MappingError
from cimscope.timeloop.arch import collect_components
from cimscope.timeloop.mapping import target_level
from cimscope.timeloop.parsing import (as_int, as_number, bypass_directive, list_of_mappings, listify, parse_factors,
                                       perm_list, split_dims)


@dataclass
class LevelConstraint:
    target: str
    temporal_factors: dict[str, tuple[str, int]] = field(default_factory=dict)   # dim -> (op, value)
    temporal_permutation: list[str] = field(default_factory=list)               # innermost first (partial)
    spatial_factors: dict[str, tuple[str, int]] = field(default_factory=dict)
    spatial_permutation: list[str] = field(default_factory=list)
    spatial_split: Optional[int] = None
    keep: list[str] = field(default_factory=list)
    bypass: list[str] = field(default_factory=list)
    min_utilization: float = 0.0          # of the spatial fanout below this level
    max_utilization: float = 1.0

    def to_yaml(self) -> list[dict]:
        out: list[dict] = []

        def fac(f: dict) -> str:
            return " ".join(f"{d}{'' if op == '=' else op}{'=' if op == '=' else ''}{v}" for d, (op, v) in f.items())

        if self.temporal_factors or self.temporal_permutation:
            t: dict[str, Any] = {"target": self.target, "type": "temporal"}
            if self.temporal_factors:
                t["factors"] = fac(self.temporal_factors)
            if self.temporal_permutation:
                t["permutation"] = " ".join(self.temporal_permutation)
            out.append(t)
        if self.spatial_factors or self.spatial_permutation or self.spatial_split is not None:
            s: dict[str, Any] = {"target": self.target, "type": "spatial"}
            if self.spatial_factors:
                s["factors"] = fac(self.spatial_factors)
            if self.spatial_permutation:
                s["permutation"] = " ".join(self.spatial_permutation)
            if self.spatial_split is not None:
                s["split"] = self.spatial_split
            out.append(s)
        b = bypass_directive(self.target, self.keep, self.bypass)
        if b is not None:
            out.append(b)
        if self.min_utilization > 0 or self.max_utilization < 1:
            out.append({"target": self.target, "type": "utilization", "min": self.min_utilization,
                        "max": self.max_utilization})
        return out


@dataclass
class Constraints:
    """All constraints of one mapspace, per storage level name."""

    levels: dict[str, LevelConstraint] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)     # constraint parts Timeloop ignores, said once

    def for_level(self, name: str) -> LevelConstraint:
        if name not in self.levels:
            self.levels[name] = LevelConstraint(target=name)
        return self.levels[name]

    def get(self, name: str) -> Optional[LevelConstraint]:
        return self.levels.get(name)

    def is_empty(self) -> bool:
        return not any(c.to_yaml() for c in self.levels.values())

    def to_yaml(self) -> dict:
        targets: list[dict] = []
        for c in self.levels.values():
            targets.extend(c.to_yaml())
        return {"targets": targets}

    def key(self) -> list:
        """A JSON-able identity for caching."""
        return [c.to_yaml() for _, c in sorted(self.levels.items())]

    def merged(self, other: Optional["Constraints"]) -> "Constraints":
        out = Constraints()
        for src in (self, other):
            if src is None:
                continue
            out.warnings.extend(w for w in src.warnings if w not in out.warnings)
            for name, c in src.levels.items():
                m = out.for_level(name)
                m.temporal_factors.update(c.temporal_factors)
                m.spatial_factors.update(c.spatial_factors)
                if c.temporal_permutation:
                    m.temporal_permutation = list(c.temporal_permutation)
                if c.spatial_permutation:
                    m.spatial_permutation = list(c.spatial_permutation)
                if c.spatial_split is not None:
                    m.spatial_split = c.spatial_split
                m.keep = sorted(set(m.keep) | set(c.keep))
                m.bypass = sorted(set(m.bypass) | set(c.bypass))
                m.min_utilization = max(m.min_utilization, c.min_utilization)
                m.max_utilization = min(m.max_utilization, c.max_utilization)
        return out


def _targets(block: Any, where: str) -> list[dict]:
    if block is None:
        return []
    if isinstance(block, dict):
        block = block.get("targets", block.get("constraints", []))
    return list_of_mappings(block, where, "constraints must be a list of targets", "constraint target")


def component_targets(arch_spec: Any, ds_names: list[str], dims: list[str], where: str) -> list[dict]:
    """The ``constraints:`` of the ``!Component`` nodes of a timeloopfe v4 architecture (``nodes:`` form) as
    Timeloop constraint targets: ``temporal``/``spatial`` (``factors``, ``factors_only`` = the listed factors,
    every other dimension 1, ``permutation``, ``split``) and ``dataspace`` (``keep``, ``bypass``, ``keep_only``
    = keep those and bypass the rest, ``bypass_only`` = the converse; ``*`` = every data space), like
    timeloopfe's constraint macros (v4/processors/constraint_macro.py)."""
    if not isinstance(arch_spec, dict) or "nodes" not in arch_spec:
        return []
    out: list[dict] = []

    def names(value: Any) -> list[str]:
        got = listify(value) or []
        return list(ds_names) if "*" in got else got

    for c in collect_components(arch_spec, where):
        cons = c.constraints or {}
        if not isinstance(cons, dict):
            raise InputError(f"{where}: {c.name}: 'constraints' must be a mapping, found {cons!r}")
        for typ in ("temporal", "spatial"):
            t = cons.get(typ) or {}
            if not t:
                continue
            if not isinstance(t, dict):
                raise InputError(f"{where}: {c.name}.constraints.{typ} must be a mapping, found {t!r}")
            d: dict[str, Any] = {"target": c.name, "type": typ}
            factors = list(listify(t.get("factors")) or [])
            if t.get("factors_only") is not None:
                only = list(listify(t["factors_only"]) or [])
                named = {re.split(r"[<>=]", f)[0] for f in only}
                factors += only + [f"{x}=1" for x in dims if x not in named]
            if factors:
                d["factors"] = " ".join(factors)
            for k in ("permutation", "split"):
                if t.get(k) is not None:
                    d[k] = t[k]
            out.append(d)
        ds = cons.get("dataspace") or {}
        if ds:
            if not isinstance(ds, dict):
                raise InputError(f"{where}: {c.name}.constraints.dataspace must be a mapping, found {ds!r}")
            keep, bypass = names(ds.get("keep")), names(ds.get("bypass"))
            if ds.get("keep_only") is not None:
                only = names(ds["keep_only"])
                keep += only
                bypass += [n for n in ds_names if n not in only]
            if ds.get("bypass_only") is not None:
                only = names(ds["bypass_only"])
                bypass += only
                keep += [n for n in ds_names if n not in only]
            out.append({"target": c.name, "type": "bypass", "keep": keep, "bypass": bypass})
    return out


def constraints_from_yaml(raw: dict, arch: ir.Arch, problem: ir.Problem, *, where: str = "constraints") -> Constraints:
    """Collect every constraint block of a merged input document: ``architecture_constraints``, the
    ``constraints:`` of timeloopfe ``!Component`` nodes (architecture constraints too), and the mapspace
    constraints."""
    dims = list(problem.dims)
    ds_names = [t.name for t in problem.dataspaces]
    blocks: list[tuple[str, Any]] = []
    comp = component_targets(raw.get("architecture"), ds_names, dims, f"{where}: architecture")
    if comp:
        blocks.append(("architecture (component constraints)", comp))
    for key in ("architecture_constraints", "mapspace_constraints", "constraints"):
        if key in raw:
            blocks.append((key, raw[key]))
    ms = raw.get("mapspace")
    if isinstance(ms, dict) and "constraints" in ms:
        blocks.append(("mapspace.constraints", ms["constraints"]))
    out = Constraints()
    for key, block in blocks:
        for t in _targets(block, f"{where}: {key}"):
            name = target_level(t, arch, f"{where}: {key}").name
            typ = str(t.get("type", "temporal")).lower()
            w = f"{where}: {key}: {name} ({typ})"
            lc = out.for_level(name)
            if typ in ("temporal", "spatial"):
                f = _timeloop_factors(parse_factors(t.get("factors"), dims, w, allow_ops=True), problem, w,
                                      out.warnings)
                perm = split_dims(t.get("permutation"), dims, f"{w} permutation") if t.get("permutation") else []
                if typ == "temporal":
                    lc.temporal_factors.update(f)
                    if perm:
                        lc.temporal_permutation = perm
                else:
                    lc.spatial_factors.update(f)
                    if perm:
                        lc.spatial_permutation = perm
                    if t.get("split") is not None:
                        lc.spatial_split = as_int(t["split"], f"{w} split")
                        if lc.spatial_split < 0:
                            raise InputError(f"{w}: split must be >= 0, got {lc.spatial_split}")
            elif typ in ("bypass", "bypassing", "datatype", "dataspace"):
                for k in ("keep", "bypass"):
                    for n in listify(t.get(k)) or []:
                        if n not in ds_names:
                            raise InputError(f"{w}: unknown data space {n!r}; data spaces are {', '.join(ds_names)}")
                        getattr(lc, k).append(n)
                clash = set(lc.keep) & set(lc.bypass)
                if clash:
                    raise InputError(f"{w}: {', '.join(sorted(clash))} both kept and bypassed")
            elif typ in ("utilization", "parallelism"):
                for bound in ("min", "max"):
                    if t.get(bound) is not None:
                        v = float(as_number(t[bound], f"{w} {bound}"))
                        if not 0.0 <= v <= 1.0:
                            raise InputError(f"{w}: {bound} utilization must be between 0 and 1, got {v}")
                        setattr(lc, f"{bound}_utilization", v)
            elif typ in ("max_overbooked_proportion", "skew"):
                continue
            else:
                raise InputError(f"{w}: unknown constraint type {typ!r}; types are temporal, spatial, bypass, "
                                 f"utilization")
    return out


def _timeloop_factors(f: dict[str, tuple[str, int]], problem: ir.Problem, where: str, warnings: list[str]
                      ) -> dict[str, tuple[str, int]]:
    """Exact factors as Timeloop's ``Constraints::ParseFactors`` reads them: ``D=0`` is the whole dimension, and
    ``D=n`` with n larger than the dimension is ignored (with Timeloop's warning, kept in ``warnings``)."""
    out: dict[str, tuple[str, int]] = {}
    for d, (op, v) in f.items():
        size = int(problem.dims[d])
        if op == "=" and v == 0:
            v = size
        elif op == "=" and v > size:
            warnings.append(f"{where}: constraint {d}={v} exceeds problem dimension {d}={size}, ignoring "
                            f"(as Timeloop does)")
            continue
        out[d] = (op, v)
    return out


def check_mapping(constraints: Constraints, mapping: ir.Mapping, problem: ir.Problem, *, where: str = "mapping",
                  innermost: Optional[str] = None, label: str = "architecture constraint") -> list[str]:
    """Raise MappingError when ``mapping`` lies outside the mapspace that ``constraints`` define; return the
    warnings for the constraints that are not checked. One checker for ``cimscope model`` (the architecture
    constraints, which timeloop-model enforces on a given mapping: mapping/constraints.cpp, ``SatisfiedBy``) and
    for every mapping ``cimscope mapper`` writes (all constraints).

    Per level, temporal and spatial:

    * factors ``D=n`` exact, ``D<=n`` at most, ``D>=n`` at least (the parser already turned ``D=0`` into the
      whole dimension and dropped factors larger than the dimension, as Timeloop's ParseFactors does);
    * permutations: loops of bound 1 are not loops of Timeloop's nest (``Generate`` leaves them out), and the
      mapspace prunes them from the constraint too (``Uber::InitPruned``): the constrained dimensions whose
      factor is above 1 must be the innermost real loops, in that order. At the innermost storage level
      (``innermost``) Timeloop's mapspace uses a canonical order and the loop order changes no count, so a
      violated order there is reported as a warning, not refused;
    * the spatial split: every real spatial loop sits on the axis (X before the split, Y after it) that the
      constrained permutation and split give its dimension (``Uber`` fixes that assignment); a mapping whose
      split equals the constrained one literally is accepted as well.

    Keep/bypass constraints are checked by the model itself (they become the levels' keep/bypass)."""
    dims = list(problem.dims)
    by_name = {lm.target: lm for lm in mapping.levels}
    warnings: list[str] = []
    for name, lc in constraints.levels.items():
        lm = by_name.get(name, ir.LevelMapping(target=name))
        for kind, facs, perm, mfac, mperm in (
                ("temporal", lc.temporal_factors, lc.temporal_permutation, lm.temporal_factors,
                 lm.temporal_permutation),
                ("spatial", lc.spatial_factors, lc.spatial_permutation, lm.spatial_factors or {},
                 lm.spatial_permutation)):
            w = f"{where}: level {name} ({kind})"
            _check_factors(facs, mfac, w, label)
            bad = _permutation_violation(perm, mperm, mfac, dims, label)
            if bad and kind == "temporal" and name == innermost:
                warnings.append(f"{w}: {bad} (not checked at the innermost storage level: Timeloop's mapspace "
                                f"uses a canonical order there and the order changes no count)")
            elif bad:
                raise MappingError(f"{w}: {bad}")
        if lc.spatial_split is not None:
            bad = _split_violation(lc, lm, dims, label)
            if bad:
                raise MappingError(f"{where}: level {name} (spatial): {bad}")
    return warnings


def _check_factors(facs: dict[str, tuple[str, int]], mfac: dict[str, int], w: str, label: str) -> None:
    for d, (op, v) in facs.items():
        got = int(mfac.get(d, 1))
        if (op == "=" and v != 0 and got != v) or (op == "<=" and got > v) or (op == ">=" and got < v):
            raise MappingError(f"{w}: factor {d}={got} violates the {label} {d}{op}{v}")


def _permutation_violation(perm: list[str], mperm: str, mfac: dict[str, int], dims: list[str], label: str) -> str:
    """Why the loop order ``mperm`` breaks the constrained innermost order ``perm`` ('' when it does not)."""
    if not perm:
        return ""
    order = perm_list(mperm, dims)
    real = [d for d in order if int(mfac.get(d, 1)) > 1]
    want = [d for d in perm if int(mfac.get(d, 1)) > 1]
    if real[:len(want)] == want:
        return ""
    return (f"permutation {''.join(order)} (innermost first) violates the {label}: "
            f"{''.join(perm)} must be the innermost loops, in that order (loops of bound 1 skipped)")


def _spatial_axes(perm: list[str], split: int, facs: dict[str, int]) -> dict[str, str]:
    """Real spatial loop -> 'X' or 'Y' for a spatial permutation and split (Timeloop's mapping parser: the first
    ``split`` dimensions of the permutation go to X, the rest to Y)."""
    return {d: ("X" if i < split else "Y") for i, d in enumerate(perm) if int(facs.get(d, 1)) > 1}


def _split_violation(lc: "LevelConstraint", lm: ir.LevelMapping, dims: list[str], label: str) -> str:
    sf = lm.spatial_factors or {}
    if not any(int(v) > 1 for v in sf.values()):
        return ""
    order = perm_list(lm.spatial_permutation, dims)
    split = lm.spatial_split if lm.spatial_split is not None else len(dims)
    got = _spatial_axes(order, split, sf)
    if sum(1 for a in got.values() if a == "X") == lc.spatial_split:
        return ""                              # SatisfiedBy's own test: the number of real X loops
    cperm = list(lc.spatial_permutation)
    want = {d: ("X" if i < lc.spatial_split else "Y") for i, d in enumerate(cperm)}
    if lc.spatial_split <= len(cperm):
        want.update({d: "Y" for d in dims if d not in cperm})
    wrong = [d for d, a in got.items() if d in want and want[d] != a]
    if not wrong:
        return ""
    return (f"spatial loop{'s' if len(wrong) > 1 else ''} {', '.join(wrong)} on axis "
            f"{'/'.join(got[d] for d in wrong)} violate{'' if len(wrong) > 1 else 's'} the {label} split="
            f"{lc.spatial_split} over permutation {''.join(cperm) or '(none)'}")
