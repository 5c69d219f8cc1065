"""The ``architecture:`` document (Timeloop v0.4): read into :class:`cimscope.ir.Arch` and written back.

Accepted forms (all produce the same Arch):

* hierarchical ``subtree``/``local`` (Timeloop v0.3/v0.4), including the flattened form timeloop-model
  dumps as ``parsed-processed-input.yaml`` (one top-level subtree whose ``local`` list holds every
  component as ``Name[1..N]`` with N the total instance count);
* nested subtrees ``PE[0..15]`` whose ranges multiply the instances of everything inside them;
* the timeloopfe v0.4 ``nodes:`` list (``!Container`` / ``!Component`` / ``!Hierarchical`` tags, with
  ``spatial: {meshX, meshY}`` fanouts).

Storage levels come outermost first; the innermost (last) component is the compute level, as in Timeloop where
the arithmetic units are the leaves of the tree.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional

from cimscope import ir
from cimscope.errors import InputError
from cimscope.timeloop.parsing import (as_int, as_number, bypass_directive, first_attr, listify, parse_name,
                                       safe_name, typed_value, yaml_scalar)


#: Timeloop's storage and compute classes (model/topology.hpp); other classes are classified by position.
BUFFER_CLASSES = ("DRAM", "SRAM", "regfile", "smartbuffer", "storage")
COMPUTE_CLASSES = ("mac", "intmac", "fpmac", "compute")

_TIMELOOP_DEFAULT_WORD_BITS = 16   # BufferLevel::Specs::kDefaultWordBits


@dataclass
class ArchComponent:
    name: str
    cls: str
    instances: int
    mesh_x: Optional[int]
    mesh_y: Optional[int]
    attributes: dict
    constraints: dict = field(default_factory=dict)


def _walk_subtree(node: dict, mult: int, inherited: dict, out: list, where: str) -> None:
    if not isinstance(node, dict):
        raise InputError(f"{where}: expected a mapping for an architecture node, found {node!r}")
    name, count = parse_name(node.get("name", "node"), where)
    w = f"{where}: {name}"
    attrs = dict(inherited)
    attrs.update(typed_value(node, "attributes", dict, w))
    mult *= count
    for comp in typed_value(node, "local", list, w):
        if not isinstance(comp, dict) or "name" not in comp:
            raise InputError(f"{where}: a 'local' entry of {name!r} has no name: {comp!r}")
        if comp.get("enabled") is False:
            continue
        cname, ccount = parse_name(comp["name"], where)
        cattrs = dict(attrs)
        cattrs.update(typed_value(comp, "attributes", dict, f"{where}: {cname}"))
        inst = cattrs.get("instances")
        instances = as_int(inst, f"{where}: {cname}.instances") if inst is not None else mult * ccount
        out.append(ArchComponent(cname, str(comp.get("class", cattrs.get("class", ""))), instances,
                              cattrs.get("meshX"), cattrs.get("meshY"), cattrs))
    for sub in typed_value(node, "subtree", list, w):
        _walk_subtree(sub, mult, attrs, out, where)


def _walk_nodes(nodes: list, mesh: tuple[int, int], inherited: dict, out: list, where: str) -> tuple[int, int]:
    mx, my = mesh
    attrs = dict(inherited)
    for node in nodes:
        if not isinstance(node, dict):
            raise InputError(f"{where}: expected a mapping in architecture nodes, found {node!r}")
        tag = str(node.get("_tag", "")).lower()
        spatial = typed_value(node, "spatial", dict, f"{where}: {node.get('name', 'node')}")
        if spatial:
            mx *= as_int(spatial.get("meshX", 1), f"{where}: {node.get('name', 'node')}.spatial.meshX")
            my *= as_int(spatial.get("meshY", 1), f"{where}: {node.get('name', 'node')}.spatial.meshY")
            if mx < 1 or my < 1:
                raise InputError(f"{where}: {node.get('name', 'node')}.spatial: meshX and meshY must be >= 1")
        if tag in ("hierarchical",) or ("nodes" in node and tag != "component"):
            mx, my = _walk_nodes(node.get("nodes") or [], (mx, my), attrs, out, where)
            continue
        if tag == "parallel":
            raise InputError(f"{where}: !Parallel architecture branches are not supported; "
                             f"write one branch per architecture")
        if tag == "container" or ("class" not in node and tag != "component"):
            attrs.update(typed_value(node, "attributes", dict, f"{where}: {node.get('name', 'node')}"))
            continue
        name, count = parse_name(node.get("name", "component"), where)
        cattrs = dict(attrs)
        cattrs.update(typed_value(node, "attributes", dict, f"{where}: {name}"))
        if node.get("enabled") is False:
            continue
        out.append(ArchComponent(name, str(node.get("class", "")), mx * my * count, mx, my, cattrs,
                              node.get("constraints") or {}))
    return mx, my


def collect_components(spec: dict, where: str) -> list[ArchComponent]:
    comps: list[ArchComponent] = []
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


def _mesh(c: ArchComponent, where: str) -> tuple[int, int]:
    """(meshX, meshY) of a component; like Timeloop's ValidateTopology, a missing one is instances / the other,
    which must divide evenly."""
    if c.instances < 1:
        raise InputError(f"{where}: component {c.name!r}: instances must be >= 1, got {c.instances}")
    mx = None if c.mesh_x is None else as_int(c.mesh_x, f"{where}: {c.name}.meshX")
    my = None if c.mesh_y is None else as_int(c.mesh_y, f"{where}: {c.name}.meshY")
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


def _level_from_component(c: ArchComponent, where: str) -> ir.Level:
    a = c.attributes
    what = f"{where}: {c.name}"
    word_bits = as_int(first_attr(a, "datawidth", "word-bits", "word_bits", "word_width",
                           default=_TIMELOOP_DEFAULT_WORD_BITS), f"{what}.datawidth")
    if word_bits < 1:
        raise InputError(f"{what}: datawidth must be >= 1 bit, got {word_bits}")
    block = first_attr(a, "block_size", "block-size", "n_words")
    width = first_attr(a, "width", "memory_width")
    if block is not None:
        block_size = as_int(block, f"{what}.block_size")
        if block_size < 1:
            raise InputError(f"{what}: block_size must be >= 1 word, got {block_size}")
        width = block_size * word_bits
    elif width is None:
        width = word_bits
    width = as_int(width, f"{what}.width")
    cluster = first_attr(a, "cluster_size")
    if cluster is not None and block is None:
        # Timeloop (model/buffer.cpp): with cluster_size given, block_size = width / cluster_size / datawidth;
        # the level's row (one instance's share) is width / cluster_size bits.
        cluster = as_int(cluster, f"{what}.cluster_size")
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
    depth = first_attr(a, "depth", "memory_depth")
    entries = first_attr(a, "entries")
    size_kb = first_attr(a, "sizeKB")
    if depth is not None:
        depth = as_int(depth, f"{what}.depth")
    elif entries is not None:
        depth = math.ceil(as_int(entries, f"{what}.entries") / block_size)
    elif size_kb is not None:
        depth = int(as_number(size_kb, f"{what}.sizeKB") * 1024 * 8 // (word_bits * block_size))
    if depth is not None and depth < 0:
        raise InputError(f"{what}: depth must be >= 0 rows, got {depth}")
    bw = first_attr(a, "bandwidth")
    rbw = first_attr(a, "read_bandwidth", "read-bandwidth")
    wbw = first_attr(a, "write_bandwidth", "write-bandwidth")
    if bw is not None and rbw is None and wbw is None:      # deprecated: read = write = bandwidth / 2
        rbw = wbw = as_number(bw, f"{what}.bandwidth") / 2
    sbw = first_attr(a, "shared_bandwidth", "shared-bandwidth")
    mx, my = _mesh(c, where)
    attrs = dict(a)
    mu = first_attr(a, "min_utilization", "min-utilization")
    if mu is not None:
        mu = float(as_number(mu, f"{what}.min_utilization"))
        if not 0.0 <= mu <= 1.0:
            raise InputError(f"{what}: min_utilization must be between 0 and 1, got {mu}")
        attrs["min_utilization"] = mu

    def positive(value: Any, name: str, unit: str) -> Optional[float]:
        if value is None:
            return None
        v = float(as_number(value, f"{what}.{name}"))
        if not v > 0:
            raise InputError(f"{what}: {name} must be > 0 {unit}, got {value!r}")
        return v

    return ir.Level(
        name=c.name, cls=c.cls or "SRAM", instances=c.instances, mesh_x=mx, mesh_y=my, depth=depth,
        width=width, word_bits=word_bits, n_banks=as_int(first_attr(a, "n_banks", "num-banks", default=1),
                                                       f"{what}.n_banks", low=1),
        read_bandwidth=positive(rbw, "read_bandwidth", "words/cycle"),
        write_bandwidth=positive(wbw, "write_bandwidth", "words/cycle"),
        shared_bandwidth=positive(sbw, "shared_bandwidth", "words/cycle"),
        multiple_buffering=positive(first_attr(a, "multiple_buffering", "multiple-buffering", default=1),
                                    "multiple_buffering", "(a factor)"),
        attributes=attrs,
    )


def arch_from_yaml(spec: dict, *, where: str = "architecture") -> ir.Arch:
    """Build an :class:`ir.Arch` from the value of a v0.4 ``architecture:`` key."""
    if not isinstance(spec, dict):
        raise InputError(f"{where}: expected a mapping, found {type(spec).__name__}")
    comps = collect_components(spec, where)
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
                              word_bits=as_int(first_attr(ca, "datawidth", "width", "word_bits",
                                                          default=_TIMELOOP_DEFAULT_WORD_BITS),
                                               f"{where}: compute width", low=1),
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
    cycle = first_attr(top, "global_cycle_seconds", "cycle_seconds", default=1e-9)
    arch = ir.Arch(name=str(spec.get("name") or _first_name(spec) or "arch"), levels=levels, compute=compute,
                   cycle_seconds=float(as_number(cycle, f"{where}.global_cycle_seconds")),
                   technology=str(first_attr(top, "technology", default="45nm")))
    # timeloopfe v4 per-component keep/bypass constraints naming data spaces; keep_only, bypass_only and "*"
    # need the problem's data spaces and are resolved by load_inputs (constraints.component_targets).
    for c, lv in zip(storage, levels):
        ds = (c.constraints or {}).get("dataspace") or {}
        if not isinstance(ds, dict):
            continue
        for key in ("keep", "bypass"):
            names = listify(ds.get(key))
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
            if k not in keep_out and k not in a and yaml_scalar(v):
                a[k] = v
        local.append({"name": f"{lv.name}[1..{lv.instances}]", "class": lv.cls, "attributes": a})
    c = arch.compute
    ca: dict[str, Any] = {"width": int(c.word_bits), "meshX": int(c.mesh_x), "meshY": int(c.mesh_y)}
    for k, v in (c.attributes or {}).items():
        if k not in keep_out and k not in ca and yaml_scalar(v):
            ca[k] = v
    local.append({"name": f"{c.name}[1..{c.instances}]", "class": c.cls, "attributes": ca})
    return {"version": "0.4",
            "subtree": [{"name": safe_name(arch.name), "attributes": top_attrs, "local": local}]}


def arch_constraints_to_yaml(arch: ir.Arch) -> dict:
    targets = [bypass_directive(lv.name, lv.keep, lv.bypass) for lv in arch.levels]
    return {"targets": [t for t in targets if t is not None]}
