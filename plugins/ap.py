"""Associative Processor (AP) model: the estimator (1D memory AP, 2D compute AP), over its parts.

An AP is a CAM of ``rows`` words x ``columns`` bit columns that computes bit-serially and word-parallel by
compare/write passes of look-up-table programs; the algorithms, their pass counts and the references
([Yavits15], [Fouda22], [BF-IMNA]) are in :mod:`cimscope.plugins.ap_programs`.

The model is split by concern; every public name stays importable from here:

* :mod:`cimscope.plugins.ap_programs`: LUT pass programs and their closed-form counts (:func:`ap_passes`).
* :mod:`cimscope.plugins.ap_array`: the bit-level functional model :class:`ApArray` the tests run them on.
* :mod:`cimscope.plugins.ap_cells`: cell technologies (SRAM, ReRAM), node/supply scaling, overrides.
* :mod:`cimscope.plugins.ap_cost`: energy and cycles of one operation (:func:`ap_operation_cost`).
"""
from __future__ import annotations

from typing import Optional

from cimscope.errors import InputError
from cimscope.plugins.ap_array import ApArray
from cimscope.plugins.ap_cells import (CELL_CHOICES, CELLS, OVERRIDES, CellParams, CellTech, apply_overrides,
                                       cell_params)
from cimscope.plugins.ap_cost import ApCost, ap_operation_cost, passes_cycles, passes_energy_pJ
from cimscope.plugins.ap_programs import (OPERATIONS, ZERO_PASSES, ApPasses, Column, Pass, ap_passes,
                                          canonical_operation, count_passes, program, reduce_stage,
                                          reduction_stages)
from cimscope.plugins.base import ActionCost, Attr, Estimate, Estimator, register
from cimscope.plugins.common import nm

__all__ = [
    "OPERATIONS", "ZERO_PASSES", "ApPasses", "Column", "Pass", "ap_passes", "canonical_operation",
    "count_passes", "program", "reduce_stage", "reduction_stages", "ApArray",
    "CELL_CHOICES", "CELLS", "OVERRIDES", "CellParams", "CellTech", "apply_overrides", "cell_params",
    "ApCost", "ap_operation_cost", "passes_cycles", "passes_energy_pJ",
    "AssociativeProcessor", "AssociativeProcessor1D", "AssociativeProcessor2D",
]


_ACTION_OPS = ("add", "sub", "mul", "max", "relu", "accumulate")


class _ApBase(Estimator):
    percent_accuracy = 50
    description = ("Associative Processor (CAM rows x bit columns, bit-serial word-parallel). Actions: compare, "
                   "write, read per bit per row; compare_pass/write_pass per pass over all rows and columns; "
                   "add/sub/mul/max/relu/accumulate (and reduce for 2D) at `bits` over all rows.")
    _variant_default = "2d"

    @classmethod
    def _attrs(cls, variant_default: str) -> dict[str, Attr]:
        return {
            "variant": Attr(variant_default, "1d: memory AP (MAP, horizontal ops only); 2d: compute AP (CAP, "
                                             "also vertical ops: row reduction)", str, choices=("1d", "2d")),
            "rows": Attr(1024, "words (CAM rows)", int, low=1, high=1 << 24),
            "columns": Attr(256, "bits per row", int, low=1, high=1 << 16),
            "cell": Attr("sram", "cell technology", str, choices=CELL_CHOICES),
            "technology": Attr(16.0, "technology node (nm), e.g. 16 or '16nm' (Stillmaker & Baas range)",
                               kind=nm, low=7, high=180),
            "voltage": Attr(None, "supply voltage (V); default: nominal supply of the node", float,
                            low=0.3, high=2.0),
            "bits": Attr(8, "operand width of the per-operation actions", int, low=1, high=64),
            "bits_b": Attr(None, "second operand / destination width (default: bits)", int, low=1, high=128),
            "compare_energy_fJ": Attr(None, "override: compare energy per bit per row at the target node",
                                      float, low=0),
            "write_energy_fJ": Attr(None, "override: write energy per bit per row", float, low=0),
            "read_energy_fJ": Attr(None, "override: read energy per bit per row", float, low=0),
            "compare_latency_ns": Attr(None, "override: compare cycle (ns)", float, low=0),
            "write_latency_ns": Attr(None, "override: write latency (ns)", float, low=0),
        }

    def params(self) -> CellParams:
        a = self.attrs
        return cell_params(a["cell"], a["technology"], a["voltage"],
                           {k: a[k] for k in OVERRIDES if a.get(k) is not None})

    def estimate(self) -> Estimate:
        a = self.attrs
        p = self.params()
        rows, cols, M = a["rows"], a["columns"], a["bits"]
        Mb = a["bits_b"]
        sc = f", scaled to {p.technology_nm:g} nm {p.voltage_V:g} V"
        actions: dict[str, ActionCost] = {
            "compare": ActionCost(p.compare_fJ * 1e-3, p.compare_s,
                                  "per bit per row; " + p.short.get("compare", "") + sc),
            "write": ActionCost(p.write_fJ * 1e-3, p.write_s,
                                "per bit per row; " + p.short.get("write", "") + (sc if p.write_scaled else "")),
            "read": ActionCost(p.read_fJ * 1e-3, p.compare_s, "per bit per row; " + p.short.get("read", "") + sc),
            "compare_pass": ActionCost(p.compare_fJ * 1e-3 * rows * cols, p.compare_s,
                                       "one compare with every column in the key, over all rows"),
            "write_pass": ActionCost(p.write_fJ * 1e-3 * rows * cols, p.write_s,
                                     "one write of every column into all rows"),
        }
        ops = list(_ACTION_OPS) + (["reduce"] if a["variant"] == "2d" else [])
        for op in ops:
            bb = Mb
            if op == "mul" and bb is None:
                bb = M
            if op == "accumulate" and bb is None:
                bb = M
            if op == "reduce":
                c = ap_operation_cost(op, M, rows, params=p)
                src = f"[Fouda22] 2D-AP log2 reduction of {rows} rows of {M}-bit fields"
            else:
                c = ap_operation_cost(op, M, rows, bb, params=p)
                ps = ap_passes(op, M, bb)
                src = (f"{ps.compares} compares + {ps.writes} writes on {rows} rows at {M} bits"
                       + (f" / {bb} bits" if bb is not None else "") + " ([Yavits15], [Fouda22] LUT passes)")
            # fit check: the operation's fields must fit in a row
            need = _row_bits(op, M, bb)
            if need > cols:
                raise InputError(f"{self.component_name}: {op} at {M} bits needs {need} bit columns per row, "
                                 f"more than columns={cols}")
            actions[op] = ActionCost(c.energy_pJ, c.cycles * p.cycle_s, src)
        area = rows * cols * p.cell_area_um2
        return Estimate(
            component=self.component_name, attributes=dict(a), actions=actions, area_um2=area,
            leakage_W=0.0, percent_accuracy=self.percent_accuracy,
            notes={"cycle_s": p.cycle_s, "write_cycles": p.write_cycles, "write_charges": p.write_charges,
                   "technology_nm": p.technology_nm, "voltage_V": p.voltage_V, "sources": p.sources,
                   "area": "cell array only (periphery, tag logic and controller not modelled)",
                   "leakage": "not modelled"},
        )


def _row_bits(op: str, M: int, Mb: Optional[int]) -> int:
    """Bit columns one row needs for an operation's fields (operands, result, carry/flags)."""
    Mb = Mb if Mb is not None else M
    return {
        "add": M + Mb + 1, "sub": M + Mb + 1, "accumulate": M + Mb + 1,
        "mul": M + Mb + (M + Mb) + 1, "max": 2 * M + 2, "compare": 2 * M + 2, "relu": M,
        "copy": 2 * M, "saturate": M, "reduce": 2 * M + 1,
    }[op]


@register
class AssociativeProcessor(_ApBase):
    """An AP, 1D (memory, MAP) or 2D (compute, CAP) by the ``variant`` attribute."""

    component_name = "associative_processor"
    aliases = ("ap",)
    attributes = _ApBase._attrs("2d")


@register
class AssociativeProcessor1D(_ApBase):
    """1D AP (memory AP, MAP in BF-IMNA)."""

    component_name = "ap_1d"
    attributes = _ApBase._attrs("1d")


@register
class AssociativeProcessor2D(_ApBase):
    """2D AP (compute AP, CAP in BF-IMNA)."""

    component_name = "ap_2d"
    attributes = _ApBase._attrs("2d")
