"""Helpers shared by the cimscope models: common attributes, technology/voltage factors and the
published 45 nm arithmetic energies every model builds on.

Reference node: every model is written at 45 nm (the node WWW normalises all its figures to,
/work/shared/reference/cim_macros.yaml and a100.yaml) and scaled to ``technology`` / ``voltage`` with
:mod:`cimscope.plugins.scaling` (Stillmaker & Baas 2017).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

from cimscope.errors import InputError
from cimscope.plugins import scaling
from cimscope.plugins.base import Attr

#: Reference node and clock of the WWW study (45 nm, 1 GHz; a100.yaml "www_tensor_core_like_sm").
REF_NM = 45.0
REF_CYCLE_S = 1e-9


def nm(value: Any) -> float:
    """Parse a technology node: 45, 45.0, "45nm", "45 nm" or metres (45e-9, as hwcomponents uses)."""
    if isinstance(value, str):
        s = value.strip().lower().replace(" ", "")
        if s.endswith("nm"):
            s = s[:-2]
        value = float(s)
    v = float(value)
    if 0 < v < 1e-3:          # metres (hwcomponents' tech_node convention)
        v *= 1e9
    return v


nm.__name__ = "technology node in nm (e.g. 45 or '45nm')"

#: Attributes every model has.
TECH_ATTR = Attr(45, "technology node (nm), Stillmaker & Baas range", kind=nm, low=7, high=180)
VOLTAGE_ATTR = Attr(None, "supply voltage (V); default: the node's nominal (Stillmaker & Baas / PTM)", kind=float,
                    low=0.2, high=2.0)
CLOCK_ATTR = Attr(None, "clock for the latency (default: 1 GHz at 45 nm, node-scaled)", kind=float,
                  low=0.01, high=10)
#: The attributes :func:`tech` reads (node and supply), as one block for a model's ``attributes``.
NODE_ATTRS = {"technology": TECH_ATTR, "voltage": VOLTAGE_ATTR}
#: :data:`NODE_ATTRS` and the optional clock of models with a latency per cycle.
CLOCKED_NODE_ATTRS = {**NODE_ATTRS, "clock_GHz": CLOCK_ATTR}


def bits_attr(default: int, doc: str, low: int = 1, high: int = 16) -> Attr:
    return Attr(default, doc, kind=int, low=low, high=high)


@dataclass(frozen=True)
class Tech:
    """Technology factors from the 45 nm reference to (technology, voltage)."""

    nm: float
    voltage: float
    energy: float      # multiply a 45 nm nominal-voltage energy
    delay: float       # multiply a 45 nm nominal-voltage delay
    area: float        # multiply a 45 nm area

    @property
    def cycle_s(self) -> float:
        """The WWW 1 GHz cycle at 45 nm, scaled by the node/voltage delay factor."""
        return REF_CYCLE_S * self.delay


def tech(attrs: dict) -> Tech:
    """Factors for a resolved attribute dict with ``technology`` and ``voltage``."""
    node = attrs["technology"]
    v = attrs.get("voltage")
    v = scaling.nominal_vdd(node) if v is None else v
    return Tech(nm=node, voltage=v,
                energy=scaling.energy_factor(REF_NM, node, None, v),
                delay=scaling.delay_factor(REF_NM, node, None, v),
                area=scaling.area_factor(REF_NM, node))


def tech_source(t: Tech) -> str:
    if t.nm == REF_NM and abs(t.voltage - scaling.nominal_vdd(REF_NM)) < 1e-12:
        return ""
    return (f"; scaled 45 nm -> {t.nm:g} nm at {t.voltage:g} V (energy x{t.energy:.4g}, delay x{t.delay:.4g}, "
            f"area x{t.area:.4g}; Stillmaker & Baas 2017)")


# ---------------------------------------------------------------------------------------------------------
# M. Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014, Fig. (45 nm, 0.9 V):
#   integer add  8 b 0.03 pJ, 32 b 0.1 pJ;   integer multiply 8 b 0.2 pJ, 32 b 3.1 pJ;
#   FP add 16 b 0.4 pJ, 32 b 0.9 pJ;          FP multiply 16 b 1.1 pJ, 32 b 3.7 pJ.
# Two-point fits: add linear in bits, multiply quadratic in bits (array multiplier: bits^2 partial products).
# These figures are at 0.9 V, the models' reference point is 45 nm at the nominal 1.0 V (REF_NM,
# scaling.nominal_vdd(45)): every Horowitz energy is first taken to 1.0 V with the Stillmaker & Baas 45 nm
# energy fit (HOROWITZ_TO_REF = e(1.0 V) / e(0.9 V) = 1.232), so that technology=45, voltage=0.9 gives
# Horowitz's published numbers back.
HOROWITZ_PJ = {
    ("int", "add", 8): 0.03, ("int", "add", 32): 0.1,
    ("int", "mul", 8): 0.2, ("int", "mul", 32): 3.1,
    ("fp", "add", 16): 0.4, ("fp", "add", 32): 0.9,
    ("fp", "mul", 16): 1.1, ("fp", "mul", 32): 3.7,
}
HOROWITZ_VDD = 0.9
HOROWITZ_TO_REF = scaling.energy_factor(REF_NM, REF_NM, HOROWITZ_VDD, None)
_ADD_SLOPE = (0.1 - 0.03) / (32 - 8)                 # pJ per bit (at 0.9 V)
_ADD_ICPT = 0.03 - 8 * _ADD_SLOPE
_MUL_SLOPE = (3.1 - 0.2) / (32 ** 2 - 8 ** 2)        # pJ per bit^2 (at 0.9 V)
_MUL_ICPT = 0.2 - 64 * _MUL_SLOPE


def horowitz_pJ(kind: str, op: str, bits: int) -> float:
    """A published Horowitz 2014 energy (HOROWITZ_PJ, 45 nm 0.9 V) at the reference point (45 nm, 1.0 V)."""
    return HOROWITZ_PJ[(kind, op, bits)] * HOROWITZ_TO_REF


def int_add_pJ(bits: float) -> float:
    """Integer adder energy (pJ) at 45 nm, 1.0 V: Horowitz 2014 two-point linear fit (8 b 0.03, 32 b 0.1 pJ
    at 0.9 V) x HOROWITZ_TO_REF."""
    return (_ADD_ICPT + _ADD_SLOPE * bits) * HOROWITZ_TO_REF


def int_mul_pJ(a_bits: float, b_bits: Optional[float] = None) -> float:
    """Integer multiplier energy (pJ) at 45 nm, 1.0 V: Horowitz 2014 two-point fit, quadratic in bits
    (a x b partial products: c0 + c2 * a * b; 8x8 0.2 pJ, 32x32 3.1 pJ at 0.9 V) x HOROWITZ_TO_REF."""
    b_bits = a_bits if b_bits is None else b_bits
    return (_MUL_ICPT + _MUL_SLOPE * a_bits * b_bits) * HOROWITZ_TO_REF


def fa_bit_pJ() -> float:
    """Energy of one full-adder bit at 45 nm, 1.0 V: the marginal per-bit energy of Horowitz's adders."""
    return _ADD_SLOPE * HOROWITZ_TO_REF


def positive(name: str, value: float) -> float:
    if not (value > 0) or math.isinf(value):
        raise InputError(f"{name} must be positive and finite, got {value}")
    return value
