"""Accelergy v0.4 adapter: one Accelergy ``Estimator`` class per cimscope model.

How Accelergy v0.4 uses Python plug-ins (accelergy/plug_in_path_to_obj.py, plug_in_interface/
estimator_wrapper.py): every ``*.py`` file listed under ``python_plug_ins`` in accelergy_config.yaml (or
under ``python_plug_ins:`` of a ``*.estimator.yaml`` found in an ``estimator_plug_ins`` folder) is loaded
with ``SourceFileLoader("python_plug_in", path)``; every class in it that subclasses
``accelergy.plug_in_interface.estimator.Estimator`` and whose ``__module__`` is that module becomes an
estimator. Accelergy reads the class attributes ``name`` (a class name or a list of them) and
``percent_accuracy_0_to_100``, matches a component's attributes against the *explicit* parameters of
``__init__`` (read from ``__init__.__code__``; parameters without defaults are required), instantiates the
class with the matching attributes, and calls ``get_area()``, ``leak(global_cycle_seconds)`` and the methods
decorated with ``@actionDynamicEnergy`` whose ``__name__`` is the action name. Energies are returned as
``Estimation(value, "p")`` (pJ), areas as ``Estimation(value, "u^2")`` (um^2).

Accelergy hands a primitive every attribute of its Timeloop component. Storage models therefore also take
Timeloop's ``width`` (bits per row), ``depth`` (rows) and ``n_banks`` and turn them into their own
``width_bits``, ``capacity_bytes`` (depth x width / 8) and ``banks`` (:func:`from_timeloop_attrs`); other
attributes (``datawidth`` ...) are dropped by Accelergy with a warning, as for any plug-in.

:func:`build_accelergy_estimators` generates such classes from :data:`cimscope.plugins.base.REGISTRY`;
:mod:`cimscope.plugins.accelergy_plugin` is the file to list in ``python_plug_ins`` (it only calls this
factory with its own module name, so the classes pass Accelergy's ``__module__`` check).

Without Accelergy installed (it is not on PyPI for this environment), the module falls back to local
stand-ins that mimic the v0.4 interface exactly: ``Estimator`` (abstract ``get_area``/``leak``, an
``idle`` action returning 0, ``name``/``percent_accuracy_0_to_100``, a ``logger`` set up by
``__ListLoggable__init__``), ``actionDynamicEnergy`` (marks a method with ``_is_accelergy_action``) and
``Estimation`` (``value``, ``unit``, ``get_value()`` in SI units). Tests drive the generated classes the way
Accelergy's EstimatorWrapper does.
"""
from __future__ import annotations

import keyword
import logging
from abc import ABC, abstractmethod
from typing import Any, Callable

from cimscope.errors import InputError

try:  # the real interface, when Accelergy v0.4 is installed
    from accelergy.plug_in_interface.estimator import Estimator as AccelergyEstimator  # type: ignore
    from accelergy.plug_in_interface.estimator import actionDynamicEnergy  # type: ignore
    from accelergy.plug_in_interface.interface import Estimation  # type: ignore
    ACCELERGY_INSTALLED = True
except ImportError:  # local stand-ins with the same interface
    ACCELERGY_INSTALLED = False

    def actionDynamicEnergy(func: Callable) -> Callable:  # noqa: N802 - Accelergy's spelling
        """Stand-in for accelergy.plug_in_interface.estimator.actionDynamicEnergy."""
        func._is_accelergy_action = True
        return func

    _UNIT_SCALE = {"": 1.0, "f": 1e-15, "p": 1e-12, "n": 1e-9, "u": 1e-6, "m": 1e-3,
                   "p^2": 1e-24, "n^2": 1e-18, "u^2": 1e-12, "m^2": 1e-6}

    class Estimation:  # noqa: D101 - mirrors accelergy.plug_in_interface.interface.Estimation
        def __init__(self, value: float, unit: str | None = None, success: bool = True):
            if not isinstance(value, (int, float)):
                raise TypeError(f"Estimation value must be a number, not {type(value)}")
            self.value = value
            self.unit = unit or ""
            if self.unit not in _UNIT_SCALE:
                raise ValueError(f"Invalid unit string: {unit}")
            self.success = success
            self.messages: list[str] = []

        def get_value(self) -> float:
            return self.value * _UNIT_SCALE[self.unit]

        def __str__(self) -> str:
            return f"{self.value}{self.unit}"

    class AccelergyEstimator(ABC):  # noqa: D101 - mirrors accelergy.plug_in_interface.estimator.Estimator
        name = None
        percent_accuracy_0_to_100 = None

        def __init__(self, name: str | None = None):
            self.__ListLoggable__init__(name)

        def __ListLoggable__init__(self, name: str | None = None):  # noqa: N802 - Accelergy's spelling
            self.logger = logging.getLogger(name if name is not None else self.__class__.__name__)

        @abstractmethod
        def get_area(self):  # noqa: D102
            ...

        @abstractmethod
        def leak(self, global_cycle_seconds: float):  # noqa: D102
            ...

        @actionDynamicEnergy
        def idle(self):  # noqa: D102
            return 0


def class_name_for(component: str) -> str:
    """Python class name of a component's adapter class: ``cim_macro`` -> ``CimscopeCimMacro``."""
    return "Cimscope" + "".join(p[:1].upper() + p[1:] for p in component.replace("-", "_").split("_") if p)


def unique_models() -> list[type]:
    """Every registered model class once, in registry order (aliases skipped)."""
    from cimscope.plugins.base import REGISTRY
    from cimscope.plugins import load_all
    load_all()
    seen: dict[int, type] = {}
    for cls in REGISTRY.values():
        seen.setdefault(id(cls), cls)
    return list(seen.values())


def normalise_attrs(model: type, attrs: dict[str, Any]) -> dict[str, Any]:
    """Attributes as a model takes them: drops None, parses technology strings such as '45nm'."""
    from cimscope.plugins.common import nm
    out = {k: v for k, v in attrs.items() if v is not None}
    if isinstance(out.get("technology"), str):
        try:
            out["technology"] = nm(out["technology"])
        except ValueError:
            raise InputError(f"{model.component_name}: technology {out['technology']!r} is not a node such as "
                             "45 or '45nm'") from None
    return out


#: Timeloop's storage attribute -> the cimscope attribute it fills (when the model has it and it is not given).
#: Accelergy hands a primitive every attribute of its Timeloop component, and a Timeloop storage level always
#: carries depth/width/n_banks; without this translation an ``sram_buffer`` declared the Timeloop way would be
#: costed at its default 4 KB capacity without a word.
TIMELOOP_STORAGE = {"width": "width_bits", "n_banks": "banks", "depth": "capacity_bytes"}


def timeloop_extras(model: type) -> tuple[str, ...]:
    """Timeloop storage attribute names the model can take in addition to its own."""
    return tuple(k for k, v in TIMELOOP_STORAGE.items() if k not in model.attributes and v in model.attributes)


def from_timeloop_attrs(model: type, attrs: dict[str, Any]) -> dict[str, Any]:
    """Translate Timeloop's ``width`` (bits per row), ``n_banks`` and ``depth`` (rows: capacity = depth x
    width / 8 bytes) into the model's ``width_bits``/``banks``/``capacity_bytes``; the model's own names win."""
    out = dict(attrs)
    given = {k: out.pop(k) for k in timeloop_extras(model) if k in out}
    given = {k: v for k, v in given.items() if v is not None}
    try:
        num = {k: int(float(v)) for k, v in given.items()}
    except (TypeError, ValueError):
        raise InputError(f"{model.component_name}: Timeloop attributes {given} must be numbers (width: bits per "
                         f"row, depth: rows, n_banks: banks)") from None
    if "width" in num and out.get("width_bits") is None:
        out["width_bits"] = num["width"]
    if "n_banks" in num and out.get("banks") is None:
        out["banks"] = num["n_banks"]
    if "depth" in num and out.get("capacity_bytes") is None:
        width = num["width"] if "width" in num else out.get("width_bits")      # Timeloop: capacity = depth x width
        if width is None:
            raise InputError(f"{model.component_name}: Timeloop depth={num['depth']} needs width (bits per row) "
                             "to give the capacity; or give capacity_bytes")
        out["capacity_bytes"] = max(1, num["depth"] * int(width) // 8)
    return out


def init_parameters(model: type) -> tuple[list[str], list[str]]:
    """(required, optional) attribute names usable as Python parameters."""
    req, opt = [], []
    for name, spec in model.attributes.items():
        if not name.isidentifier() or keyword.iskeyword(name):
            continue
        (req if spec.required else opt).append(name)
    return req, opt


def make_init(model: type, body: Callable[[Any, dict], None], extra_optional: tuple[str, ...] = ()) -> Callable:
    """An ``__init__`` with one explicit parameter per attribute (frameworks read ``__code__``), which
    collects them into a dict and calls ``body(self, attrs)``."""
    req, opt = init_parameters(model)
    opt = opt + [e for e in extra_optional if e not in opt and e not in req]
    params = ", ".join(["self"] + req + [f"{o}=None" for o in opt])
    collect = ", ".join(f"{n!r}: {n}" for n in req + opt)
    src = f"def __init__({params}):\n    _body(self, {{{collect}}})\n"
    ns: dict[str, Any] = {"_body": body}
    exec(compile(src, f"<cimscope adapter {model.component_name}.__init__>", "exec"), ns)  # noqa: S102
    return ns["__init__"]


def build_accelergy_estimators(module_name: str) -> dict[str, type]:
    """Accelergy v0.4 Estimator classes for every cimscope model, with ``__module__ = module_name``."""
    out: dict[str, type] = {}
    for model in unique_models():
        out[class_name_for(model.component_name)] = _accelergy_class(model, module_name)
    return out


def _accelergy_class(model: type, module_name: str) -> type:
    def body(self, attrs: dict) -> None:
        AccelergyEstimator.__init__(self, name=type(self).__name__)
        self.model = model(**normalise_attrs(model, from_timeloop_attrs(model, attrs)))
        self.estimate = self.model.estimate()

    def get_area(self):
        return Estimation(self.estimate.area_um2, "u^2")

    def leak(self, global_cycle_seconds):
        return Estimation(self.estimate.leakage_W * float(global_cycle_seconds) * 1e12, "p")

    ns: dict[str, Any] = {
        "__module__": module_name,
        "__doc__": f"cimscope {model.component_name}: {model.description}",
        "name": [model.component_name] + list(model.aliases),
        "percent_accuracy_0_to_100": int(model.percent_accuracy),
        "__init__": make_init(model, body, timeloop_extras(model)),
        "get_area": get_area,
        "leak": leak,
        "cimscope_model": model,
    }
    for action in model.action_names():
        if action in ("leak", "idle") or action in ns:
            continue
        ns[action] = _accelergy_action(action)
    cls = type(class_name_for(model.component_name), (AccelergyEstimator,), ns)
    return cls


def _accelergy_action(action: str) -> Callable:
    def energy(self):
        costs = self.estimate.actions
        if action not in costs:
            raise InputError(f"{self.model.component_name}: action {action!r} is not available with these "
                             f"attributes; valid actions: {', '.join(costs)}")
        return Estimation(costs[action].energy_pJ, "p")

    energy.__name__ = action
    energy.__qualname__ = action
    return actionDynamicEnergy(energy)
