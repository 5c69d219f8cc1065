"""Read and write Timeloop v0.4 inputs: architecture, problem, mapping (and constraints, see
``constraints.py``).

Accepted architecture forms (all produce the same :class:`cimscope.ir.Arch`):

* hierarchical ``subtree``/``local`` (Timeloop v0.3/v0.4), including the flattened form timeloop-model
  dumps as ``parsed-processed-input.yaml`` (one top-level subtree whose ``local`` list holds every
  component as ``Name[1..N]`` with N the total instance count);
* nested subtrees ``PE[0..15]`` whose ranges multiply the instances of everything inside them;
* the timeloopfe v0.4 ``nodes:`` list (``!Container`` / ``!Component`` / ``!Hierarchical`` tags, with
  ``spatial: {meshX, meshY}`` fanouts).

Storage levels come outermost first; the innermost (last) component is the compute level, as in
Timeloop where the arithmetic units are the leaves of the tree.

Several input files are merged like timeloop-model does: top-level keys of later files are added to (and
deep-merged into) those of earlier ones. Problems carry Timeloop's conventions: a projection is a list of
ranks, a rank a list of terms ``[dim]`` or ``[dim, coefficient]``; permutations are written innermost loop
first; a factor 0 means the whole dimension.
"""
from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import yaml

from cimscope import ir
from cimscope.errors import InputError, MappingError

# ---------------------------------------------------------------------------------------------------------
# YAML loading (tolerant of the !Component/!Container tags of timeloopfe v0.4)
# ---------------------------------------------------------------------------------------------------------


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):   # libyaml when PyYAML has it: ~7x faster
    """SafeLoader that turns any ``!Tag`` node into plain data, remembering the tag under ``_tag``."""


def _construct_tagged(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        data = loader.construct_mapping(node, deep=True)
        data = dict(data)
        data["_tag"] = tag_suffix
        return data
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


_Loader.add_multi_constructor("!", _construct_tagged)


def _load_one(path: Union[str, Path]) -> dict:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"{path}: malformed YAML{where}: {problem}") from None
    if data is None:
        raise InputError(f"{path}: the file is empty")
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a YAML mapping at top level (keys such as architecture, problem, "
                         f"mapping), found a {type(data).__name__}")
    return data


def deep_merge(base: dict, extra: dict) -> dict:
    """Merge ``extra`` into a copy of ``base``: nested dicts merge, everything else is replaced."""
    out = dict(base)
    for key, value in extra.items():
        if key in out and isinstance(out[key], dict) and isinstance(value, dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_yaml_files(paths: list[Union[str, Path]]) -> dict:
    """Read and merge several YAML files (later files add to / override earlier ones)."""
    if not paths:
        raise InputError("no input files given")
    merged: dict = {}
    for p in paths:
        merged = deep_merge(merged, _load_one(p))
    return merged


# ---------------------------------------------------------------------------------------------------------
# Small parsers
# ---------------------------------------------------------------------------------------------------------

_RANGE = re.compile(r"^\s*([^\[\]]+?)\s*\[\s*(-?\d+)\s*(?:\.\.|:)\s*(-?\d+)\s*\]\s*$")


def parse_name(name: str, where: str = "") -> tuple[str, int]:
    """``"RegisterFile[1..16]"`` -> ("RegisterFile", 16); ``"PE[0..15]"`` -> ("PE", 16); plain -> (name, 1)."""
    m = _RANGE.match(str(name))
    if not m:
        return str(name).strip(), 1
    lo, hi = int(m.group(2)), int(m.group(3))
    if hi < lo:
        raise InputError(f"{where + ': ' if where else ''}component name {name!r}: range [{lo}..{hi}] is empty")
    return m.group(1), hi - lo + 1


def _num(value: Any, what: str) -> float:
    if isinstance(value, bool):
        raise InputError(f"{what}: expected a number, got {value!r}")
    if isinstance(value, (int, float)):
        return value
    try:
        f = float(str(value).strip())
    except ValueError:
        raise InputError(f"{what}: expected a number, got {value!r}") from None
    return int(f) if f.is_integer() and "." not in str(value) and "e" not in str(value).lower() else f


def _int(value: Any, what: str) -> int:
    v = _num(value, what)
    if float(v) != int(v):
        raise InputError(f"{what}: expected an integer, got {value!r}")
    return int(v)


def _attr(attrs: dict, *names: str, default: Any = None) -> Any:
    for n in names:
        if n in attrs and attrs[n] is not None:
            return attrs[n]
    return default


def split_dims(text: Union[str, list, None], dims: list[str], what: str) -> list[str]:
    """Split a permutation (``"RPK"``, ``"R P K"``, ``"R,P,K"`` or a list) into known dimension names."""
    if text is None:
        return []
    if isinstance(text, (list, tuple)):
        tokens = [str(t).strip() for t in text]
    else:
        s = str(text).strip()
        if re.search(r"[\s,]", s):
            tokens = [t for t in re.split(r"[\s,]+", s) if t]
        else:
            # Timeloop reads one character per dimension; fall back to longest-match for long names.
            tokens, i = [], 0
            names = sorted(dims, key=len, reverse=True)
            while i < len(s):
                for n in names:
                    if s.startswith(n, i):
                        tokens.append(n)
                        i += len(n)
                        break
                else:
                    raise InputError(f"{what}: {s[i:]!r} does not start with a dimension; dimensions are "
                                     f"{', '.join(dims)}")
    for t in tokens:
        if t not in dims:
            raise InputError(f"{what}: unknown dimension {t!r}; dimensions are {', '.join(dims)}")
    if len(set(tokens)) != len(tokens):
        raise InputError(f"{what}: a dimension appears twice in {text!r}")
    return tokens


_FACTOR = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=|=)\s*(-?\d+)(?:\s*,\s*(\d+))?")
_FACTOR_OLD = re.compile(r"([A-Za-z_]+)()\s*(\d+)()")       # Timeloop's older "R3 P16" form


def parse_factors(text: Union[str, list, dict, None], dims: list[str], what: str,
                  allow_ops: bool = False) -> dict[str, Any]:
    """Parse ``"R=3,P=16"`` / ``"R3 P16"`` / ``["R=3", "P=16"]`` / ``{R: 3}``.

    Returns dim -> int, or with ``allow_ops`` dim -> (op, int) for constraints (op is '=', '<=' or '>=').
    """
    if text is None:
        return {}
    out: dict[str, Any] = {}
    if isinstance(text, dict):
        items = [(str(k), "=", v, None) for k, v in text.items()]
    else:
        s = " ".join(str(t) for t in text) if isinstance(text, (list, tuple)) else str(text)
        s = s.split("#")[0]
        items = []
        pos = 0
        pattern = _FACTOR if re.search(r"[=<>]", s) else _FACTOR_OLD
        for m in pattern.finditer(s):
            gap = s[pos:m.start()].strip(" ,;\t\n")
            if gap:
                raise InputError(f"{what}: cannot read {gap!r} in factors {s.strip()!r}")
            items.append((m.group(1), m.group(2) or "=", m.group(3), m.group(4) or None))
            pos = m.end()
        tail = s[pos:].strip(" ,;\t\n")
        if tail:
            raise InputError(f"{what}: cannot read {tail!r} in factors {s.strip()!r}")
    for name, op, value, residual in items:
        if name not in dims:
            raise InputError(f"{what}: unknown dimension {name!r} in factors; dimensions are {', '.join(dims)}")
        v = _int(value, f"{what}: factor {name}")
        if v < 0:
            raise InputError(f"{what}: factor {name}={v} is negative")
        if residual is not None and int(residual) != v:
            raise InputError(f"{what}: factor {name}={v},{residual} has a residual (imperfect factorization); "
                             f"cimscope's engines take perfect factorizations only")
        if op != "=" and not allow_ops:
            raise InputError(f"{what}: factor {name}{op}{v}: only '=' is allowed in a mapping")
        out[name] = (op, v) if allow_ops else v
    return out


def _listify(value: Any) -> Optional[list[str]]:
    if value is None:
        return None
    if isinstance(value, str):
        return [t for t in re.split(r"[\s,]+", value.strip("[] ")) if t]
    return [str(v) for v in value]


# ---------------------------------------------------------------------------------------------------------
# Architecture
# ---------------------------------------------------------------------------------------------------------

#: Timeloop's storage and compute classes (model/topology.hpp); other classes are classified by position.
BUFFER_CLASSES = ("DRAM", "SRAM", "regfile", "smartbuffer", "storage")
COMPUTE_CLASSES = ("mac", "intmac", "fpmac", "compute")

_TIMELOOP_DEFAULT_WORD_BITS = 16   # BufferLevel::Specs::kDefaultWordBits


@dataclass
class _Component:
    name: str
    cls: str
    instances: int
    mesh_x: Optional[int]
    mesh_y: Optional[int]
    attributes: dict
    constraints: dict = field(default_factory=dict)


def _kind(node: dict, key: str, typ: type, where: str) -> Any:
    """``node[key]`` (empty when absent) checked to be a ``typ`` (dict or list), else InputError."""
    value = node.get(key)
    if value is None:
        return typ()
    if not isinstance(value, typ):
        raise InputError(f"{where}: '{key}' must be a {'mapping' if typ is dict else 'list'}, found {value!r}")
    return value


def _walk_subtree(node: dict, mult: int, inherited: dict, out: list, where: str) -> None:
    if not isinstance(node, dict):
        raise InputError(f"{where}: expected a mapping for an architecture node, found {node!r}")
    name, count = parse_name(node.get("name", "node"), where)
    w = f"{where}: {name}"
    attrs = dict(inherited)
    attrs.update(_kind(node, "attributes", dict, w))
    mult *= count
    for comp in _kind(node, "local", list, w):
        if not isinstance(comp, dict) or "name" not in comp:
            raise InputError(f"{where}: a 'local' entry of {name!r} has no name: {comp!r}")
        if comp.get("enabled") is False:
            continue
        cname, ccount = parse_name(comp["name"], where)
        cattrs = dict(attrs)
        cattrs.update(_kind(comp, "attributes", dict, f"{where}: {cname}"))
        inst = cattrs.get("instances")
        instances = _int(inst, f"{where}: {cname}.instances") if inst is not None else mult * ccount
        out.append(_Component(cname, str(comp.get("class", cattrs.get("class", ""))), instances,
                              cattrs.get("meshX"), cattrs.get("meshY"), cattrs))
    for sub in _kind(node, "subtree", list, w):
        _walk_subtree(sub, mult, attrs, out, where)


def _walk_nodes(nodes: list, mesh: tuple[int, int], inherited: dict, out: list, where: str) -> tuple[int, int]:
    mx, my = mesh
    attrs = dict(inherited)
    for node in nodes:
        if not isinstance(node, dict):
            raise InputError(f"{where}: expected a mapping in architecture nodes, found {node!r}")
        tag = str(node.get("_tag", "")).lower()
        spatial = _kind(node, "spatial", dict, f"{where}: {node.get('name', 'node')}")
        if spatial:
            mx *= _int(spatial.get("meshX", 1), f"{where}: {node.get('name', 'node')}.spatial.meshX")
            my *= _int(spatial.get("meshY", 1), f"{where}: {node.get('name', 'node')}.spatial.meshY")
            if mx < 1 or my < 1:
                raise InputError(f"{where}: {node.get('name', 'node')}.spatial: meshX and meshY must be >= 1")
        if tag in ("hierarchical",) or ("nodes" in node and tag != "component"):
            mx, my = _walk_nodes(node.get("nodes") or [], (mx, my), attrs, out, where)
            continue
        if tag == "parallel":
            raise InputError(f"{where}: !Parallel architecture branches are not supported; "
                             f"write one branch per architecture")
        if tag == "container" or ("class" not in node and tag != "component"):
            attrs.update(_kind(node, "attributes", dict, f"{where}: {node.get('name', 'node')}"))
            continue
        name, count = parse_name(node.get("name", "component"), where)
        cattrs = dict(attrs)
        cattrs.update(_kind(node, "attributes", dict, f"{where}: {name}"))
        if node.get("enabled") is False:
            continue
        out.append(_Component(name, str(node.get("class", "")), mx * my * count, mx, my, cattrs,
                              node.get("constraints") or {}))
    return mx, my


def _collect_components(spec: dict, where: str) -> list[_Component]:
    comps: list[_Component] = []
    if "nodes" in spec:
        _walk_nodes(spec["nodes"] or [], (1, 1), {}, comps, where)
    elif "subtree" in spec or "local" in spec:
        root = {"name": spec.get("name", "top"), "attributes": spec.get("attributes") or {},
                "local": spec.get("local") or [], "subtree": spec.get("subtree") or []}
        _walk_subtree(root, 1, {}, comps, where)
    else:
        raise InputError(f"{where}: the architecture has neither 'subtree'/'local' nor 'nodes'")
    if len(comps) < 2:
        raise InputError(f"{where}: the architecture needs at least one storage level and a compute level, "
                         f"found {len(comps)} component(s)")
    return comps


def _mesh(c: _Component, where: str) -> tuple[int, int]:
    """(meshX, meshY) of a component; like Timeloop's ValidateTopology, a missing one is instances / the other,
    which must divide evenly."""
    if c.instances < 1:
        raise InputError(f"{where}: component {c.name!r}: instances must be >= 1, got {c.instances}")
    mx = None if c.mesh_x is None else _int(c.mesh_x, f"{where}: {c.name}.meshX")
    my = None if c.mesh_y is None else _int(c.mesh_y, f"{where}: {c.name}.meshY")
    for axis, v in (("meshX", mx), ("meshY", my)):
        if v is not None and v < 1:
            raise InputError(f"{where}: component {c.name!r}: {axis} must be >= 1, got {v}")
    if mx is None and my is None:
        return c.instances, 1
    if mx is None:
        mx = max(1, c.instances // my)
    elif my is None:
        my = max(1, c.instances // mx)
    if mx * my != c.instances:
        raise InputError(f"{where}: component {c.name!r}: meshX*meshY = {mx}*{my} does not equal its "
                         f"{c.instances} instances")
    return mx, my


def _level_from_component(c: _Component, where: str) -> ir.Level:
    a = c.attributes
    what = f"{where}: {c.name}"
    word_bits = _int(_attr(a, "datawidth", "word-bits", "word_bits", "word_width",
                           default=_TIMELOOP_DEFAULT_WORD_BITS), f"{what}.datawidth")
    if word_bits < 1:
        raise InputError(f"{what}: datawidth must be >= 1 bit, got {word_bits}")
    block = _attr(a, "block_size", "block-size", "n_words")
    width = _attr(a, "width", "memory_width")
    if block is not None:
        block_size = _int(block, f"{what}.block_size")
        if block_size < 1:
            raise InputError(f"{what}: block_size must be >= 1 word, got {block_size}")
        width = block_size * word_bits
    elif width is None:
        width = word_bits
    width = _int(width, f"{what}.width")
    cluster = _attr(a, "cluster_size")
    if cluster is not None and block is None:
        # Timeloop (model/buffer.cpp): with cluster_size given, block_size = width / cluster_size / datawidth;
        # the level's row (one instance's share) is width / cluster_size bits.
        cluster = _int(cluster, f"{what}.cluster_size")
        if cluster < 1 or (cluster > 1 and width % (cluster * word_bits)):
            raise InputError(f"{what}: width {width} bits is not a multiple of cluster_size {cluster} x datawidth "
                             f"{word_bits} bits")
        width //= cluster
    if width < word_bits:
        raise InputError(f"{what}: width {width} is smaller than datawidth {word_bits}")
    if width % word_bits:
        # Timeloop (model/buffer.cpp) asserts width % (datawidth x block size) == 0.
        raise InputError(f"{what}: width {width} bits is not a multiple of datawidth {word_bits} bits")
    block_size = width // word_bits
    depth = _attr(a, "depth", "memory_depth")
    entries = _attr(a, "entries")
    size_kb = _attr(a, "sizeKB")
    if depth is not None:
        depth = _int(depth, f"{what}.depth")
    elif entries is not None:
        depth = math.ceil(_int(entries, f"{what}.entries") / block_size)
    elif size_kb is not None:
        depth = int(_num(size_kb, f"{what}.sizeKB") * 1024 * 8 // (word_bits * block_size))
    if depth is not None and depth < 0:
        raise InputError(f"{what}: depth must be >= 0 rows, got {depth}")
    bw = _attr(a, "bandwidth")
    rbw = _attr(a, "read_bandwidth", "read-bandwidth")
    wbw = _attr(a, "write_bandwidth", "write-bandwidth")
    if bw is not None and rbw is None and wbw is None:      # deprecated: read = write = bandwidth / 2
        rbw = wbw = _num(bw, f"{what}.bandwidth") / 2
    sbw = _attr(a, "shared_bandwidth", "shared-bandwidth")
    mx, my = _mesh(c, where)
    attrs = dict(a)
    mu = _attr(a, "min_utilization", "min-utilization")
    if mu is not None:
        mu = float(_num(mu, f"{what}.min_utilization"))
        if not 0.0 <= mu <= 1.0:
            raise InputError(f"{what}: min_utilization must be between 0 and 1, got {mu}")
        attrs["min_utilization"] = mu

    def positive(value: Any, name: str, unit: str) -> Optional[float]:
        if value is None:
            return None
        v = float(_num(value, f"{what}.{name}"))
        if not v > 0:
            raise InputError(f"{what}: {name} must be > 0 {unit}, got {value!r}")
        return v

    return ir.Level(
        name=c.name, cls=c.cls or "SRAM", instances=c.instances, mesh_x=mx, mesh_y=my, depth=depth,
        width=width, word_bits=word_bits, n_banks=_int(_attr(a, "n_banks", "num-banks", default=1),
                                                       f"{what}.n_banks"),
        read_bandwidth=positive(rbw, "read_bandwidth", "words/cycle"),
        write_bandwidth=positive(wbw, "write_bandwidth", "words/cycle"),
        shared_bandwidth=positive(sbw, "shared_bandwidth", "words/cycle"),
        multiple_buffering=positive(_attr(a, "multiple_buffering", "multiple-buffering", default=1),
                                    "multiple_buffering", "(a factor)"),
        attributes=attrs,
    )


def arch_from_yaml(spec: dict, *, where: str = "architecture") -> ir.Arch:
    """Build an :class:`ir.Arch` from the value of a v0.4 ``architecture:`` key."""
    if not isinstance(spec, dict):
        raise InputError(f"{where}: expected a mapping, found {type(spec).__name__}")
    comps = _collect_components(spec, where)
    compute_c = comps[-1]
    storage = comps[:-1]
    for c in storage:
        if any(c.cls.lower() == k for k in COMPUTE_CLASSES):
            raise InputError(f"{where}: compute component {c.name!r} (class {c.cls}) is not the innermost "
                             f"component; Timeloop needs the arithmetic units as the leaves")
    levels = [_level_from_component(c, where) for c in storage]
    names = [lv.name for lv in levels] + [compute_c.name]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise InputError(f"{where}: component names must be unique; repeated: {', '.join(sorted(dup))}")
    cm = _mesh(compute_c, where)
    ca = compute_c.attributes
    compute = ir.ComputeLevel(name=compute_c.name, cls=compute_c.cls or "intmac", instances=compute_c.instances,
                              mesh_x=cm[0], mesh_y=cm[1],
                              word_bits=_int(_attr(ca, "datawidth", "width", "word_bits",
                                                   default=_TIMELOOP_DEFAULT_WORD_BITS), f"{where}: compute width"),
                              attributes=dict(ca))
    for i, lv in enumerate(levels):
        ch = levels[i + 1] if i + 1 < len(levels) else compute
        if ch.instances % lv.instances:
            raise InputError(f"{where}: {ch.name} has {ch.instances} instances, not a multiple of the "
                             f"{lv.instances} instances of {lv.name} above it")
        # Timeloop (mapping/arch-properties.cpp) asserts that each mesh axis divides evenly.
        if ch.mesh_x % lv.mesh_x or ch.mesh_y % lv.mesh_y:
            raise InputError(f"{where}: the {ch.mesh_x}x{ch.mesh_y} mesh of {ch.name} does not divide into the "
                             f"{lv.mesh_x}x{lv.mesh_y} mesh of {lv.name} above it (meshX and meshY must each be "
                             f"a multiple of the parent's)")
    top = comps[0].attributes
    cycle = _attr(top, "global_cycle_seconds", "cycle_seconds", default=1e-9)
    arch = ir.Arch(name=str(spec.get("name") or _first_name(spec) or "arch"), levels=levels, compute=compute,
                   cycle_seconds=float(_num(cycle, f"{where}.global_cycle_seconds")),
                   technology=str(_attr(top, "technology", default="45nm")))
    # timeloopfe v4 per-component keep/bypass constraints naming data spaces; keep_only, bypass_only and "*"
    # need the problem's data spaces and are resolved by load_inputs (constraints.component_targets).
    for c, lv in zip(storage, levels):
        ds = (c.constraints or {}).get("dataspace") or {}
        if not isinstance(ds, dict):
            continue
        for key in ("keep", "bypass"):
            names = _listify(ds.get(key))
            if names and "*" not in names:
                setattr(lv, key, names)
    return arch


def _first_name(spec: dict) -> Optional[str]:
    for sub in spec.get("subtree") or []:
        if isinstance(sub, dict) and sub.get("name"):
            return parse_name(sub["name"])[0]
    return None


def _clean_attr_value(v: Any) -> Any:
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def arch_to_yaml(arch: ir.Arch) -> dict:
    """The value of a v0.4 ``architecture:`` key (flattened ``subtree``/``local`` form, like timeloop-model's
    parsed-processed-input.yaml) for ``arch``."""
    top_attrs = {"version": "0.4", "technology": arch.technology, "global_cycle_seconds": arch.cycle_seconds}
    local = []
    keep_out = {"depth", "width", "datawidth", "meshX", "meshY", "n_banks", "read_bandwidth", "write_bandwidth",
                "shared_bandwidth", "multiple_buffering", "instances", "block_size", "block-size", "n_words",
                "entries", "sizeKB", "memory_depth", "memory_width", "word-bits", "word_bits", "word_width",
                "class", "bandwidth", "global_cycle_seconds", "technology", "version"}
    for lv in arch.levels:
        a: dict[str, Any] = {}
        if lv.depth is not None:
            a["depth"] = int(lv.depth)
        a["width"] = int(lv.width) * int((lv.attributes or {}).get("cluster_size", 1) or 1)
        a["datawidth"] = int(lv.word_bits)
        a["n_banks"] = int(lv.n_banks)
        if lv.read_bandwidth is not None:
            a["read_bandwidth"] = _clean_attr_value(lv.read_bandwidth)
        if lv.write_bandwidth is not None:
            a["write_bandwidth"] = _clean_attr_value(lv.write_bandwidth)
        if lv.shared_bandwidth is not None:
            a["shared_bandwidth"] = _clean_attr_value(lv.shared_bandwidth)
        a["multiple_buffering"] = _clean_attr_value(lv.multiple_buffering)
        a["meshX"] = int(lv.mesh_x)
        a["meshY"] = int(lv.mesh_y)
        for k, v in (lv.attributes or {}).items():
            if k not in keep_out and k not in a and _yaml_scalar(v):
                a[k] = v
        local.append({"name": f"{lv.name}[1..{lv.instances}]", "class": lv.cls, "attributes": a})
    c = arch.compute
    ca: dict[str, Any] = {"width": int(c.word_bits), "meshX": int(c.mesh_x), "meshY": int(c.mesh_y)}
    for k, v in (c.attributes or {}).items():
        if k not in keep_out and k not in ca and _yaml_scalar(v):
            ca[k] = v
    local.append({"name": f"{c.name}[1..{c.instances}]", "class": c.cls, "attributes": ca})
    return {"version": "0.4",
            "subtree": [{"name": _safe_name(arch.name), "attributes": top_attrs, "local": local}]}


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name) or "arch"


def _yaml_scalar(v: Any) -> bool:
    return isinstance(v, (str, int, float, bool)) or v is None


def bypass_directive(target: str, keep: Optional[list[str]], bypass: Optional[list[str]]) -> Optional[dict]:
    """A v0.4 ``type: bypass`` directive (mapping or constraint) for ``target``; None when both lists are empty."""
    if not keep and not bypass:
        return None
    d: dict[str, Any] = {"target": target, "type": "bypass"}
    if keep:
        d["keep"] = list(keep)
    if bypass:
        d["bypass"] = list(bypass)
    return d


def arch_constraints_to_yaml(arch: ir.Arch) -> dict:
    targets = [bypass_directive(lv.name, lv.keep, lv.bypass) for lv in arch.levels]
    return {"targets": [t for t in targets if t is not None]}


# ---------------------------------------------------------------------------------------------------------
# Problem
# ---------------------------------------------------------------------------------------------------------

_TERM = re.compile(r"^\s*(?:(-?\d+|[A-Za-z_][A-Za-z0-9_]*)\s*\*\s*)?([A-Za-z_][A-Za-z0-9_]*)"
                   r"(?:\s*\*\s*(-?\d+|[A-Za-z_][A-Za-z0-9_]*))?\s*$")


def _parse_term(term: Any, dims: list[str], coefs: dict[str, int], what: str) -> ir.ProjectionTerm:
    if isinstance(term, (list, tuple)):
        parts = [str(t).strip() for t in term]
        if len(parts) == 1:
            d, c = parts[0], 1
        elif len(parts) == 2:
            a, b = parts
            if a in dims and b not in dims:
                d, c = a, b
            elif b in dims and a not in dims:
                d, c = b, a
            else:
                raise InputError(f"{what}: term {term!r} needs one dimension and one coefficient")
        else:
            raise InputError(f"{what}: term {term!r} has more than two parts")
    else:
        m = _TERM.match(str(term))
        if not m:
            raise InputError(f"{what}: cannot read projection term {term!r}")
        left, d, right = m.group(1), m.group(2), m.group(3)
        if d not in dims and left in dims:
            d, left = left, d
        c = left if left is not None else (right if right is not None else 1)
    if d not in dims:
        raise InputError(f"{what}: unknown dimension {d!r} in projection; dimensions are {', '.join(dims)}")
    if isinstance(c, str):
        if re.fullmatch(r"-?\d+", c):
            c = int(c)
        elif c not in coefs:
            raise InputError(f"{what}: unknown coefficient {c!r}; coefficients are "
                             f"{', '.join(coefs) or '(none)'}")
    return (d, c)


def _parse_projection(proj: Any, dims: list[str], coefs: dict[str, int], what: str) -> ir.Projection:
    if isinstance(proj, str):
        proj = [r for r in re.split(r"\s*,\s*", proj.strip().strip("[]")) if r]
    if not isinstance(proj, (list, tuple)) or not proj:
        raise InputError(f"{what}: projection must be a non-empty list of ranks, got {proj!r}")
    ranks: ir.Projection = []
    for rank in proj:
        if isinstance(rank, str):
            terms = [t for t in rank.split("+")]
        elif isinstance(rank, (list, tuple)) and rank and all(isinstance(t, (list, tuple)) for t in rank):
            terms = list(rank)
        elif isinstance(rank, (list, tuple)):
            terms = [list(rank)]
        else:
            terms = [str(rank)]
        ranks.append([_parse_term(t, dims, coefs, what) for t in terms])
    return ranks


def _role(name: str, read_write: bool, seen_inputs: int) -> str:
    if read_write:
        return "output"
    low = name.lower()
    if any(k in low for k in ("weight", "filter", "kernel")):
        return "weight"
    if any(k in low for k in ("input", "ifmap", "activation")):
        return "input"
    return "input" if seen_inputs == 0 else "weight"


def problem_from_yaml(spec: dict, *, where: str = "problem", bits: int = 8,
                      warnings: Optional[list[str]] = None) -> ir.Problem:
    """Build an :class:`ir.Problem` from the value of a v0.4 ``problem:`` key (``shape`` + ``instance``).

    ``instance`` keys that are neither a dimension nor a coefficient (timeloopfe leaves layer parameters such as
    ``H``, ``W``, ``Hpad`` there) are ignored as Timeloop ignores them (it looks up only the shape's dimensions
    and coefficients); they are named in ``warnings`` when a list is given."""
    if not isinstance(spec, dict):
        raise InputError(f"{where}: expected a mapping, found {type(spec).__name__}")
    shape = spec.get("shape")
    instance = spec.get("instance")
    if shape is None or instance is None:
        raise InputError(f"{where}: needs both 'shape' and 'instance'")
    if not isinstance(shape, dict) or not isinstance(instance, dict):
        raise InputError(f"{where}: 'shape' and 'instance' must be mappings")
    dims = [str(d) for d in _kind(shape, "dimensions", list, f"{where}.shape")]
    if not dims:
        raise InputError(f"{where}.shape: 'dimensions' is empty")
    if len(set(dims)) != len(dims):
        raise InputError(f"{where}.shape: a dimension is listed twice in {dims}")
    coefs: dict[str, int] = {}
    for c in _kind(shape, "coefficients", list, f"{where}.shape"):
        if isinstance(c, dict):
            if "name" not in c:
                raise InputError(f"{where}.shape.coefficients: an entry has no name: {c!r}")
            coefs[str(c["name"])] = _int(c.get("default", 1), f"{where}.shape.coefficients.{c['name']}")
        else:
            coefs[str(c)] = 1
    sizes: dict[str, int] = {}
    for d in dims:
        if d not in instance:
            raise InputError(f"{where}.instance: dimension {d} has no size")
        sizes[d] = _int(instance[d], f"{where}.instance.{d}")
        if sizes[d] < 1:
            raise InputError(f"{where}.instance: dimension {d} must be >= 1, got {sizes[d]}")
    ignored = []
    for k, v in instance.items():
        if k in coefs:
            coefs[k] = _int(v, f"{where}.instance.{k}")
        elif k not in sizes and k != "densities":
            ignored.append(repr(k))
    if ignored and warnings is not None:
        warnings.append(f"{where}.instance: {', '.join(ignored)} {'is' if len(ignored) == 1 else 'are'} neither a "
                        f"dimension nor a coefficient; ignored, as Timeloop ignores it")
    dss = shape.get("data_spaces") or shape.get("data-spaces") or []
    if not dss or not isinstance(dss, list):
        raise InputError(f"{where}.shape: no data_spaces list")
    tensors = []
    n_in = 0
    for ds in dss:
        if not isinstance(ds, dict) or "name" not in ds:
            raise InputError(f"{where}.shape.data_spaces: each entry needs a name and a projection, found {ds!r}")
        name = str(ds.get("name"))
        if any(t.name == name for t in tensors):
            raise InputError(f"{where}.shape.data_spaces: data space {name!r} is listed twice")
        rw = bool(ds.get("read_write", ds.get("read-write", False)))
        role = _role(name, rw, n_in)
        if role != "output":
            n_in += 1
        proj = _parse_projection(ds.get("projection"), dims, coefs, f"{where}.data_spaces.{name}")
        tensors.append(ir.Tensor(name=name, role=role, projection=proj, bits=bits, read_write=rw))
    if not any(t.read_write for t in tensors):
        raise InputError(f"{where}: no data space is read_write (the output)")
    multi = any(len(r) > 1 for t in tensors for r in t.projection)
    return ir.Problem(name=str(shape.get("name", "problem")), dims=sizes, dataspaces=tensors,
                      coefficients=coefs, kind="conv" if multi else "gemm")


def problem_to_yaml(problem: ir.Problem) -> dict:
    """The value of a v0.4 ``problem:`` key for ``problem``."""
    def term(t: ir.ProjectionTerm) -> list:
        d, c = t
        return [d] if c == 1 else [d, c]
    coefs = [{"name": k, "default": 1} for k in problem.coefficients]
    shape = {
        "name": problem.name or "problem",
        "dimensions": list(problem.dims),
        "coefficients": coefs,
        "data_spaces": [{"name": t.name, "projection": [[term(x) for x in rank] for rank in t.projection],
                         **({"read_write": True} if t.read_write else {})} for t in problem.dataspaces],
    }
    instance: dict[str, Any] = {d: int(n) for d, n in problem.dims.items()}
    instance.update({k: int(v) for k, v in problem.coefficients.items()})
    return {"version": "0.4", "shape": shape, "instance": instance}


# ---------------------------------------------------------------------------------------------------------
# Mapping
# ---------------------------------------------------------------------------------------------------------

def _directives(spec: Any, where: str) -> list[dict]:
    if isinstance(spec, dict):
        for key in ("mapping", "targets", "directives"):
            if key in spec:
                return _directives(spec[key], where)
        raise InputError(f"{where}: expected a list of directives (target, type, factors, permutation)")
    if not isinstance(spec, list):
        raise InputError(f"{where}: expected a list of directives, found {type(spec).__name__}")
    for d in spec:
        if not isinstance(d, dict):
            raise InputError(f"{where}: each directive must be a mapping, found {d!r}")
    return spec


def _target_level(d: dict, arch: ir.Arch, where: str) -> ir.Level:
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
        lv = _target_level(d, arch, where)
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
                    lm.temporal_permutation = _perm_str(perm, dims)
                    seen_perm[(lv.name, "t")] = True
            else:
                lm.spatial_factors.update(f)
                if perm:
                    lm.spatial_permutation = _perm_str(perm, dims)
                if d.get("split") is not None:
                    lm.spatial_split = _int(d.get("split"), f"{w} split")
                    if lm.spatial_split < 0:
                        raise InputError(f"{w}: split must be >= 0, got {lm.spatial_split}")
            for key in ("keep", "bypass"):
                if d.get(key) is not None:
                    _set_keep_bypass(lm, key, _listify(d[key]), ds_names, w)
        elif typ in ("bypass", "datatype", "dataspace"):
            for key in ("keep", "bypass"):
                if d.get(key) is not None:
                    _set_keep_bypass(lm, key, _listify(d[key]), ds_names, w)
        elif typ in ("utilization", "max_overbooked_proportion", "skew"):
            continue
        else:
            raise InputError(f"{w}: unknown directive type {typ!r}; types are temporal, spatial, bypass")
    levels = []
    for lv in arch.levels:
        lm = per[lv.name]
        lm.temporal_factors = {k: int(lm.temporal_factors.get(k, 1)) for k in dims}
        lm.temporal_permutation = _perm_str(_pad_perm(lm.temporal_permutation, dims), dims)
        if lm.spatial_factors:
            lm.spatial_factors = {k: int(lm.spatial_factors.get(k, 1)) for k in dims}
            lm.spatial_permutation = _perm_str(_pad_perm(lm.spatial_permutation, dims), dims)
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


def _pad_perm(perm: Union[str, list[str]], dims: list[str]) -> list[str]:
    p = split_dims(perm, dims, "permutation") if isinstance(perm, str) else list(perm)
    return p + [d for d in dims if d not in p]


def _perm_str(perm: list[str], dims: list[str]) -> str:
    if all(len(d) == 1 for d in dims):
        return "".join(perm)
    return " ".join(perm)


def perm_list(perm: str, dims: list[str]) -> list[str]:
    """A LevelMapping permutation string as a list of dimensions (innermost first), padded like Timeloop."""
    return _pad_perm(perm or "", dims)


def mapping_to_yaml(mapping: ir.Mapping, problem: Optional[ir.Problem] = None) -> list:
    """The value of a v0.4 ``mapping:`` key: temporal, spatial and bypass directives per storage level."""
    out: list[dict] = []
    for lm in mapping.levels:
        dims = list(problem.dims) if problem is not None else list(lm.temporal_factors) or list(lm.spatial_factors)
        tf = {d: int(lm.temporal_factors.get(d, 1)) for d in dims}
        out.append({"target": lm.target, "type": "temporal",
                    "factors": " ".join(f"{d}={v}" for d, v in tf.items()),
                    "permutation": _perm_str(_pad_perm(lm.temporal_permutation or "", dims), dims)})
        if lm.spatial_factors and any(int(v) > 1 for v in lm.spatial_factors.values()):
            sf = {d: int(lm.spatial_factors.get(d, 1)) for d in dims}
            sd: dict[str, Any] = {"target": lm.target, "type": "spatial",
                                  "factors": " ".join(f"{d}={v}" for d, v in sf.items()),
                                  "permutation": _perm_str(_pad_perm(lm.spatial_permutation or "", dims), dims)}
            if lm.spatial_split is not None:
                sd["split"] = int(lm.spatial_split)
            out.append(sd)
        bd = bypass_directive(lm.target, lm.keep, lm.bypass)
        if bd is not None:
            out.append(bd)
    return out


# ---------------------------------------------------------------------------------------------------------
# All inputs
# ---------------------------------------------------------------------------------------------------------

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
    """Read one or more v0.4 YAML files (merged like timeloop-model does) into typed inputs.

    A ``mapping`` in the inputs must satisfy the ``architecture_constraints`` (MappingError otherwise), as
    timeloop-model requires; ``check_mapping_constraints=False`` skips that (the mapper ignores the mapping).

    ``ERT``/``ART`` keys found in the inputs, or the ``ert``/``art`` files, fill each level's
    ``action_energy_pJ`` and ``area_um2``.
    """
    from cimscope.timeloop.constraints import check_mapping, constraints_from_yaml
    from cimscope.timeloop.ert import apply_art, apply_ert, ert_table, art_table

    paths = [str(p) for p in paths]
    raw = load_yaml_files(paths)
    where = ", ".join(paths)
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
        from cimscope.timeloop.ert import load_ert
        load_ert(ert, arch)
        has_ert = True
    if art is not None:
        from cimscope.timeloop.ert import load_art
        load_art(art, arch)
        has_art = True
    warnings += [w for w in constraints.warnings if w not in warnings]
    return TimeloopInputs(arch=arch, problem=problem, mapping=mapping, constraints=constraints, raw=raw,
                          sources=paths, has_ert=has_ert, has_art=has_art, warnings=warnings)


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


def check_mapping_shape(mapping: ir.Mapping, arch: ir.Arch) -> None:
    names = [lv.name for lv in arch.levels]
    got = [lm.target for lm in mapping.levels]
    if got != names:
        raise MappingError(f"mapping levels {got} do not match the architecture's storage levels {names} "
                           f"(outermost first)")
