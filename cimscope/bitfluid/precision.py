"""Precision configurations of BF-IMNA runs: per-layer weight and activation bits, read and validated at the
door (pydantic, strict: :mod:`cimscope.validation`), and bound to a workload's GEMM layers.

Configurations (:func:`load_configs`):

* ``int8``, ``int4`` (any ``intN``, N in 1-32): every GEMM layer at N-bit weights and activations.
* ``hawq-v3``: the five HAWQ-V3 ResNet18 configurations (Yao et al., ICML 2021, arXiv 2011.10680; packaged
  copy of the reference file in ``cimscope/arch/data/hawq_v3_resnet18.yaml``). Layer ``sNuMcK`` is
  ``layer{N}.{M-1}.conv{K}``, ``sNuMds`` is ``layer{N}.{M-1}.downsample.0``; the first conv and the final
  FC are always 8-bit; a conv's activations use its bit width.
* a YAML file: ``{layers: {NAME: {w_bits: W, a_bits: A}, ...}}`` for one configuration, or
  ``{configs: {CFG: {layers: {...}, top1: ...}, ...}}`` for several (optionally ``default:`` bits for layers
  not listed, ``first_last_8bit: true``), or a file in the HAWQ reference format (``layers:`` list +
  ``configs: {CFG: {bits: [...]}}``). NAME is a module path (``layer1.0.conv1``) or a HAWQ name.

Every value is checked before any model is exported: bit widths are integers in 1-32 (``.nan``, ``4.5``,
``true`` are refused), ``top1`` is a percentage in 0-100, ``size_MB``/``bops_G`` are finite and >= 0,
``speedup`` > 0, unknown keys are named, a ``configs:`` mapping holds at least one configuration, and the
file is UTF-8. Errors are one line (InputError, exit 2).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Optional

from pydantic import BaseModel, ConfigDict, Field, StrictStr, model_validator

from cimscope.errors import InputError
from cimscope.ir import Op, Workload
from cimscope.validation import (FiniteNonNegFloat, FinitePositiveFloat, IntegralInt, Percent, StrictBool,
                                 load_yaml, parse, validate)

HAWQ_NAME = "hawq-v3"
_HAWQ_RE = re.compile(r"^s(\d+)u(\d+)(?:c(\d+)|(ds))$")
_INT_RE = re.compile(r"^int(\d+)$")
BIT_RANGE = (1, 32)
#: A bit width of a precision configuration: an integer in BIT_RANGE (an integral float such as 8.0 is taken).
BitWidth = Annotated[IntegralInt, Field(ge=BIT_RANGE[0], le=BIT_RANGE[1])]
META_KEYS = ("top1", "size_MB", "bops_G", "speedup", "source", "description")
_BITS_TEXT = f"an integer in [{BIT_RANGE[0]}, {BIT_RANGE[1]}]"
#: The valid values of each field, in words, for error messages.
VALID = {"w_bits": _BITS_TEXT, "a_bits": _BITS_TEXT, "bits": _BITS_TEXT, "top1": "a percentage in [0, 100]",
         "size_MB": "a finite number >= 0", "bops_G": "a finite number >= 0", "speedup": "a finite number > 0",
         "first_last_8bit": "true or false", "configs": "a mapping of at least one configuration name to "
         "{layers, default, first_last_8bit, top1 ...}", "dynamic": "a list of configuration names",
         "layers": "a mapping of layer names to {w_bits, a_bits} or a bit width"}


@dataclass(frozen=True)
class LayerPrecision:
    w_bits: int
    a_bits: int


@dataclass
class PrecisionConfig:
    """Per-layer bit widths of one inference. ``layers``: layer name (module path or HAWQ name) -> bits;
    ``uniform``: bits of every layer not listed; ``first_last_8bit``: the first and last GEMM layers at 8
    bits whatever else says; ``meta``: published figures (top1 %, size_MB ...) and the source."""

    name: str
    layers: dict[str, LayerPrecision] = field(default_factory=dict)
    uniform: Optional[LayerPrecision] = None
    first_last_8bit: bool = False
    meta: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------------------
# File schemas
# ---------------------------------------------------------------------------------------------------------

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class LayerBits(_Strict):
    """``{w_bits: W, a_bits: A}``, ``{bits: B}`` (both), or a bare bit width ``B``."""

    w_bits: Optional[BitWidth] = None
    a_bits: Optional[BitWidth] = None
    bits: Optional[BitWidth] = None

    @model_validator(mode="before")
    @classmethod
    def _bare_width(cls, v: Any) -> Any:
        return v if isinstance(v, dict) else {"bits": v}

    @model_validator(mode="after")
    def _complete(self) -> "LayerBits":
        if self.bits is None and (self.w_bits is None or self.a_bits is None):
            raise ValueError("needs both w_bits and a_bits (or bits)")
        return self

    def precision(self) -> LayerPrecision:
        w = self.w_bits if self.w_bits is not None else self.bits
        a = self.a_bits if self.a_bits is not None else self.bits
        return LayerPrecision(int(w), int(a))  # type: ignore[arg-type]


class ConfigSpec(_Strict):
    """One configuration of a YAML file, with optional published figures."""

    layers: dict[StrictStr, LayerBits] = Field(default_factory=dict)
    default: Optional[LayerBits] = None
    first_last_8bit: StrictBool = False
    top1: Optional[Percent] = None
    size_MB: Optional[FiniteNonNegFloat] = None
    bops_G: Optional[FiniteNonNegFloat] = None
    speedup: Optional[FinitePositiveFloat] = None
    source: Optional[StrictStr] = None
    description: Optional[StrictStr] = None

    def build(self, name: str) -> PrecisionConfig:
        layers = {hawq_to_module(k): v.precision() for k, v in self.layers.items()}
        meta = {k: getattr(self, k) for k in META_KEYS if getattr(self, k) is not None}
        return PrecisionConfig(name, layers, self.default.precision() if self.default else None,
                               self.first_last_8bit, meta)


class ConfigsFile(_Strict):
    """``{configs: {NAME: ConfigSpec, ...}, dynamic: [NAME, ...]}``."""

    configs: dict[StrictStr, ConfigSpec] = Field(min_length=1)
    dynamic: Optional[list[StrictStr]] = Field(None, min_length=1)
    source: Optional[StrictStr] = None
    description: Optional[StrictStr] = None


class SingleConfigFile(ConfigSpec):
    """One configuration (``layers:``/``default:`` at the top), optionally with a ``dynamic`` sequence."""

    dynamic: Optional[list[StrictStr]] = Field(None, min_length=1)


class HawqConfig(_Strict):
    bits: list[BitWidth]
    top1: Optional[Percent] = None
    size_MB: Optional[FiniteNonNegFloat] = None
    bops_G: Optional[FiniteNonNegFloat] = None
    speedup: Optional[FinitePositiveFloat] = None


class HawqFile(_Strict):
    """The HAWQ reference format: a ``layers`` list of HAWQ names and ``configs`` of per-layer ``bits``."""

    layers: list[StrictStr] = Field(min_length=1)
    configs: dict[StrictStr, HawqConfig] = Field(min_length=1)
    fp32_top1: Optional[Percent] = None
    dynamic: Optional[list[StrictStr]] = Field(None, min_length=1)

    @model_validator(mode="after")
    def _lengths(self) -> "HawqFile":
        for name, c in self.configs.items():
            if len(c.bits) != len(self.layers):
                raise ValueError(f"config {name!r} has {len(c.bits)} bit widths for {len(self.layers)} layers")
        return self


def hawq_to_module(name: str) -> str:
    """``s2u1c2`` -> ``layer2.0.conv2``; ``s3u1ds`` -> ``layer3.0.downsample.0`` (torchvision ResNet)."""
    m = _HAWQ_RE.match(name)
    if not m:
        return name
    stage, unit, conv, ds = m.groups()
    base = f"layer{int(stage)}.{int(unit) - 1}"
    return f"{base}.downsample.0" if ds else f"{base}.conv{int(conv)}"


def _configs_from_hawq(d: HawqFile) -> list[PrecisionConfig]:
    out = []
    for cname, c in d.configs.items():
        layers = {hawq_to_module(n): LayerPrecision(b, b) for n, b in zip(d.layers, c.bits)}
        meta: dict[str, Any] = {k: getattr(c, k) for k in ("size_MB", "bops_G", "speedup", "top1")
                                if getattr(c, k) is not None}
        meta["source"] = "HAWQ-V3 (Yao et al., ICML 2021, arXiv 2011.10680), ResNet18 ImageNet"
        out.append(PrecisionConfig(cname, layers, None, True, meta))
    return out


def hawq_v3_configs() -> list[PrecisionConfig]:
    """The five HAWQ-V3 ResNet18 configurations (uniform8, latency_0.75/0.5/0.25, uniform4)."""
    path = resources.files("cimscope.arch") / "data" / "hawq_v3_resnet18.yaml"
    return _configs_from_hawq(parse(HawqFile, load_yaml(str(path), "packaged hawq_v3_resnet18.yaml"),
                                     "packaged hawq_v3_resnet18.yaml", VALID))


def configs_from_file(path: str | Path) -> tuple[list[PrecisionConfig], Optional[list[str]]]:
    """Configurations (and an optional ``dynamic`` sequence of their names) from a YAML file."""
    p = Path(path)
    where = f"precision config {p.name}"
    d = load_yaml(p, "precision config")
    if not isinstance(d, dict) or not d:
        raise InputError(f"{where}: expected a mapping with 'layers' or 'configs' (see docs/bitfluid.md)")
    if isinstance(d.get("layers"), list):
        hf = parse(HawqFile, d, where, VALID)
        return _configs_from_hawq(hf), hf.dynamic
    if "configs" in d:
        cf = parse(ConfigsFile, d, where, VALID)
        return [c.build(name) for name, c in cf.configs.items()], cf.dynamic
    if "layers" in d or "default" in d:
        sf = parse(SingleConfigFile, d, where, VALID)
        return [sf.build(p.stem)], sf.dynamic
    # a plain mapping layer -> bits
    return [parse(ConfigSpec, {"layers": d}, where, VALID).build(p.stem)], None


def load_configs(spec: str) -> tuple[list[PrecisionConfig], Optional[list[str]]]:
    """Configurations named by ``spec``: comma-separated ``hawq-v3``, ``intN`` and YAML file paths."""
    out: list[PrecisionConfig] = []
    dynamic: Optional[list[str]] = None
    parts = [s.strip() for s in str(spec).split(",") if s.strip()]
    if not parts:
        raise InputError("no precision configuration given; valid names: hawq-v3, int8, int4 (any intN), or a "
                         "YAML file")
    for part in parts:
        low = part.lower()
        m = _INT_RE.match(low)
        if low in (HAWQ_NAME, "hawq_v3", "hawqv3"):
            out.extend(hawq_v3_configs())
        elif m:
            b = validate(BitWidth, int(m.group(1)), f"configuration {part}",
                         f"intN with N in {BIT_RANGE[0]}-{BIT_RANGE[1]}")
            out.append(PrecisionConfig(low, {}, LayerPrecision(b, b), False,
                                       {"source": f"uniform {b}-bit weights and activations"}))
        elif Path(part).is_file():
            cfgs, dyn = configs_from_file(part)
            out.extend(cfgs)
            dynamic = dyn or dynamic
        else:
            raise InputError(f"unknown precision configuration {part!r}; valid: hawq-v3, int8, int4 (any intN "
                             f"with N in 1-32), or an existing YAML file")
    names = [c.name for c in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputError(f"precision configuration name(s) given twice: {', '.join(dup)}")
    return out, dynamic


# ---------------------------------------------------------------------------------------------------------
# Binding a configuration to a workload
# ---------------------------------------------------------------------------------------------------------

def layer_key(op: Op) -> str:
    return op.module or op.name


def gemm_layers(workload: Workload) -> list[str]:
    """Distinct GEMM layer names (module paths) in execution order."""
    seen: dict[str, None] = {}
    for op in workload.ops:
        if op.is_gemm:
            seen.setdefault(layer_key(op), None)
    return list(seen)


def bind(config: PrecisionConfig, workload: Workload) -> dict[str, LayerPrecision]:
    """Bit widths of every GEMM layer of ``workload`` under ``config``; a configuration whose layers differ
    from the model's raises InputError naming the layers missing from it and those the model lacks."""
    layers = gemm_layers(workload)
    if not layers:
        raise InputError(f"model {workload.model!r} has no GEMM (conv/linear) layers to quantise")
    fixed = {layers[0], layers[-1]} if config.first_last_8bit else set()
    known = set(layers)
    extra = [n for n in config.layers if n not in known]
    missing = [n for n in layers if n not in config.layers and n not in fixed] if config.uniform is None else []
    if extra or missing:
        parts = [f"configuration {config.name!r} does not match model {workload.model!r}: it lists "
                 f"{len(config.layers)} layer(s), the model has {len(layers) - len(fixed)} "
                 + ("quantisable GEMM layers" + (f" (plus {', '.join(sorted(fixed))} fixed at 8 bits)" if fixed else ""))]
        if missing:
            parts.append(f"missing from the configuration: {', '.join(missing)}")
        if extra:
            parts.append(f"not in the model: {', '.join(extra)}")
        raise InputError("; ".join(parts))
    out = {}
    for n in layers:
        if n in fixed:
            out[n] = LayerPrecision(8, 8)
        elif n in config.layers:
            out[n] = config.layers[n]
        else:
            out[n] = config.uniform  # type: ignore[assignment]
    return out


