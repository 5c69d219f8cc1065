"""The timeloopfe v0.4 architecture tree: node kinds and walks (timeloopfe ``v4/arch.py``).

A node is a :class:`Tagged` mapping. ``!Component`` nodes are classified by their ``class`` the way timeloopfe's
``component_factory`` does: a class containing DRAM, SRAM, regfile, smartbuffer or storage is a storage level;
one containing mac, intmac, fpmac or compute is a compute unit; XY_NoC, Legacy, ReductionTree, SimpleMulticast
are networks; ``nothing`` is nothing. Any other class is refused with that list.
"""
from __future__ import annotations

from typing import Any, Iterator

from cimscope.errors import InputError
from cimscope.timeloop.spec.yamlload import Tagged

BUFFER_CLASSES = ("DRAM", "SRAM", "regfile", "smartbuffer", "storage")
COMPUTE_CLASSES = ("mac", "intmac", "fpmac", "compute")
NETWORK_CLASSES = ("XY_NoC", "Legacy", "ReductionTree", "SimpleMulticast")
BRANCH_TAGS = ("Hierarchical", "Parallel", "Pipelined")


def tag(node: Any) -> str:
    return node.tag if isinstance(node, Tagged) else ""


def is_branch(node: dict) -> bool:
    return tag(node) in BRANCH_TAGS


def kind(node: dict) -> str:
    """'container', 'storage', 'compute', 'network', 'nothing', or a branch tag in lower case."""
    t = tag(node)
    if t in BRANCH_TAGS:
        return t.lower()
    if t == "Container":
        return "container"
    if t == "Nothing":
        return "nothing"
    if t not in ("Component", ""):
        raise InputError(f"architecture: unknown node tag !{t} on {node.get('name', 'a node')!r}; tags are "
                         f"!Container, !Component, !Hierarchical, !Parallel, !Pipelined, !Nothing")
    cls = node.get("class")
    if not isinstance(cls, str):
        raise InputError(f"architecture: component {node.get('name', '?')!r} has no 'class' (a string)")
    for classes, k in ((BUFFER_CLASSES, "storage"), (COMPUTE_CLASSES, "compute"), (NETWORK_CLASSES, "network"),
                       (("nothing",), "nothing")):
        if any(c in cls for c in classes):
            return k
    raise InputError(f"architecture: component {node.get('name', '?')!r} has class {cls!r}, which timeloopfe "
                     f"does not know; a class must contain one of {', '.join(BUFFER_CLASSES)} (storage), "
                     f"{', '.join(COMPUTE_CLASSES)} (compute), {', '.join(NETWORK_CLASSES)} (network) or nothing")


def leaves(nodes: list) -> Iterator[dict]:
    """Containers and components, depth first, in order."""
    for n in nodes:
        if is_branch(n):
            yield from leaves(n.get("nodes") or [])
        else:
            yield n


def named(nodes: list) -> Iterator[dict]:
    """Every node with a name (branches too), depth first, in order."""
    for n in nodes:
        if "name" in n:
            yield n
        if is_branch(n):
            yield from named(n.get("nodes") or [])


def fanout(node: dict, where: str = "architecture") -> tuple[int, int]:
    """(meshX, meshY) of a node's ``spatial`` (1 when absent); both must be positive integers."""
    sp = node.get("spatial") or {}
    if not isinstance(sp, dict):
        raise InputError(f"{where}: {node.get('name', '?')}.spatial must be a mapping such as {{meshX: 4}}")
    out = []
    for axis in ("meshX", "meshY"):
        v = sp.get(axis, 1)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or int(v) != v or v < 1:
            raise InputError(f"{where}: {node.get('name', '?')}.spatial.{axis} must be a positive integer, "
                             f"found {v!r}")
        out.append(int(v))
    extra = set(sp) - {"meshX", "meshY"}
    if extra:
        raise InputError(f"{where}: {node.get('name', '?')}.spatial: unknown key(s) {', '.join(sorted(extra))}; "
                         f"keys are meshX, meshY")
    return out[0], out[1]


def check_unique_names(nodes: list) -> None:
    seen: set = set()
    for leaf in leaves(nodes):
        n = leaf.get("name")
        if n is None:
            if kind(leaf) == "nothing":
                continue
            raise InputError(f"architecture: a {tag(leaf) or 'component'} node has no name: {dict(leaf)!r}")
        if n in seen:
            raise InputError(f"architecture: the name {n!r} is used by two nodes; names must be unique")
        seen.add(n)
