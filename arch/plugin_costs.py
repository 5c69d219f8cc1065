"""Fill architecture ERT rows and CiM primitive figures from the cimscope plug-ins (:mod:`cimscope.plugins`).

Each storage level of a preset names the plug-in component that costs it (``cimscope.plugins`` section of
the preset); the attributes passed are the level's own organisation: capacity (depth x width), access width,
banks, and the preset's technology node. The ERT row holds the plug-in's energy per action (Timeloop: per
vector access of ``width`` bits) and the ART row its area per instance.
"""
from __future__ import annotations

import math
from typing import Any, Optional

from cimscope import ir
from cimscope.errors import InputError
from cimscope.plugins.base import estimate
from cimscope.plugins.base import get_estimator


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
        est = estimate(comp, attrs)
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
    est = estimate(comp, attrs)
    action = next((a for a in ("mac", "compute", "fma") if a in est.actions), None)
    if action is None:
        raise InputError(f"plug-in {comp} has no mac/compute action; actions: {', '.join(est.actions)}")
    arch.compute.action_energy_pJ = {"compute": est.actions[action].energy_pJ,
                                     "leak": est.actions["leak"].energy_pJ if "leak" in est.actions else 0.0}
    arch.compute.area_um2 = est.area_um2
    arch.compute.attributes["ert_source"] = f"{comp} plug-in: " + est.actions[action].source
    arch.compute.attributes["plugin"] = {"component": comp, "attributes": attrs}


def cim_array(name: str, spec: dict[str, Any], *, technology_nm: float, cycle_seconds: float,
              bits: int = 8, input_bits: Optional[int] = None, weight_bits: Optional[int] = None) -> ir.CimArray:
    """The CiM array ``name`` as hardware (:class:`ir.CimArray`) from the CiM plug-in ``spec["component"]``
    (any of them: the ``cim_macro`` WWW primitives, the parametric ``analog_cim_array`` /
    ``digital_cim_array``, or a new plug-in with the same actions) at a node, clock and bit width.

    Geometry: a macro states Rp, Cp, Rh, Ch and its capacity in its notes; a parametric array computes
    ``macs_per_wave`` weights per wave with one weight per cell group (Rp = rows, Cp = macs_per_wave / rows,
    Rh = Ch = 1) and stores rows x columns bits. Parallel MACs per wave may differ from the table's Rp x Cp at
    other bit widths (bit-sliced weights): Rp is kept and the rest folded into Cp so that Rp x Cp = parallel
    MACs. The wave latency is counted in cycles of the architecture's clock (rounded up); the area relative
    to a plain SRAM array of the same bytes (sram_buffer plug-in) sets the equal-area array count.

    Bit widths: ``input_bits`` (the activations applied to the array: input passes) and ``weight_bits`` (the
    stored weights: cells/columns per weight, write energy) reach the plug-in separately; each defaults to
    ``bits``. ``word_bits`` of the result is the weight width (weight capacity in bytes)."""
    component = spec["component"]
    declared = get_estimator(component).attributes
    bi = int(bits if input_bits is None else input_bits)
    bw = int(bits if weight_bits is None else weight_bits)
    attrs = {k: v for k, v in (("technology", technology_nm), ("input_bits", bi), ("weight_bits", bw))
             if k in declared}
    attrs.update(spec.get("attributes") or {})
    est = estimate(component, attrs)
    n = est.notes
    missing = [a for a in ("mac", "mac_wave", "write") if a not in est.actions]
    if missing:
        raise InputError(f"CiM array {name!r}: plug-in {component} has no {', '.join(missing)} action; a CiM "
                         f"plug-in needs mac, mac_wave and write")
    if "Rp" in n:
        rp, macs, rh, ch = int(n["Rp"]), int(n["parallel_macs"]), int(n["Rh"]), int(n["Ch"])
        array_bytes = int(n["capacity_bytes"])
    else:
        rp, macs = int(est.attributes["rows"]), int(n["macs_per_wave"])
        rh, ch = int(spec.get("Rh", 1)), int(spec.get("Ch", 1))
        array_bytes = int(est.attributes["rows"]) * int(est.attributes["columns"]) // 8
    sram = estimate("sram_buffer", {"capacity_bytes": array_bytes, "width_bits": 8, "banks": 1,
                                     "technology": technology_nm})
    wave = est.actions["mac_wave"].latency_s
    src = n.get("primitive_source", f"{component} {spec.get('attributes') or {}}")
    return ir.CimArray(
        name=name, Rp=rp, Cp=max(1, macs // rp), Rh=rh, Ch=ch, area_x=round(est.area_um2 / sram.area_um2, 6),
        latency_s=wave, latency_cycles=max(1, math.ceil(wave / cycle_seconds - 1e-9)),
        mac_energy_pJ=est.actions["mac"].energy_pJ, write_energy_pJ=est.actions["write"].energy_pJ,
        read_energy_pJ=est.actions["read"].energy_pJ if "read" in est.actions else 0.0,
        leak_W=est.leakage_W, word_bits=bw, write_latency_s=est.actions["write"].latency_s,
        source=f"{component} plug-in ({src}); {est.actions['mac'].source}", array_bytes=array_bytes)
