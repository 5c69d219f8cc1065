"""Fill architecture ERT rows and CiM primitive figures from the cimscope plug-ins (:mod:`cimscope.plugins`).

Each storage level of a preset names the plug-in component that costs it (``cimscope.plugins`` section of
the preset); the attributes passed are the level's own organisation: capacity (depth x width), access width,
banks, and the preset's technology node. The ERT row holds the plug-in's energy per action (Timeloop: per
vector access of ``width`` bits) and the ART row its area per instance.
"""
from __future__ import annotations

import math
from typing import Any

from cimscope import ir
from cimscope.errors import InputError


def _estimate(component: str, attrs: dict[str, Any]):
    from cimscope.plugins.base import estimate
    return estimate(component, attrs)


def level_attributes(component: str, level: ir.Level, tech_nm: float) -> dict[str, Any]:
    """Plug-in attributes describing ``level`` (names as the plug-ins declare them)."""
    if component == "sram_buffer":
        return {"capacity_bytes": level.depth * level.width // 8, "width_bits": level.width,
                "banks": level.n_banks, "technology": tech_nm}
    if component in ("hbm", "dram"):
        attrs = {"width_bits": level.width, "technology": tech_nm}
        if level.attributes.get("type"):
            attrs["type"] = level.attributes["type"]
        return attrs
    if component == "register":
        return {"width_bits": level.width, "depth": level.depth or 1, "technology": tech_nm}
    raise InputError(f"no attribute mapping for plug-in component {component!r}")


def compute_attributes(component: str, compute: ir.ComputeLevel, tech_nm: float) -> dict[str, Any]:
    from cimscope.plugins.base import get_estimator
    declared = get_estimator(component).attributes
    attrs: dict[str, Any] = {"technology": tech_nm}
    for name in ("bits", "datawidth", "input_bits", "weight_bits", "precision_bits"):
        if name in declared:
            attrs[name] = compute.word_bits
    return attrs


def fill_ert(arch: ir.Arch, plugin_map: dict[str, dict]) -> None:
    """Set ``action_energy_pJ`` and ``area_um2`` of every level and the compute level from the plug-ins."""
    tech_nm = float(arch.technology.replace("nm", ""))
    for lv in arch.levels:
        spec = plugin_map.get(lv.name)
        if spec is None:
            raise InputError(f"arch {arch.name!r}: no plug-in named for level {lv.name} in the preset")
        comp = spec["component"]
        attrs = {**level_attributes(comp, lv, tech_nm), **(spec.get("attributes") or {})}
        est = _estimate(comp, attrs)
        lv.action_energy_pJ = {a: est.actions[a].energy_pJ for a in ("read", "write", "update", "leak")
                               if a in est.actions}
        lv.area_um2 = est.area_um2
        lv.attributes["ert_source"] = f"{comp} plug-in: " + est.actions["read"].source
        lv.attributes["plugin"] = {"component": comp, "attributes": attrs}
        lv.attributes["leakage_W"] = est.leakage_W
    spec = plugin_map.get(arch.compute.name)
    if spec is None:
        raise InputError(f"arch {arch.name!r}: no plug-in named for compute {arch.compute.name}")
    comp = spec["component"]
    attrs = {**compute_attributes(comp, arch.compute, tech_nm), **(spec.get("attributes") or {})}
    est = _estimate(comp, attrs)
    action = next((a for a in ("mac", "compute", "fma") if a in est.actions), None)
    if action is None:
        raise InputError(f"plug-in {comp} has no mac/compute action; actions: {', '.join(est.actions)}")
    arch.compute.action_energy_pJ = {"compute": est.actions[action].energy_pJ,
                                     "leak": est.actions["leak"].energy_pJ if "leak" in est.actions else 0.0}
    arch.compute.area_um2 = est.area_um2
    arch.compute.attributes["ert_source"] = f"{comp} plug-in: " + est.actions[action].source
    arch.compute.attributes["plugin"] = {"component": comp, "attributes": attrs}


def cim_primitive(name: str, *, technology_nm: float, cycle_seconds: float, bits: int = 8):
    """The ``cim_macro`` plug-in's figures for primitive ``name`` at a node, as a CimPrimitive whose wave
    latency is counted in cycles of the architecture's clock (rounded up)."""
    from cimscope.arch.placements import CimPrimitive
    attrs = {"primitive": name, "technology": technology_nm, "input_bits": bits, "weight_bits": bits}
    est = _estimate("cim_macro", attrs)
    sram = _estimate("sram_buffer", {"capacity_bytes": 4096, "width_bits": 8, "banks": 1,
                                     "technology": technology_nm})
    n = est.notes
    wave = est.actions["mac_wave"].latency_s
    cycles = max(1, math.ceil(wave / cycle_seconds - 1e-9))
    area_x = est.area_um2 / sram.area_um2
    # parallel MACs per wave may differ from Rp x Cp at other bit widths (bit-sliced weights): keep Rp and
    # fold the rest into Cp so that Rp x Cp = parallel MACs
    rp = int(n["Rp"])
    cp = max(1, int(n["parallel_macs"]) // rp)
    return CimPrimitive(
        name=name, Rp=rp, Cp=cp, Rh=int(n["Rh"]), Ch=int(n["Ch"]), area_x=round(area_x, 6),
        latency_s=wave, latency_cycles=cycles, mac_energy_pJ=est.actions["mac"].energy_pJ,
        write_energy_pJ=est.actions["write"].energy_pJ, read_energy_pJ=est.actions["read"].energy_pJ,
        leak_W=est.leakage_W, word_bits=bits, write_latency_s=est.actions["write"].latency_s,
        source=f"cim_macro plug-in ({n.get('primitive_source', name)}); {est.actions['mac'].source}",
    )
