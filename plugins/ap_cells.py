"""Associative Processor (AP) cell technologies: published per-bit figures and their scaling to a node/supply.

Energy: a compare costs ``compare_energy`` per key bit per active row (the fJ/bit/search figure of CAM
macros); a write costs ``write_energy`` per written bit per row. In SRAM the write energy is spent on the
bit lines, which span every active row whatever the number of tagged rows ("rows" charging); in resistive
cells it is the switching energy of the tagged cells only ("matched" charging; a k-bit key matches 2^-k of
the rows for uniformly distributed data). Reads cost ``read_energy`` per bit per row read.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Optional

from cimscope.errors import InputError, UnknownNameError
from cimscope.validation import named_number


@dataclass(frozen=True)
class CellTech:
    """Per-bit costs of one AP cell technology at its reference node and supply.

    Energies are per bit per row (fJ); latencies per compare/write cycle (ns). ``write_charges``: "rows"
    (bit-line energy over every active row, CMOS) or "matched" (switching energy of tagged cells only).
    ``cell_area_um2`` is the published cell area at ``area_node_nm`` (its own source's node)."""

    name: str
    compare_fJ: float
    write_fJ: float
    read_fJ: float
    compare_ns: float
    write_ns: float
    cell_area_um2: float
    node_nm: float
    vdd_V: float
    write_charges: str
    scale_write_with_node: bool
    sources: dict[str, str] = field(default_factory=dict)
    short: dict[str, str] = field(default_factory=dict)     # one-line citations for action tables
    area_node_nm: Optional[float] = None                     # node of cell_area_um2 (None: node_nm)


#: Published per-bit figures (see each entry's ``sources``).
CELLS: dict[str, CellTech] = {
    "sram": CellTech(
        name="sram",
        compare_fJ=2.89, write_fJ=2.89, read_fJ=2.89, compare_ns=7.0, write_ns=7.0,
        cell_area_um2=0.346 * 10 / 6, area_node_nm=45, node_nm=180, vdd_V=1.8,
        write_charges="rows", scale_write_with_node=True,
        sources={
            "compare": "K. Pagiamtzis, A. Sheikholeslami, 'A Low-Power Content-Addressable Memory (CAM) Using "
                       "Pipelined Hierarchical Search Scheme', IEEE JSSC 39(9), 2004: 1024x144 CAM, 0.18 um "
                       "CMOS, 1.8 V, 7 ns search cycle, 2.89 fJ/bit/search",
            "write": "first-order: an AP write swings the bit line of each written column over every active "
                     "row, as a compare swings its search line: write energy/bit/row = compare energy; one "
                     "write per search cycle (cimscope assumption)",
            "read": "first-order: a row read swings the same column lines: read energy/bit/row = compare",
            "area": "10T NOR CAM cell = 10/6 x 6T SRAM cell; 6T cell 0.346 um^2 at 45 nm (Intel 45 nm, "
                    "Mistry et al., IEDM 2007); scaled from 45 nm with the Stillmaker & Baas area table",
        },
        short={"compare": "Pagiamtzis JSSC'04 CAM: 2.89 fJ/bit/search, 7 ns @180nm 1.8V",
               "write": "= compare per bit-row (bit line ~ search line; cimscope assumption)",
               "read": "= compare per bit-row (cimscope assumption)"}),
    "reram": CellTech(
        name="reram",
        compare_fJ=4.69, write_fJ=100.0, read_fJ=1.71, compare_ns=3 / 0.875, write_ns=10.0,
        cell_area_um2=0.41, area_node_nm=90, node_nm=180, vdd_V=1.8,
        write_charges="matched", scale_write_with_node=False,
        sources={
            "compare": "'An Energy-efficient Capacitive-RRAM Content Addressable Memory', arXiv 2401.09207: "
                       "64x64 array, 0.18 um, 875 MHz, 3 cycles per search, 1.71 fJ/bit-search (match), "
                       "4.69 fJ/bit-search (miss); a compare charges the miss figure (most rows mismatch)",
            "write": "ITRS 2011 (Emerging Research Devices) memristor/ReRAM prototype row, as tabulated in "
                     "J. J. Yang, D. B. Strukov, D. R. Stewart, 'Memristive devices for computing', Nature "
                     "Nanotechnology 8, 13-24 (2013), Table 1: energy per bit 0.1-3 pJ, write time 10 ns. "
                     "0.1 pJ is the low (optimistic) end of that range. Device switching: not scaled with the "
                     "CMOS node; only tagged cells switch. (Checked against a public transcription of that "
                     "table; the earlier citation, S. Yu, P.-Y. Chen, IEEE SSC Magazine 8(2) 2016, was from "
                     "memory and could not be checked.)",
            "read": "match energy of the same capacitive-RRAM CAM, 1.71 fJ/bit",
            "area": "2T-2R resistive CAM cell 0.41 um^2 at 90 nm (J. Li et al., '1 Mb 0.41 um^2 2T-2R Cell "
                    "Nonvolatile TCAM', IEEE JSSC 49(4), 2014); scaled from 90 nm with the Stillmaker & Baas "
                    "area table",
        },
        short={"compare": "capacitive-RRAM CAM arXiv 2401.09207: 4.69 fJ/bit miss, 3.43 ns @180nm",
               "write": "ITRS 2011 ReRAM (Yang et al. Nat. Nano. 2013 Tab. 1): 0.1 (-3) pJ/bit, 10 ns (tagged "
                        "cells only, unscaled)",
               "read": "arXiv 2401.09207: 1.71 fJ/bit (match)"}),
}

CELL_CHOICES = tuple(CELLS)


@dataclass(frozen=True)
class CellParams:
    """Per-bit costs of a cell at the target node and supply, after scaling."""

    cell: str
    technology_nm: float
    voltage_V: float
    compare_fJ: float
    write_fJ: float
    read_fJ: float
    compare_s: float
    write_s: float
    cell_area_um2: float
    write_charges: str
    sources: dict[str, str] = field(default_factory=dict)
    short: dict[str, str] = field(default_factory=dict)
    write_scaled: bool = True          # False: device switching energy/latency kept at the published value

    @property
    def write_cycles(self) -> int:
        """AP clock cycles per write: the clock is the compare cycle; a longer write takes several."""
        return max(1, math.ceil(self.write_s / self.compare_s - 1e-9))

    @property
    def cycle_s(self) -> float:
        return self.compare_s


#: attributes that override a cell's scaled per-bit figures (given at the target node and supply)
OVERRIDES = {
    "compare_energy_fJ": "compare_fJ", "write_energy_fJ": "write_fJ", "read_energy_fJ": "read_fJ",
    "compare_latency_ns": "compare_s", "write_latency_ns": "write_s",
}


def cell_params(cell: str = "sram", technology: float = 16.0, voltage: Optional[float] = None,
                overrides: Optional[dict[str, Any]] = None) -> CellParams:
    """Scale a cell's published figures from its reference node/supply to ``technology`` nm and ``voltage``
    V with :mod:`cimscope.plugins.scaling` (energy: ``energy_factor``; latency: ``delay_factor``; area:
    ``area_factor``). ``voltage=None`` uses the node's nominal supply. Device switching energy/latency of
    resistive cells is not scaled. ``overrides`` (keys of :data:`OVERRIDES`) replace the scaled values."""
    from cimscope.plugins import scaling

    name = str(cell).lower()
    if name not in CELLS:
        raise UnknownNameError("AP cell", cell, CELLS)
    c = CELLS[name]
    try:
        node = float(technology)
    except (TypeError, ValueError):
        raise InputError(f"AP technology {technology!r} is not a node in nm") from None
    try:
        vdd = float(voltage) if voltage is not None else float(scaling.nominal_vdd(node))
    except (TypeError, ValueError):
        raise InputError(f"AP supply voltage {voltage!r} is not a number (V)") from None
    ef = scaling.energy_factor(c.node_nm, node, c.vdd_V, vdd)
    df = scaling.delay_factor(c.node_nm, node, c.vdd_V, vdd)
    af = scaling.area_factor(c.area_node_nm if c.area_node_nm is not None else c.node_nm, node)
    p = CellParams(
        cell=name, technology_nm=node, voltage_V=vdd,
        compare_fJ=c.compare_fJ * ef,
        write_fJ=c.write_fJ * (ef if c.scale_write_with_node else 1.0),
        read_fJ=c.read_fJ * ef,
        compare_s=c.compare_ns * 1e-9 * df,
        write_s=c.write_ns * 1e-9 * (df if c.scale_write_with_node else 1.0),
        cell_area_um2=c.cell_area_um2 * af,
        write_charges=c.write_charges, short=dict(c.short), write_scaled=c.scale_write_with_node,
        sources=dict(c.sources, scaling=f"cimscope.plugins.scaling from {c.node_nm:g} nm/{c.vdd_V:g} V to "
                                        f"{node:g} nm/{vdd:g} V: energy x{ef:.4g}, delay x{df:.4g}"),
    )
    return apply_overrides(p, overrides)


def apply_overrides(p: CellParams, overrides: Optional[dict[str, Any]]) -> CellParams:
    if not overrides:
        return p
    changes: dict[str, Any] = {}
    for k, v in overrides.items():
        if v is None:
            continue
        x = named_number("AP cell override", k, v, OVERRIDES)
        if x <= 0:
            raise InputError(f"AP cell override {k}={v!r} must be positive")
        changes[OVERRIDES[k]] = x * 1e-9 if k.endswith("_ns") else x
    srcs, short = dict(p.sources), dict(p.short)
    for k in changes:
        name = {"compare_fJ": "compare", "write_fJ": "write", "read_fJ": "read", "compare_s": "compare",
                "write_s": "write"}[k]
        srcs[name] = short[name] = "user override"
    return replace(p, sources=srcs, short=short, **changes)
