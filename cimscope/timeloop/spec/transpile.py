"""The processed specification as Timeloop reads it (timeloopfe ``v4_to_v3.transpile``): the flattened
``subtree``/``local`` architecture of ``parsed-processed-input.yaml`` plus the constraint list.

Walking the tree in order, with the current mesh (meshX, meshY) starting at 1x1:

* a ``!Container`` adds its attributes to every component after it (where not set) and, when it is the first
  node, names the top level ``<name>_top_level`` and adds them to the top-level attributes (the variables);
* a node with a fanout (``spatial: {meshX, meshY}`` > 1, container or component) first places a dummy storage
  ``inter_<name>_spatial`` at the current mesh (width/depth/datawidth 1, bypassing every data space, every
  temporal factor 1) that carries the node's spatial constraints; the mesh then grows by the fanout, and a
  component itself comes after its dummy with the grown mesh;
* every placed component is named ``Name[1..meshX*meshY]`` and gets meshX/meshY and timeloopfe's attribute
  defaults; its constraints become list entries ``{target, type, ...}`` (``dataspace`` is written ``bypass``,
  factors joined with commas, permutations joined);
* ``!Nothing`` nodes and disabled components are skipped; a container or a fanout below a ``!Parallel`` is
  refused (timeloopfe refuses both).
"""
from __future__ import annotations

import copy
from typing import Any

from cimscope.errors import InputError
from cimscope.timeloop.spec.tree import fanout, is_branch, kind

STORAGE_DEFAULTS = {"has_power_gating": False, "n_banks": 2, "cluster_size": 1, "reduction_supported": True,
                    "multiple_buffering": 1, "min_utilization": 0, "allow_overbooking": False}
OTHER_DEFAULTS = {"has_power_gating": False}
_DUMMY_ATTRS = {"width": 1, "depth": 1, "datawidth": 1, "technology": -1}


def _clean(x: Any) -> Any:
    if isinstance(x, dict):
        out = {k: _clean(v) for k, v in x.items()}
        return {k: v for k, v in out.items() if not (v is None or v == [] or v == {})}
    return x


def dummy_constraints(dims: list[str], data_spaces: list[str], spatial: dict) -> dict:
    return {"temporal": {"factors": [f"{d}=1" for d in dims], "permutation": list(dims)},
            "dataspace": {"bypass": list(data_spaces)},
            "spatial": copy.deepcopy(spatial or {})}


def _constraint_entries(name: str, cons: dict) -> list[dict]:
    out = []
    for ctype, c in _clean(cons or {}).items():
        if not c:
            continue
        entry = dict(c)
        if isinstance(entry.get("factors"), list):
            entry["factors"] = ",".join(entry["factors"])
        if isinstance(entry.get("permutation"), list):
            entry["permutation"] = "".join(entry["permutation"])
        entry["type"] = "bypass" if ctype == "dataspace" else ctype
        entry["target"] = name
        out.append(entry)
    return out


class _Flattener:
    def __init__(self, variables: dict, dims: list[str], data_spaces: list[str]) -> None:
        self.level: dict = {"name": "top_level", "attributes": dict(variables), "local": []}
        self.dims, self.data_spaces = dims, data_spaces
        self.constraints: list[dict] = []
        self.arch_attrs: dict = {}
        self.mesh = [1, 1]
        self.first = True
        self.last_kind = ""

    def place(self, node: dict, k: str) -> None:
        name = str(node["name"])
        attrs = dict(STORAGE_DEFAULTS if k == "storage" else OTHER_DEFAULTS)
        attrs.update(_clean(node.get("attributes") or {}))
        attrs["meshX"], attrs["meshY"] = self.mesh
        for key, v in self.arch_attrs.items():
            attrs.setdefault(key, v)
        attrs.setdefault("power_gated_at", None)
        entry = {key: v for key, v in _clean(dict(node)).items()
                 if key not in ("name", "attributes", "spatial", "constraints", "sparse_optimizations")}
        entry = {"name": f"{name}[1..{self.mesh[0] * self.mesh[1]}]", **entry, "attributes": attrs}
        entry.setdefault("enabled", True)
        self.level["local"].append(entry)
        self.constraints.extend(_constraint_entries(name, node.get("constraints")))
        self.last_kind = k

    def visit(self, node: dict, in_parallel: bool) -> None:
        k = kind(node)
        if node.get("enabled", True) is False or k == "nothing":
            return
        name = node.get("name", "?")
        mx, my = fanout(node)
        has_fanout = mx * my != 1
        if k == "container":
            self.arch_attrs.update(_clean(node.get("attributes") or {}))
            if self.first:
                self.level["name"] = f"{name}_top_level"
                self.level["attributes"].update(_clean(node.get("attributes") or {}))
        self.first = False
        if k == "network":
            raise InputError(f"architecture: {name}: network components ({node.get('class')}) are not modelled by "
                             f"cimscope; remove the network node (Timeloop's default network is modelled)")
        if in_parallel and (k == "container" or has_fanout):
            raise InputError(f"architecture: {name}: a {'container' if k == 'container' else 'fanout'} under a "
                             f"!Parallel node is not supported (timeloopfe refuses it too)")
        cons = node.get("constraints") or {}
        if has_fanout:
            dummy = {"name": f"inter_{name}_spatial", "class": "dummy_storage", "attributes": dict(_DUMMY_ATTRS),
                     "constraints": dummy_constraints(self.dims, self.data_spaces, cons.get("spatial"))}
            self.place(dummy, "storage")
            self.mesh = [self.mesh[0] * mx, self.mesh[1] * my]
        if k != "container":
            node = dict(node)
            node["constraints"] = {t: c for t, c in cons.items() if not (has_fanout and t == "spatial")}
            self.place(node, k)

    def walk(self, nodes: list, in_parallel: bool = False) -> None:
        for n in nodes:
            if is_branch(n):
                self.walk(n.get("nodes") or [], in_parallel=n.tag == "Parallel")
            else:
                self.visit(n, in_parallel)


def flatten(nodes: list, variables: dict, dims: list[str], data_spaces: list[str]) -> tuple[dict, list[dict]]:
    """(architecture value, constraint list) of the processed document."""
    f = _Flattener(variables, dims, data_spaces)
    f.walk(nodes)
    if not f.level["local"]:
        raise InputError("architecture: no components (after skipping disabled and !Nothing nodes)")
    if f.last_kind != "compute":
        last = f.level["local"][-1]["name"]
        raise InputError(f"architecture: the last component must be a compute unit (a class containing mac or "
                         f"compute), found {last}")
    return {"version": "0.4", "subtree": [f.level]}, f.constraints
