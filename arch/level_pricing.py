"""Energies of levels read without an ERT row (``cimscope model`` / ``mapper`` without ``--ert``), priced by
cimscope's plug-ins with the attributes Accelergy v0.4 would hand the same plug-in.

A level's class names its plug-in component through :func:`cimscope.arch.builders.component_of_class` (the
compound classes cimscope writes, ``sram_buffer_storage``, ``hbm_DRAM`` ..., and the components themselves),
or is a registered component (case-insensitive, e.g. ``DRAM``, ``tensor_core_mac``); a compute class written
with the ``_compute`` suffix (:func:`cimscope.arch.builders.timeloop_class`) names the class before it.

Attributes: as Accelergy does, the component's Timeloop attributes whose names the plug-in takes (its own, plus
Timeloop's ``width``/``depth``/``n_banks``) go through the Accelergy adapter's conversion
(:func:`cimscope.plugins.accelergy_adapter.from_timeloop_attrs`: capacity = depth x width / 8 bytes, width =
bits per row, banks; then ``normalise_attrs``: technology '45nm' -> 45). The storage organisation used is
the one Timeloop parsed (``depth`` also from ``entries``/``sizeKB``). Every priced level is reported as a
:class:`LevelPricing` (which estimator, which attributes); a level no plug-in prices is an
:class:`UnpricedLevel` naming why.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Union

from cimscope import ir
from cimscope.arch.builders import STORAGE_COMPONENTS, compound_class, component_of_class
from cimscope.errors import CimscopeError, UnknownNameError
from cimscope.plugins.accelergy_adapter import from_timeloop_attrs, normalise_attrs, timeloop_extras
from cimscope.plugins.base import REGISTRY, get_estimator


@dataclass(frozen=True)
class LevelPricing:
    """One level priced by a plug-in: ``component`` estimated with ``attributes`` gave its energies."""
    level: str
    cls: str
    component: str
    attributes: dict[str, Any]
    source: str
    energy_pJ: dict[str, float] = field(default_factory=dict)
    area_um2: float = 0.0

    def line(self) -> str:
        return f"priced {self.level} with {self.component} {self.attributes}"

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, "class": self.cls, "component": self.component,
                "attributes": dict(self.attributes), "source": self.source, "energy_pJ": dict(self.energy_pJ)}


@dataclass(frozen=True)
class UnpricedLevel:
    """A level without energies that no plug-in priced, and why."""
    level: str
    cls: str
    reason: str


def known_classes() -> list[str]:
    """Classes cimscope prices without an ERT: every plug-in component and the compound storage classes."""
    get_estimator("sram_buffer")                        # loads every plug-in module into REGISTRY
    return sorted(set(REGISTRY) | {compound_class(c) for c in STORAGE_COMPONENTS})


def component_for_class(cls: str) -> Optional[str]:
    """The plug-in component that prices class ``cls``, else None."""
    comp = component_of_class(cls)
    if comp is not None:
        return comp
    for name in (cls, cls[:-len("_compute")] if cls.endswith("_compute") else None):
        if name:
            try:
                return get_estimator(name).component_name
            except UnknownNameError:
                pass
    return None


def accelergy_attributes(model: type, level: Union[ir.Level, ir.ComputeLevel]) -> dict[str, Any]:
    """The attributes Accelergy hands plug-in ``model`` for ``level``, converted as the Accelergy adapter does."""
    raw = dict(level.attributes or {})
    if isinstance(level, ir.Level):                     # the organisation Timeloop parsed
        raw.update(width=level.width, depth=level.depth, n_banks=level.n_banks)
    accepted = set(model.attributes) | set(timeloop_extras(model))
    taken = {k: v for k, v in raw.items() if k in accepted and v is not None}
    return normalise_attrs(model, from_timeloop_attrs(model, taken))


def price_level(level: Union[ir.Level, ir.ComputeLevel], cycle_seconds: float) -> Union[LevelPricing, UnpricedLevel]:
    """Price one level with its plug-in (energies per action in pJ; leak from leakage power x cycle)."""
    comp = component_for_class(level.cls)
    if comp is None:
        return UnpricedLevel(level.name, level.cls, f"class {level.cls} has no cimscope estimator")
    model = get_estimator(comp)
    try:
        attrs = accelergy_attributes(model, level)
        est = model(**attrs).estimate()
    except CimscopeError as exc:
        return UnpricedLevel(level.name, level.cls, f"plug-in {comp} refused its attributes ({exc})")
    acts = {a: float(c.energy_pJ) for a, c in est.actions.items()}
    if "leak" not in acts and est.leakage_W:
        acts["leak"] = est.leakage_W * cycle_seconds * 1e12
    source = f"cimscope.plugins {model.component_name} ({est.percent_accuracy}% accuracy)"
    return LevelPricing(level.name, level.cls, model.component_name, dict(est.attributes), source, acts,
                        float(est.area_um2))


def price_missing_levels(arch: ir.Arch) -> tuple[list[LevelPricing], list[UnpricedLevel]]:
    """Set ``action_energy_pJ`` (and area, when none) of every non-dummy level without energies from its
    plug-in. Returns (priced, unpriced); levels that already have energies are neither."""
    priced: list[LevelPricing] = []
    unpriced: list[UnpricedLevel] = []
    for lv in list(arch.levels) + [arch.compute]:
        if lv.action_energy_pJ or getattr(lv, "is_dummy", False):
            continue
        p = price_level(lv, arch.cycle_seconds)
        if isinstance(p, UnpricedLevel):
            unpriced.append(p)
            continue
        lv.action_energy_pJ = dict(p.energy_pJ)
        if not lv.area_um2:
            lv.area_um2 = p.area_um2
        priced.append(p)
    return priced, unpriced


def fill_missing_energies(arch: ir.Arch) -> dict[str, str]:
    """Level -> source for the levels :func:`price_missing_levels` filled (the unpriced are left empty)."""
    return {p.level: p.source for p in price_missing_levels(arch)[0]}


def missing_energy_levels(arch: ir.Arch) -> list[str]:
    """Levels (storage, non-dummy, and compute) that have no energy per action at all."""
    out = [lv.name for lv in arch.levels if not lv.action_energy_pJ and not lv.is_dummy]
    if not arch.compute.action_energy_pJ:
        out.append(arch.compute.name)
    return out
