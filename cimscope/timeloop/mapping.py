"""The ``mapping:`` document (Timeloop v0.4 directives: temporal, spatial, bypass per storage level): read into
:class:`cimscope.ir.Mapping` and written back in the form timeloop-model reads. Missing factors are 1, missing
dimensions of a permutation are appended outermost; a factor 0 means the whole dimension."""
from __future__ import annotations

from typing import Any, Optional

from cimscope import ir
from cimscope.errors import InputError, MappingError
from cimscope.timeloop.parsing import (as_int, bypass_directive, list_of_mappings, listify, pad_perm, parse_factors,
                                       parse_name, perm_str, split_dims)


def _directives(spec: Any, where: str) -> list[dict]:
    if isinstance(spec, dict):
        for key in ("mapping", "targets", "directives"):
            if key in spec:
                return _directives(spec[key], where)
        raise InputError(f"{where}: expected a list of directives (target, type, factors, permutation)")
    return list_of_mappings(spec, where, "expected a list of directives", "directive")


def target_level(d: dict, arch: ir.Arch, where: str) -> ir.Level:
    names = [lv.name for lv in arch.levels]
    t = d.get("target")
    if t is None:
        raise InputError(f"{where}: directive {d!r} has no target")
    if isinstance(t, int):
        # Timeloop numbers storage levels innermost first.
        if not 0 <= t < len(names):
            raise InputError(f"{where}: target {t} is not a storage level id (0..{len(names) - 1})")
        return arch.levels[len(names) - 1 - t]
    base = parse_name(str(t), where)[0]
    if base == arch.compute.name:
        raise InputError(f"{where}: target {base!r} is the compute level; mapping directives target storage "
                         f"levels: {', '.join(names)}")
    if base not in names:
        raise InputError(f"{where}: unknown target {base!r}; storage levels are {', '.join(names)}")
    return arch.level(base)


def mapping_from_yaml(spec: Any, arch: ir.Arch, problem: ir.Problem, *, where: str = "mapping") -> ir.Mapping:
    """Build an :class:`ir.Mapping` (one LevelMapping per storage level, outermost first) from the value of a
    v0.4 ``mapping:`` key. Missing factors are 1 and missing dimensions of a permutation are appended
    outermost, as timeloop-model does; factor 0 means the whole dimension."""
    dims = list(problem.dims)
    per: dict[str, ir.LevelMapping] = {lv.name: ir.LevelMapping(target=lv.name) for lv in arch.levels}
    seen_perm: dict[tuple[str, str], bool] = {}
    ds_names = [t.name for t in problem.dataspaces]
    for d in _directives(spec, where):
        lv = target_level(d, arch, where)
        lm = per[lv.name]
        typ = str(d.get("type", "temporal")).lower()
        w = f"{where}: {lv.name} ({typ})"
        if typ in ("temporal", "spatial"):
            f = parse_factors(d.get("factors"), dims, w)
            f = {k: (problem.dims[k] if v == 0 else v) for k, v in f.items()}
            perm = split_dims(d.get("permutation"), dims, f"{w} permutation")
            if typ == "temporal":
                lm.temporal_factors.update(f)
                if perm:
                    lm.temporal_permutation = perm_str(perm, dims)
                    seen_perm[(lv.name, "t")] = True
            else:
                lm.spatial_factors.update(f)
                if perm:
                    lm.spatial_permutation = perm_str(perm, dims)
                if d.get("split") is not None:
                    lm.spatial_split = as_int(d.get("split"), f"{w} split")
                    if lm.spatial_split < 0:
                        raise InputError(f"{w}: split must be >= 0, got {lm.spatial_split}")
            for key in ("keep", "bypass"):
                if d.get(key) is not None:
                    _set_keep_bypass(lm, key, listify(d[key]), ds_names, w)
        elif typ in ("bypass", "datatype", "dataspace"):
            for key in ("keep", "bypass"):
                if d.get(key) is not None:
                    _set_keep_bypass(lm, key, listify(d[key]), ds_names, w)
        elif typ in ("utilization", "max_overbooked_proportion", "skew"):
            continue
        else:
            raise InputError(f"{w}: unknown directive type {typ!r}; types are temporal, spatial, bypass")
    levels = []
    for lv in arch.levels:
        lm = per[lv.name]
        lm.temporal_factors = {k: int(lm.temporal_factors.get(k, 1)) for k in dims}
        lm.temporal_permutation = perm_str(pad_perm(lm.temporal_permutation, dims), dims)
        if lm.spatial_factors:
            lm.spatial_factors = {k: int(lm.spatial_factors.get(k, 1)) for k in dims}
            lm.spatial_permutation = perm_str(pad_perm(lm.spatial_permutation, dims), dims)
        levels.append(lm)
    return ir.Mapping(levels=levels)


def _set_keep_bypass(lm: ir.LevelMapping, key: str, names: list[str], ds_names: list[str], where: str) -> None:
    for n in names:
        if n not in ds_names:
            raise InputError(f"{where}: unknown data space {n!r} in {key}; data spaces are {', '.join(ds_names)}")
    cur = list(getattr(lm, key) or [])
    for n in names:
        if n not in cur:
            cur.append(n)
    setattr(lm, key, cur)
    other = "bypass" if key == "keep" else "keep"
    if getattr(lm, other):
        setattr(lm, other, [n for n in getattr(lm, other) if n not in names] or None)


def mapping_to_yaml(mapping: ir.Mapping, problem: Optional[ir.Problem] = None) -> list:
    """The value of a v0.4 ``mapping:`` key: temporal, spatial and bypass directives per storage level."""
    out: list[dict] = []
    for lm in mapping.levels:
        dims = list(problem.dims) if problem is not None else list(lm.temporal_factors) or list(lm.spatial_factors)
        tf = {d: int(lm.temporal_factors.get(d, 1)) for d in dims}
        out.append({"target": lm.target, "type": "temporal",
                    "factors": " ".join(f"{d}={v}" for d, v in tf.items()),
                    "permutation": perm_str(pad_perm(lm.temporal_permutation or "", dims), dims)})
        if lm.spatial_factors and any(int(v) > 1 for v in lm.spatial_factors.values()):
            sf = {d: int(lm.spatial_factors.get(d, 1)) for d in dims}
            sd: dict[str, Any] = {"target": lm.target, "type": "spatial",
                                  "factors": " ".join(f"{d}={v}" for d, v in sf.items()),
                                  "permutation": perm_str(pad_perm(lm.spatial_permutation or "", dims), dims)}
            if lm.spatial_split is not None:
                sd["split"] = int(lm.spatial_split)
            out.append(sd)
        bd = bypass_directive(lm.target, lm.keep, lm.bypass)
        if bd is not None:
            out.append(bd)
    return out


def check_mapping_shape(mapping: ir.Mapping, arch: ir.Arch) -> None:
    names = [lv.name for lv in arch.levels]
    got = [lm.target for lm in mapping.levels]
    if got != names:
        raise MappingError(f"mapping levels {got} do not match the architecture's storage levels {names} "
                           f"(outermost first)")
