"""The one estimator interface every cimscope model implements.

An :class:`Estimator` is built from attributes (validated against its declared :class:`Attr` specs) and
answers energy, latency and area per action. The Accelergy v0.4 adapter and the hwcomponents adapter are
thin wrappers over this interface, so each model is implemented once.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Annotated, Any, Callable, ClassVar, Literal, Optional

from pydantic import BeforeValidator, Field, Strict, StrictStr, TypeAdapter, ValidationError

from cimscope.errors import InputError, UnknownNameError
from cimscope.validation import ExactFloat, ExactInt, StrictBool, describe_range


@dataclass(frozen=True)
class Attr:
    """Declaration of one attribute of a component: its type (``kind``: int, float, str, bool or a parser
    such as :func:`cimscope.plugins.common.nm` returning a float), bounds and choices. Values are checked
    strictly (pydantic, :mod:`cimscope.validation`): numbers finite and in range, integers integral (8.5 is
    refused, never truncated), booleans only true/false, strings one of ``choices``."""

    default: Any
    doc: str
    kind: type = float
    low: Optional[float] = None           # bounds for numbers (``low`` inclusive unless ``low_open``)
    high: Optional[float] = None
    choices: Optional[tuple] = None       # allowed values for strings
    required: bool = False
    low_open: bool = False                # True: the value must be > low

    def valid_text(self) -> str:
        """What a valid value is, in words (error messages, ``cimscope estimate --list``)."""
        if self.choices is not None:
            return "one of " + ", ".join(map(str, self.choices))
        if self.kind is bool:
            return "true or false"
        if self.kind is str:
            return "text"
        text = describe_range(self.low, self.high, integer=self.kind is int, low_open=self.low_open)
        if self.kind not in (int, float):
            text += f" ({getattr(self.kind, '__name__', 'parsed')})"
        return text

    def coerce(self, component: str, name: str, value: Any) -> Any:
        """``value`` checked against this declaration; one-line InputError naming the attribute and the valid
        values otherwise."""
        try:
            return _adapter(self).validate_python(value)
        except ValidationError as exc:
            msg = exc.errors(include_url=False)[0].get("msg", "invalid")
            raise InputError(f"{component}: attribute {name}={value!r} is invalid ({msg[:1].lower() + msg[1:]}); "
                             f"valid: {self.valid_text()}") from None


def _bounds(spec: Attr) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if spec.low is not None:
        out["gt" if spec.low_open else "ge"] = spec.low
    if spec.high is not None:
        out["le"] = spec.high
    return out


def _parsed_by(parser: Callable[[Any], float]) -> Callable[[Any], Any]:
    def parse(value: Any) -> Any:
        if isinstance(value, bool):
            return value                  # refused by the strict float check
        try:
            return float(parser(value))
        except (TypeError, ValueError):
            return value                  # refused, with the value named
    return parse


@functools.lru_cache(maxsize=None)
def _adapter(spec: Attr) -> TypeAdapter:
    if spec.choices is not None:
        return TypeAdapter(Literal[tuple(spec.choices)])
    if spec.kind is bool:
        return TypeAdapter(StrictBool)
    if spec.kind is str:
        return TypeAdapter(StrictStr)
    if spec.kind is int:
        return TypeAdapter(Annotated[ExactInt, Field(**_bounds(spec))])
    if spec.kind is float:
        return TypeAdapter(Annotated[ExactFloat, Field(**_bounds(spec))])
    return TypeAdapter(Annotated[float, BeforeValidator(_parsed_by(spec.kind)), Strict(),
                                 Field(allow_inf_nan=False, **_bounds(spec))])


@dataclass
class ActionCost:
    """Cost of one action of a component instance."""

    energy_pJ: float
    latency_s: float = 0.0
    source: str = ""                      # formula or published figure it comes from
    throughput_per_s: Optional[float] = None   # actions per second; None: 1 / latency_s (or unlimited)

    @property
    def throughput(self) -> float:
        """Actions per second: the model's figure, else one action per latency (inf if latency is 0)."""
        if self.throughput_per_s is not None:
            return self.throughput_per_s
        return 1.0 / self.latency_s if self.latency_s > 0 else float("inf")


@dataclass
class Estimate:
    """Everything a model says about one configured component."""

    component: str
    attributes: dict[str, Any]
    actions: dict[str, ActionCost]
    area_um2: float
    leakage_W: float = 0.0
    percent_accuracy: int = 70
    notes: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "component": self.component,
            "attributes": self.attributes,
            "area_um2": self.area_um2,
            "leakage_W": self.leakage_W,
            "percent_accuracy": self.percent_accuracy,
            "actions": {a: {"energy_pJ": c.energy_pJ, "latency_s": c.latency_s, "source": c.source,
                            "throughput_per_s": c.throughput if math.isfinite(c.throughput) else None}
                        for a, c in self.actions.items()},
            "notes": self.notes,
        }


class Estimator:
    """Subclass, set ``component_name``, ``attributes`` and ``percent_accuracy``, implement ``estimate``.

    Attribute names shared across models: ``technology`` (nm, number), ``voltage`` (V), ``width``/``depth``
    for memories, ``datawidth``/``bits`` for word and operand widths.
    """

    component_name: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    attributes: ClassVar[dict[str, Attr]] = {}
    percent_accuracy: ClassVar[int] = 70
    description: ClassVar[str] = ""

    def __init__(self, **attrs: Any) -> None:
        self.attrs = self.resolve(attrs)

    @classmethod
    def resolve(cls, attrs: dict[str, Any]) -> dict[str, Any]:
        """Fill defaults and validate; unknown or bad attributes raise an error listing the valid ones."""
        unknown = [k for k in attrs if k not in cls.attributes]
        if unknown:
            raise InputError(
                f"{cls.component_name}: unknown attribute(s) {', '.join(sorted(unknown))}; valid attributes: "
                + ", ".join(f"{k} (default {a.default!r})" for k, a in cls.attributes.items()))
        out = {}
        for name, spec in cls.attributes.items():
            if name in attrs and attrs[name] is not None:
                out[name] = spec.coerce(cls.component_name, name, attrs[name])
            elif spec.required:
                choices = f"; one of {', '.join(map(str, spec.choices))}" if spec.choices else ""
                raise InputError(f"{cls.component_name}: missing required attribute {name!r} ({spec.doc}{choices}); "
                                 f"valid attributes: {', '.join(cls.attributes)}")
            else:
                out[name] = spec.default
        return out

    def estimate(self) -> Estimate:  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def action_names(cls) -> tuple[str, ...]:
        """Every action the model can answer, found by estimating with the defaults and with each choice of
        each choice-valued attribute (so adapters can declare one method per action). Configurations that
        are invalid with the other attributes at their defaults are skipped."""
        probes: list[dict[str, Any]] = [{}]
        for name, spec in cls.attributes.items():
            if spec.choices:
                probes += [{name: c} for c in spec.choices]
        required = {n: s.choices[0] for n, s in cls.attributes.items() if s.required and s.choices}
        names: dict[str, None] = {}
        for probe in probes:
            try:
                est = cls(**{**required, **probe}).estimate()
            except Exception:  # noqa: BLE001 - a probe may be an invalid combination; others cover it
                continue
            names.update(dict.fromkeys(est.actions))
        return tuple(names)

    # Convenience accessors used by adapters.
    def action_energy_pJ(self, action: str) -> float:
        est = self.estimate()
        if action not in est.actions:
            raise UnknownNameError(f"action of {self.component_name}", action, est.actions)
        return est.actions[action].energy_pJ


#: component name (and aliases) -> Estimator subclass
REGISTRY: dict[str, type[Estimator]] = {}


def register(cls: type[Estimator]) -> type[Estimator]:
    """Class decorator: make a model known to ``cimscope estimate`` and both adapters."""
    for name in (cls.component_name,) + tuple(cls.aliases):
        if name in REGISTRY and REGISTRY[name] is not cls:
            raise RuntimeError(f"component name {name!r} registered twice")
        REGISTRY[name] = cls
    return cls


def get_estimator(component: str) -> type[Estimator]:
    """Look up a model by component name (case-insensitive); unknown names list the known ones."""
    from cimscope.plugins import load_all  # noqa: F401  (imports every model module once)
    load_all()
    key = {k.lower(): k for k in REGISTRY}.get(component.lower())
    if key is None:
        raise UnknownNameError("component", component, {c.component_name for c in REGISTRY.values()})
    return REGISTRY[key]


def estimate(component: str, attributes: Optional[dict[str, Any]] = None) -> Estimate:
    return get_estimator(component)(**(attributes or {})).estimate()
