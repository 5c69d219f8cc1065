"""hwcomponents adapter: one ``hwcomponents.ComponentModel`` subclass per cimscope model.

hwcomponents (1.0.114: model.py, _model_wrapper.py, find_models.py) finds models in importable modules
whose names start with ``hwcomponents_`` (our thin :mod:`hwcomponents_cimscope` package), keeps classes that
subclass ``ComponentModel``, are not abstract and whose names do not start with ``_``, and reads
``component_name`` (a name or list of names), ``priority`` (0..1) and the explicit parameters of
``__init__`` (from ``__init__.__code__``; parameters without defaults are required). Actions are methods
decorated with ``hwcomponents.action`` that return ``ActionCost(energy [J], latency [s], throughput
[actions/s])``; area (m^2) and leakage power (W) are passed to ``ComponentModel.__init__``.

Each generated class takes the model's attributes as keyword parameters plus ``tech_node`` (hwcomponents'
usual name for the node, in metres or nm) as an alias of ``technology``. ``priority`` is the model's
percent accuracy / 100. Storage actions (read/write/update) of models with a ``width_bits`` attribute
declare ``bits_per_action="width_bits"``, so a caller passing ``bits_per_action`` gets the energy scaled by
bits / width_bits, as hwcomponents' own memory models do.
"""
from __future__ import annotations

from typing import Any, Callable

from cimscope.errors import InputError
from cimscope.plugins.accelergy_adapter import class_name_for, make_init, normalise_attrs, unique_models

try:
    from hwcomponents import ActionCost as HwActionCost
    from hwcomponents import ComponentModel, action
except ImportError as exc:  # pragma: no cover - exercised only without the optional dependency
    raise ImportError("hwcomponents is not installed: pip install 'cimscope[hwcomponents]' "
                      "(needs Python >= 3.12)") from exc

PJ = 1e-12
UM2 = 1e-12
_STORAGE_ACTIONS = ("read", "write", "update")


def build_hwcomponents_models(module_name: str) -> dict[str, type]:
    """hwcomponents ComponentModel classes for every cimscope model, with ``__module__ = module_name``."""
    return {class_name_for(m.component_name): _hw_class(m, module_name) for m in unique_models()}


def _hw_class(model: type, module_name: str) -> type:
    def body(self, attrs: dict) -> None:
        tech_node = attrs.pop("tech_node", None)
        if tech_node is not None and attrs.get("technology") is None and "technology" in model.attributes:
            attrs["technology"] = tech_node
        self.model = model(**normalise_attrs(model, attrs))
        self.estimate = self.model.estimate()
        for k, v in self.model.attrs.items():      # attributes readable by hwcomponents (bits_per_action)
            if not hasattr(type(self), k):
                setattr(self, k, v)
        ComponentModel.__init__(self, leak_power=self.estimate.leakage_W, area=self.estimate.area_um2 * UM2)

    extra = ("tech_node",) if "technology" in model.attributes else ()
    ns: dict[str, Any] = {
        "__module__": module_name,
        "__doc__": f"cimscope {model.component_name}: {model.description}",
        "component_name": [model.component_name] + list(model.aliases),
        "priority": max(0.0, min(1.0, model.percent_accuracy / 100)),
        "__init__": make_init(model, body, extra),
        "cimscope_model": model,
    }
    width_attr = "width_bits" if "width_bits" in model.attributes else None
    for name in model.action_names():
        if name == "leak" or name in ns:
            continue
        ns[name] = _hw_action(name, width_attr if name in _STORAGE_ACTIONS else None)
    return type(class_name_for(model.component_name), (ComponentModel,), ns)


def _hw_action(name: str, bits_attr: str | None) -> Callable:
    def cost(self):
        costs = self.estimate.actions
        if name not in costs:
            raise InputError(f"{self.model.component_name}: action {name!r} is not available with these "
                             f"attributes; valid actions: {', '.join(costs)}")
        c = costs[name]
        return HwActionCost(energy=c.energy_pJ * PJ, latency=c.latency_s, throughput=c.throughput)

    cost.__name__ = name
    cost.__qualname__ = name
    return action(cost, bits_per_action=bits_attr) if bits_attr else action(cost)

