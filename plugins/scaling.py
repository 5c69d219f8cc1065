"""Technology-node and supply-voltage scaling of energy, delay, power and area.

Source: A. Stillmaker and B. Baas, "Scaling equations for the accurate prediction of CMOS device
performance from 180 nm to 7 nm", Integration, the VLSI Journal, vol. 58, pp. 74-81, 2017,
doi:10.1016/j.vlsi.2017.02.002 (the paper that /work/shared/reference/cim_macros.yaml names for the WWW
45 nm normalisation).

The paper fits HSPICE results (PTM bulk models for 180-65 nm, PTM HP/LP for 45 and 32 nm, PTM-MG FinFET
HP/LP for 20-7 nm) with polynomials in the supply voltage V, one per node:

* delay(V)  = d3 V^3 + d2 V^2 + d1 V + d0    (FO4-chain delay, arbitrary but common unit)
* energy(V) = e2 V^2 + e1 V + e0             (energy per operation, arbitrary but common unit)
* power(V)  = p2 V^2 + p1 V + p0             (power dissipation, arbitrary but common unit)

and gives a table of area factors between every pair of nodes. The coefficients below are the
published table values. A factor between (node A, V_A) and (node B, V_B) is the ratio of the fits,
``f_B(V_B) / f_A(V_A)``. Nominal supply voltages are the PTM nominal voltages the paper simulated at.

Choices made here (not in the paper), documented so that results can be reproduced:

* ``flavor``: nodes 45 nm and below exist as high-performance (``"HP"``, the default: GPUs and the WWW
  45 nm libraries are high-performance processes) and low-power (``"LP"``) fits. 180-65 nm have one fit.
* Supply voltages are accepted from 0.6x to 1.1x the node's nominal voltage; outside that window the
  fits are extrapolations (near-threshold operation is not covered).
* A few cubic delay fits turn upwards near the top of that window (HP 45 nm above 0.95 V, HP 32 nm above
  0.85 V, 180 nm above 1.84 V, HP 20/16 nm above 0.96 V): a fitting artefact (a higher supply never makes a
  static CMOS gate slower). There the delay is held at its minimum over [0.6 V_nom, V], i.e. delay is the
  running minimum of the fit; energy likewise is the running maximum of its fit from 0.6 V_nom. Inside the
  monotone part of each fit (including every nominal voltage except HP 45/32 nm, where the held value
  differs from the raw fit by 2.3 % and 2.6 %) this equals the published polynomial exactly.
* Nodes between tabulated ones (e.g. 28 or 22 nm) are interpolated: log(value) linearly in log(node),
  nominal voltage linearly in log(node). Nodes outside 7-180 nm raise :class:`InputError`.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from cimscope.errors import InputError

#: Nodes tabulated by Stillmaker & Baas (nm), largest first.
NODES_NM: tuple[int, ...] = (180, 130, 90, 65, 45, 32, 20, 16, 14, 10, 7)
FLAVORS = ("HP", "LP")

#: Accepted supply-voltage window, as fractions of the nominal voltage (our choice, see module doc).
V_LOW_FRACTION = 0.6
V_HIGH_FRACTION = 1.1

# Stillmaker & Baas 2017, delay / energy / power fitting coefficients per node, highest power first:
# (d3, d2, d1, d0), (e2, e1, e0), (p2, p1, p0). Keys: node for 180-65 nm, (flavor, node) below.
_FITS: dict = {
    180: ((0.0, 97.09, -356.7, 406.5), (0.0, 24.64, -17.98), (0.0, 101000.0, -79720.0)),
    130: ((-76.65, 334.9, -493.4, 275.8), (7.171, -6.709, 2.904), (27020.0, -15450.0, 5630.0)),
    90: ((-60.34, 262.5, -384.2, 210.9), (4.762, -4.781, 2.092), (17320.0, -11230.0, 4328.0)),
    65: ((-53.3, 230.4, -333.9, 178.6), (3.755, -4.398, 1.975), (12890.0, -10510.0, 4362.0)),
    ("HP", 45): ((-501.6, 1567.0, -1619.0, 566.1), (1.018, -0.3107, 0.1539), (5462.0, -1760.0, 522.4)),
    ("HP", 32): ((-1047.0, 2982.0, -2797.0, 873.5), (0.8367, -0.4341, 0.1701), (4001.0, -1733.0, 533.6)),
    ("HP", 20): ((0.0, 34.63, -66.37, 41.15), (0.373, -0.1582, 0.04104), (2922.0, -1286.0, 299.9)),
    ("HP", 16): ((0.0, 24.8, -47.52, 28.87), (0.2958, -0.1241, 0.03024), (2133.0, -882.6, 197.7)),
    ("HP", 14): ((-40.66, 109.2, -100.6, 35.92), (0.2363, -0.09675, 0.02239), (1675.0, -711.0, 159.0)),
    ("HP", 10): ((-34.95, 93.65, -85.99, 30.4), (0.2068, -0.09311, 0.02375), (1456.0, -621.6, 143.8)),
    ("HP", 7): ((-28.58, 76.6, -70.26, 24.69), (0.1776, -0.09097, 0.02447), (1179.0, -515.7, 123.4)),
    ("LP", 45): ((-285.7, 1239.0, -1795.0, 898.8), (1.103, -0.362, 0.2767), (6297.0, -3009.0, 1124.0)),
    ("LP", 32): ((-325.9, 1374.0, -1922.0, 913.2), (0.9559, -0.7823, 0.471), (4557.0, -3037.0, 1323.0)),
    ("LP", 20): ((-160.5, 514.1, -558.6, 217.5), (0.2632, -0.14, 0.06841), (2096.0, -962.4, 287.1)),
    ("LP", 16): ((-114.6, 366.7, -397.4, 153.6), (0.2139, -0.1187, 0.05639), (1609.0, -715.5, 205.7)),
    ("LP", 14): ((-85.37, 271.6, -292.2, 111.4), (0.1556, -0.06472, 0.03066), (1259.0, -554.1, 152.3)),
    ("LP", 10): ((-71.76, 228.6, -246.3, 93.91), (0.1261, -0.0518, 0.02769), (1046.0, -422.7, 118.9)),
    ("LP", 7): ((-61.79, 196.1, -210.3, 79.55), (0.09365, -0.03409, 0.02043), (815.2, -307.3, 87.54)),
}

# PTM nominal supply voltages (V) used by Stillmaker & Baas: bulk 180-65 nm, HP/LP 45-32 nm, FinFET 20-7 nm.
_NOMINAL_V: dict = {
    180: 1.8, 130: 1.3, 90: 1.2, 65: 1.1,
    ("HP", 45): 1.0, ("HP", 32): 0.9, ("HP", 20): 0.9, ("HP", 16): 0.85, ("HP", 14): 0.8, ("HP", 10): 0.75,
    ("HP", 7): 0.7,
    ("LP", 45): 1.1, ("LP", 32): 1.0, ("LP", 20): 0.9, ("LP", 16): 0.85, ("LP", 14): 0.8, ("LP", 10): 0.75,
    ("LP", 7): 0.7,
}

# Stillmaker & Baas 2017, area scaling factors: _AREA[from][to] multiplies an area at node `from` to give
# the area at node `to` (the paper's table, rows = from, columns = to, in NODES_NM order).
_AREA_ROWS = (
    (1, 0.34, 0.15, 0.08, 0.053, 0.025, 0.011, 0.01, 0.0093, 0.0055, 0.0032),
    (2.9, 1, 0.44, 0.23, 0.16, 0.072, 0.033, 0.03, 0.027, 0.016, 0.0092),
    (6.6, 2.3, 1, 0.53, 0.35, 0.16, 0.075, 0.067, 0.061, 0.036, 0.021),
    (12, 4.3, 1.9, 1, 0.66, 0.31, 0.14, 0.13, 0.12, 0.068, 0.039),
    (19, 6.4, 2.8, 1.5, 1, 0.46, 0.21, 0.19, 0.17, 0.1, 0.059),
    (40, 14, 6.1, 3.3, 2.2, 1, 0.46, 0.41, 0.38, 0.22, 0.13),
    (88, 30, 13, 7.1, 4.7, 2.2, 1, 0.89, 0.82, 0.48, 0.28),
    (99, 34, 15, 7.9, 5.3, 2.4, 1.1, 1, 0.91, 0.54, 0.31),
    (110, 37, 16, 8.7, 5.8, 2.7, 1.2, 1.1, 1, 0.59, 0.34),
    (180, 63, 28, 15, 9.8, 4.5, 2.1, 1.9, 1.7, 1, 0.58),
    (320, 110, 48, 25, 17, 7.8, 3.6, 3.2, 2.9, 1.7, 1),
)
_AREA = {f: {t: float(v) for t, v in zip(NODES_NM, row)} for f, row in zip(NODES_NM, _AREA_ROWS)}


# --------------------------------------------------------------------------------------------------------
# helpers
def _check_flavor(flavor: str) -> str:
    f = str(flavor).upper()
    if f not in FLAVORS:
        raise InputError(f"unknown process flavor {flavor!r}; valid flavors: {', '.join(FLAVORS)}")
    return f


def _key(node: int, flavor: str):
    return node if node >= 65 else (flavor, node)


def _check_node(nm: float) -> float:
    try:
        v = float(nm)
    except (TypeError, ValueError):
        raise InputError(f"technology node {nm!r} is not a number (nm); valid range: "
                         f"{NODES_NM[-1]}-{NODES_NM[0]} nm (tabulated: {', '.join(map(str, NODES_NM))})") from None
    if not (NODES_NM[-1] <= v <= NODES_NM[0]) or math.isnan(v):
        raise InputError(f"technology node {nm} nm is out of range; valid range: {NODES_NM[-1]}-{NODES_NM[0]} nm "
                         f"(Stillmaker & Baas 2017 tabulate {', '.join(map(str, NODES_NM))} nm)")
    return v


def _bracket(nm: float) -> tuple[int, int, float]:
    """Tabulated nodes (big, small) around nm and the weight of `small` in log(node)."""
    for big, small in zip(NODES_NM[:-1], NODES_NM[1:]):
        if small <= nm <= big:
            if nm == big:
                return big, big, 0.0
            if nm == small:
                return small, small, 0.0
            w = (math.log(big) - math.log(nm)) / (math.log(big) - math.log(small))
            return big, small, w
    raise AssertionError("node checked before")  # pragma: no cover


def nominal_vdd(nm: float, flavor: str = "HP") -> float:
    """Nominal supply voltage (V) of a node (PTM nominal, as simulated by Stillmaker & Baas 2017)."""
    nm = _check_node(nm)
    flavor = _check_flavor(flavor)
    big, small, w = _bracket(nm)
    vb, vs = _NOMINAL_V[_key(big, flavor)], _NOMINAL_V[_key(small, flavor)]
    return (1 - w) * vb + w * vs


def valid_voltage_range(nm: float, flavor: str = "HP") -> tuple[float, float]:
    """Supply voltages (V) accepted at a node: [0.6, 1.1] x nominal (see module doc)."""
    v = nominal_vdd(nm, flavor)
    return round(V_LOW_FRACTION * v, 6), round(V_HIGH_FRACTION * v, 6)


def _check_v(nm: float, v: Optional[float], flavor: str) -> float:
    if v is None:
        return nominal_vdd(nm, flavor)
    try:
        v = float(v)
    except (TypeError, ValueError):
        raise InputError(f"supply voltage {v!r} is not a number (V)") from None
    lo, hi = valid_voltage_range(nm, flavor)
    if not (lo <= v <= hi):
        raise InputError(f"supply voltage {v} V is out of range at {nm:g} nm ({flavor}); valid range: "
                         f"{lo:g}-{hi:g} V (0.6-1.1 x nominal {nominal_vdd(nm, flavor):g} V)")
    return v


def _extremum_on(coeffs: tuple, a: float, b: float, want_min: bool) -> float:
    """Min (or max) of a polynomial on [a, b] (endpoints and interior critical points)."""
    c = np.trim_zeros(np.asarray(coeffs, dtype=float), "f")
    pts = [a, b]
    if len(c) > 2:
        for r in np.roots(np.polyder(c)):
            if abs(r.imag) < 1e-12 and a < r.real < b:
                pts.append(float(r.real))
    vals = [float(np.polyval(c, p)) for p in pts]
    return min(vals) if want_min else max(vals)


def _node_value(node: int, v: float, flavor: str, which: str) -> float:
    """Fit value at a tabulated node and voltage, made monotone in V (running min/max from 0.6 V_nom)."""
    key = _key(node, flavor)
    d, e, p = _FITS[key]
    a = min(V_LOW_FRACTION * _NOMINAL_V[key], v)
    if which == "delay":
        val = _extremum_on(d, a, v, want_min=True)
    elif which == "energy":
        val = _extremum_on(e, a, v, want_min=False)
    else:
        val = _extremum_on(p, a, v, want_min=False)
    if val <= 0:  # pragma: no cover - guarded by the voltage window, kept as a safety net
        raise InputError(f"Stillmaker & Baas {which} fit is not positive at {node} nm, {v} V")
    return val


def _value(nm: float, v: float, flavor: str, which: str) -> float:
    big, small, w = _bracket(nm)
    if w == 0.0:
        return _node_value(big, v, flavor, which)
    lb = math.log(_node_value(big, v, flavor, which))
    ls = math.log(_node_value(small, v, flavor, which))
    return math.exp((1 - w) * lb + w * ls)


def _factor(which: str, from_nm, to_nm, from_v, to_v, flavor) -> float:
    flavor = _check_flavor(flavor)
    from_nm, to_nm = _check_node(from_nm), _check_node(to_nm)
    from_v, to_v = _check_v(from_nm, from_v, flavor), _check_v(to_nm, to_v, flavor)
    return _value(to_nm, to_v, flavor, which) / _value(from_nm, from_v, flavor, which)


# --------------------------------------------------------------------------------------------------------
# public API
def energy_factor(from_nm: float, to_nm: float, from_v: Optional[float] = None, to_v: Optional[float] = None,
                  flavor: str = "HP") -> float:
    """Multiply an energy at (from_nm, from_v) by this to get it at (to_nm, to_v). Voltages default to the
    node's nominal. Stillmaker & Baas 2017 energy fit e2 V^2 + e1 V + e0 per node."""
    return _factor("energy", from_nm, to_nm, from_v, to_v, flavor)


def delay_factor(from_nm: float, to_nm: float, from_v: Optional[float] = None, to_v: Optional[float] = None,
                 flavor: str = "HP") -> float:
    """Multiply a delay (latency) at (from_nm, from_v) by this to get it at (to_nm, to_v).
    Stillmaker & Baas 2017 delay fit d3 V^3 + d2 V^2 + d1 V + d0 per node."""
    return _factor("delay", from_nm, to_nm, from_v, to_v, flavor)


def power_factor(from_nm: float, to_nm: float, from_v: Optional[float] = None, to_v: Optional[float] = None,
                 flavor: str = "HP") -> float:
    """Multiply a power at (from_nm, from_v) by this to get it at (to_nm, to_v).
    Stillmaker & Baas 2017 power fit p2 V^2 + p1 V + p0 per node."""
    return _factor("power", from_nm, to_nm, from_v, to_v, flavor)


def area_factor(from_nm: float, to_nm: float) -> float:
    """Multiply an area at from_nm by this to get it at to_nm (Stillmaker & Baas 2017 area table;
    bilinear in log(node) between tabulated nodes, log(value) interpolated)."""
    from_nm, to_nm = _check_node(from_nm), _check_node(to_nm)
    fb, fs, fw = _bracket(from_nm)
    tb, ts, tw = _bracket(to_nm)
    if fw == 0.0 and tw == 0.0:
        return _AREA[fb][tb]
    total = 0.0
    for f, wf in ((fb, 1 - fw), (fs, fw)):
        for t, wt in ((tb, 1 - tw), (ts, tw)):
            if wf * wt:
                total += wf * wt * math.log(_AREA[f][t])
    return math.exp(total)


def describe() -> str:
    """One line naming the source, for the `source` field of estimates."""
    return "Stillmaker & Baas, Integration 58 (2017) 74-81: node/Vdd scaling fits"
