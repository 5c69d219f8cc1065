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

from dataclasses import dataclass, field
from typing import Any, Optional

from cimscope import ir
from cimscope.errors import InputError


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
        if self.keep or self.bypass:
            b: dict[str, Any] = {"target": self.target, "type": "bypass"}
            if self.keep:
                b["keep"] = list(self.keep)
            if self.bypass:
                b["bypass"] = list(self.bypass)
            out.append(b)
        if self.min_utilization > 0 or self.max_utilization < 1:
            out.append({"target": self.target, "type": "utilization", "min": self.min_utilization,
                        "max": self.max_utilization})
        return out


@dataclass
class Constraints:
    """All constraints of one mapspace, per storage level name."""

    levels: dict[str, LevelConstraint] = field(default_factory=dict)

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
    if not isinstance(block, list):
        raise InputError(f"{where}: constraints must be a list of targets, found {type(block).__name__}")
    for t in block:
        if not isinstance(t, dict):
            raise InputError(f"{where}: each constraint target must be a mapping, found {t!r}")
    return block


def constraints_from_yaml(raw: dict, arch: ir.Arch, problem: ir.Problem, *, where: str = "constraints") -> Constraints:
    """Collect every constraint block of a merged input document."""
    from cimscope.timeloop.yaml_io import _listify, parse_factors, parse_name, split_dims

    dims = list(problem.dims)
    ds_names = [t.name for t in problem.dataspaces]
    level_names = [lv.name for lv in arch.levels]
    blocks = []
    for key in ("architecture_constraints", "mapspace_constraints", "constraints"):
        if key in raw:
            blocks.append((key, raw[key]))
    ms = raw.get("mapspace")
    if isinstance(ms, dict) and "constraints" in ms:
        blocks.append(("mapspace.constraints", ms["constraints"]))
    out = Constraints()
    for key, block in blocks:
        for t in _targets(block, f"{where}: {key}"):
            target = t.get("target")
            if target is None:
                raise InputError(f"{where}: {key}: a constraint has no target: {t!r}")
            name = level_names[len(level_names) - 1 - target] if isinstance(target, int) else parse_name(str(target))[0]
            if name not in level_names:
                raise InputError(f"{where}: {key}: unknown target {name!r}; storage levels are "
                                 f"{', '.join(level_names)}")
            typ = str(t.get("type", "temporal")).lower()
            w = f"{where}: {key}: {name} ({typ})"
            lc = out.for_level(name)
            if typ in ("temporal", "spatial"):
                f = parse_factors(t.get("factors"), dims, w, allow_ops=True)
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
                        lc.spatial_split = int(t["split"])
            elif typ in ("bypass", "datatype", "dataspace"):
                for k in ("keep", "bypass"):
                    for n in _listify(t.get(k)) or []:
                        if n not in ds_names:
                            raise InputError(f"{w}: unknown data space {n!r}; data spaces are {', '.join(ds_names)}")
                        getattr(lc, k).append(n)
                clash = set(lc.keep) & set(lc.bypass)
                if clash:
                    raise InputError(f"{w}: {', '.join(sorted(clash))} both kept and bypassed")
            elif typ == "utilization":
                if t.get("min") is not None:
                    lc.min_utilization = float(t["min"])
                if t.get("max") is not None:
                    lc.max_utilization = float(t["max"])
            elif typ in ("max_overbooked_proportion", "skew"):
                continue
            else:
                raise InputError(f"{w}: unknown constraint type {typ!r}; types are temporal, spatial, bypass, "
                                 f"utilization")
    return out
