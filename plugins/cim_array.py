"""Parametric SRAM compute-in-memory arrays: ``analog_cim_array`` and ``digital_cim_array``.

Both apply inputs bit-serially over passes and store a weight of bw bits bit-sliced over adjacent columns.
Per MAC wave every row computes with every weight in the array; the energies and latencies below are per
wave, and per MAC = per wave / MACs per wave. All 45 nm energies are multiplied by the Stillmaker & Baas
energy factor for (technology, voltage), latencies by the delay factor, areas by the area factor
(:mod:`cimscope.plugins.scaling`), except the ADC, which has its own survey model.

analog_cim_array (rows R, columns C, bits_per_cell b_c, dac_bits b_d, adc_bits b_a, columns_per_adc s):
    columns per weight  c_w = ceil(bw / b_c);  weights per row  W = floor(C / c_w);  used columns  U = W * c_w
    MACs per wave = R * W;  passes P = ceil(bi / b_d)
    lossless ADC resolution = ceil(log2(R * (2^b_d - 1) * (2^b_c - 1) + 1)) (default adc_bits)
    per pass:  DAC       R * 2^b_d * C_u * V^2                    (capacitive DAC, C_u = 1 fF)
               wordline  R * C * c_wl * V^2                        (c_wl = 0.3 fF per cell)
               bitline   U * R * c_bl * V * (V/2)                  (c_bl = 0.2 fF per cell, half-swing readout)
               ADC       U * E_adc(b_a, f_s)                       (one conversion per used column)
               shift-add U * E_add(b_a + bi + bw)                  (Horowitz adder fit)
    latency per pass = 1 array cycle + ceil(U / n_adc) ADC cycles, n_adc = ceil(C / s); wave = P passes.
    ADC energy per conversion (B. Murmann, "ADC Performance Survey 1997-2023", github.com/bmurmann/ADC-survey,
    best-case envelope as regressed on the survey for CiMLoop's ADC model, T. Andrulis et al., ISPASS 2024):
        SNDR = 6.02 b_a + 1.76 dB;  FOM_S(f_s) = min(180.14, 302.74 - 6.4608 ln f_s) dB (Schreier FOM)
        E_adc = 1 / (2 * 10^((FOM_S - SNDR)/10)) J, at f_s = the array clock (one conversion per cycle).
    ADC area: ln A[um^2] = 4.8506 + 0.06666 ln f_s + 0.79732 ln(node/nm) - 0.13437 b_a + 0.42366 ln(E_adc/pJ)
    (same survey regression). The ADC is not node-scaled further (the survey is the bound).
    Area: 1.34 x SRAM array of R*C bits (the analog6T compute-cell overhead of WWW, cim_macros.yaml)
    + n_adc ADCs + R DACs of 2^b_d unit capacitors (1 um^2 each) + n_adc shift-adders (FA + DFF per bit).

digital_cim_array (rows R, columns C):
    W = floor(C / bw);  U = W * bw;  MACs per wave = R * W;  passes P = bi (1 input bit per pass)
    per pass:  U * R two-input gates (bit products; a 2-input gate = 1/7 of a full-adder bit: 4 vs 28
               transistors), U adder trees of R 1-bit inputs (sum over levels of (R/2^l) adders of l bits),
               per weight (bw-1) shift-adds of (ceil(log2 R)+1+bw) bits and one accumulate of
               (ceil(log2 R)+1+bw+bi) bits, and an accumulator register write (WWW local register energy,
               0.020 pJ per 8 bits, a100.yaml). Full-adder bit: the per-bit slope of Horowitz's adder
               energies (2.917 fJ at 0.9 V, 3.594 fJ at the 45 nm reference 1.0 V).
    latency per wave = 2 cycles per input bit (read+AND+tree, shift-accumulate) + 2 pipeline cycles; this
    reproduces WWW's digital6T macro (18 cycles at 8 bits).
    Area: SRAM array of R*C bits + R*C NOR2 gates (NanGate NOR2_X1 0.798 um^2) + adder-tree and shift-add
    full adders (NanGate FA_X1 4.256 um^2) + accumulator DFFs (DFF_X1 4.522 um^2).

The capacitances, the DAC unit and the gate/full-adder ratio are representative 45 nm values we assume
(1 fF/um gate, 0.2 fF/um wire); they are not calibrated. For reference: digital_cim_array with
rows=256, columns=128 gives 0.50 pJ per 8-bit MAC at 45 nm vs 0.34 pJ for WWW's digital6T macro
(docs/plugins.md). Leakage is not modelled.
"""
from __future__ import annotations

import math
from typing import NamedTuple

from cimscope.errors import InputError
from cimscope.plugins.base import ActionCost, Attr, Estimate, Estimator, register
from cimscope.plugins.common import NODE_ATTRS, bits_attr, fa_bit_pJ, int_add_pJ, tech, tech_source
from cimscope.plugins.gpu_compute import FA_AREA_UM2
from cimscope.plugins.sram import DFF_AREA_UM2, WWW_REG_WRITE_PJ, array_area_um2

V45 = 1.0                  # nominal 45 nm supply (Stillmaker & Baas / PTM HP): energies below are at 45 nm, 1 V
C_DAC_UNIT_F = 1e-15       # capacitive DAC unit capacitor (assumption)
C_WL_CELL_F = 0.3e-15      # wordline capacitance per cell (assumption)
C_BL_CELL_F = 0.2e-15      # bitline capacitance per cell (assumption)
A_DAC_UNIT_UM2 = 1.0       # area of one DAC unit capacitor with its switch (assumption)
ANALOG_CELL_AREA_X = 1.34  # WWW analog6T area relative to plain SRAM (cim_macros.yaml)
GATE_PER_FA = 1 / 7        # 2-input gate energy relative to a full-adder bit (4 vs 28 transistors)
NOR2_AREA_UM2 = 0.798      # NanGate 45 nm NOR2_X1

# Murmann ADC survey envelope (Schreier FOM vs sampling rate) and area regression.
FOMS_MAX_DB = 180.14159078904734
FOMS_INTERCEPT_DB = 302.7387019052544
FOMS_PER_LN_HZ = -6.460790934271676
AREA_LN = {"intercept": 4.850567073004403, "ln_fs": 0.06665851895885958, "ln_node": 0.797323960429599,
           "bits": -0.13437278622014803, "ln_energy_pJ": 0.4236571760437834}
MURMANN = ("Murmann ADC survey envelope (FOM_S = min(180.14, 302.74 - 6.461 ln fs) dB), as regressed for "
           "CiMLoop (Andrulis et al., ISPASS 2024)")


def adc_energy_pJ(bits: float, fs_hz: float) -> float:
    """Best-case energy per conversion (pJ) of an ADC of `bits` ENOB at fs_hz (Murmann survey envelope)."""
    sndr = 6.02 * bits + 1.76
    foms = min(FOMS_MAX_DB, FOMS_INTERCEPT_DB + FOMS_PER_LN_HZ * math.log(fs_hz))
    return 1.0 / (2.0 * 10 ** ((foms - sndr) / 10.0)) * 1e12


def adc_area_um2(bits: float, fs_hz: float, node_nm: float) -> float:
    """ADC area (um^2) from the survey regression (lower-decile fit) at the given node."""
    e = adc_energy_pJ(bits, fs_hz)
    ln_a = (AREA_LN["intercept"] + AREA_LN["ln_fs"] * math.log(fs_hz) + AREA_LN["ln_node"] * math.log(node_nm)
            + AREA_LN["bits"] * bits + AREA_LN["ln_energy_pJ"] * math.log(e))
    return math.exp(ln_a)


def adder_tree_fa_bits(n: int) -> int:
    """Full-adder bits of a tree summing n 1-bit inputs (pairwise, widths growing by 1 per level)."""
    total, width = 0, 1
    while n > 1:
        pairs = n // 2
        total += pairs * width
        n = n - pairs
        width += 1
    return total


def _common_attrs() -> dict:
    return {
        "rows": Attr(256, "rows (inputs applied in parallel)", kind=int, low=1, high=4096),
        "columns": Attr(256, "columns (weight bit-slices)", kind=int, low=1, high=4096),
    }


def _array_actions(e_mac: float, e_wave: float, wave_s: float, macs: int, src: str, cells: int, bw: int,
                   t, columns: int) -> dict[str, ActionCost]:
    """Actions shared by both CiM arrays. Weights are programmed a row at a time: one row write of
    ``columns`` cells (the sram_buffer write model for an array of ``cells`` bits, one bank, node-scaled; one
    cycle) stores columns/bw weights, so one weight costs bw/columns of a row write (a whole row write when a
    weight is wider than a row)."""
    from cimscope.plugins.sram import access_energy_pJ
    row_bits = max(columns, bw)
    e_write = access_energy_pJ(cells, 1, row_bits, "write") * t.energy * bw / row_bits
    return {
        "mac": ActionCost(e_mac, wave_s, "per MAC: " + src, throughput_per_s=macs / wave_s),
        "compute": ActionCost(e_mac, wave_s, "same as mac (Timeloop's compute action)",
                              throughput_per_s=macs / wave_s),
        "mac_wave": ActionCost(e_wave, wave_s, src, throughput_per_s=1 / wave_s),
        "write": ActionCost(e_write, t.cycle_s, f"one {bw}-bit weight: {bw}/{row_bits} of a {row_bits}-bit row "
                            f"write, sram_buffer write model for an array of {cells} bits{tech_source(t)}"),
        "read": ActionCost(0.0, 0.0, "weights stay in place: no read"),
        "leak": ActionCost(0.0, 0.0, "leakage not modelled"),
    }


class Wave(NamedTuple):
    """One wave of a parametric CiM array (every row's input applied to every stored weight): its energy (pJ),
    latency (cycles), MACs, the source line of the MAC actions, the array area (um^2) and notes."""

    energy_pJ: float
    cycles: float
    macs: int
    source: str
    area_um2: float
    notes: dict


def weight_columns(component: str, rows: int, columns: int, bw: int, cw: int, how: str = "") -> tuple[int, int, int]:
    """(weights per row, columns used, MACs per wave) of ``rows`` x ``columns`` cells holding ``bw``-bit weights
    on ``cw`` columns each; an InputError when not even one weight fits a row (``how``: why it takes cw)."""
    W = columns // cw
    if W < 1:
        raise InputError(f"{component}: a {bw}-bit weight needs {cw} columns{how} but columns={columns}; "
                         f"valid: columns >= {cw}")
    return W, W * cw, rows * W


class ParametricCimArray(Estimator):
    """What the parametric CiM arrays share: the per-wave figures of :meth:`wave` become the actions of
    :func:`_array_actions` and one Estimate."""

    percent_accuracy = 50

    def wave(self, a: dict, t) -> Wave:
        raise NotImplementedError

    def estimate(self) -> Estimate:
        a = self.attrs
        t = tech(a)
        w = self.wave(a, t)
        actions = _array_actions(w.energy_pJ / w.macs, w.energy_pJ, w.cycles * t.cycle_s, w.macs, w.source,
                                 a["rows"] * a["columns"], a["weight_bits"], t, a["columns"])
        return Estimate(self.component_name, dict(a), actions, w.area_um2, 0.0, self.percent_accuracy, w.notes)


@register
class AnalogCimArray(ParametricCimArray):
    component_name = "analog_cim_array"
    aliases = ("analog_cim",)
    description = ("parametric analog SRAM CiM array: DAC, array, ADC (Murmann survey model), shift-add; "
                   "bit-serial inputs")
    attributes = {
        **_common_attrs(),
        "bits_per_cell": Attr(1, "weight bits stored per cell", kind=int, low=1, high=4),
        "dac_bits": Attr(1, "input bits applied per pass (DAC resolution)", kind=int, low=1, high=8),
        "adc_bits": Attr(None, "ADC resolution (default: lossless for rows, dac_bits, bits_per_cell)", kind=int,
                         low=1, high=14),
        "columns_per_adc": Attr(8, "columns sharing one ADC", kind=int, low=1, high=4096),
        "input_bits": bits_attr(8, "input bits"),
        "weight_bits": bits_attr(8, "weight bits"),
        **NODE_ATTRS,
    }

    def wave(self, a: dict, t) -> Wave:
        R, C = a["rows"], a["columns"]
        bi, bw, bc, bd = a["input_bits"], a["weight_bits"], a["bits_per_cell"], a["dac_bits"]
        cw = math.ceil(bw / bc)
        _, U, macs = weight_columns("analog_cim_array", R, C, bw, cw, f" at bits_per_cell={bc},")
        passes = math.ceil(bi / bd)
        lossless = math.ceil(math.log2(R * (2 ** bd - 1) * (2 ** bc - 1) + 1))
        ba = a["adc_bits"] if a["adc_bits"] is not None else min(14, lossless)
        n_adc = math.ceil(C / a["columns_per_adc"])
        conv_per_adc = math.ceil(U / n_adc)
        fs = 1.0 / t.cycle_s

        # per pass, 45 nm at 1 V (pJ), then node/voltage factor
        e_dac = R * (2 ** bd) * C_DAC_UNIT_F * V45 ** 2 * 1e12
        e_wl = R * C * C_WL_CELL_F * V45 ** 2 * 1e12
        e_bl = U * R * C_BL_CELL_F * V45 * (V45 / 2) * 1e12
        e_sa = U * int_add_pJ(ba + bi + bw)
        e_adc_conv = adc_energy_pJ(ba, fs)
        e_adc = U * e_adc_conv
        e_pass = (e_dac + e_wl + e_bl + e_sa) * t.energy + e_adc
        e_wave = passes * e_pass
        wave_cycles = passes * (1 + conv_per_adc)
        breakdown = {"dac": e_dac * t.energy * passes / macs, "wordline": e_wl * t.energy * passes / macs,
                     "bitline": e_bl * t.energy * passes / macs, "adc": e_adc * passes / macs,
                     "shift_add": e_sa * t.energy * passes / macs}
        ts = tech_source(t)
        src = (f"per wave = {passes} passes x (DAC + wordline + bitline + {U} ADC conversions of {ba} b at "
               f"{fs / 1e9:.3g} GS/s ({e_adc_conv:.4g} pJ each, {MURMANN}) + shift-add); {macs} MACs per wave; "
               f"latency {passes} x (1 + {conv_per_adc}) cycles{ts}")
        a_adc = adc_area_um2(ba, fs, t.nm)
        sa_bits = ba + bi + bw
        area = ((ANALOG_CELL_AREA_X * array_area_um2(R * C, 1) + R * (2 ** bd) * A_DAC_UNIT_UM2
                 + n_adc * sa_bits * (FA_AREA_UM2 + DFF_AREA_UM2)) * t.area + n_adc * a_adc)
        notes = {"macs_per_wave": macs, "passes": passes, "adc_bits": ba, "lossless_adc_bits": lossless,
                 "adcs": n_adc, "columns_used": U, "wave_latency_cycles": wave_cycles,
                 "adc_energy_pJ_per_conversion": e_adc_conv, "adc_area_um2_each": a_adc,
                 "energy_per_mac_breakdown_pJ": breakdown,
                 "area_source": "1.34 x SRAM (WWW analog6T overhead) + Murmann-survey ADCs + DAC caps + "
                                "shift-adders" + ts}
        return Wave(e_wave, wave_cycles, macs, src, area, notes)


@register
class DigitalCimArray(ParametricCimArray):
    component_name = "digital_cim_array"
    aliases = ("digital_cim",)
    description = "parametric digital SRAM CiM array: bitwise products in cells + adder trees, bit-serial inputs"
    attributes = {
        **_common_attrs(),
        "input_bits": bits_attr(8, "input bits (one per pass)"),
        "weight_bits": bits_attr(8, "weight bits (one per column)"),
        **NODE_ATTRS,
    }

    def wave(self, a: dict, t) -> Wave:
        R, C, bi, bw = a["rows"], a["columns"], a["input_bits"], a["weight_bits"]
        W, U, macs = weight_columns("digital_cim_array", R, C, bw, bw)
        fa = fa_bit_pJ()
        tree_bits = adder_tree_fa_bits(R)
        tree_out = math.ceil(math.log2(R)) + 1 if R > 1 else 1
        shift_bits = (bw - 1) * (tree_out + bw)
        acc_bits = tree_out + bw + bi
        e_gates = U * R * GATE_PER_FA * fa
        e_tree = U * tree_bits * fa
        e_shift = W * (shift_bits + acc_bits) * fa
        e_reg = W * acc_bits * WWW_REG_WRITE_PJ / 8
        e_pass = (e_gates + e_tree + e_shift + e_reg) * t.energy
        e_wave = bi * e_pass
        wave_cycles = 2 * bi + 2
        ts = tech_source(t)
        src = (f"per wave = {bi} passes x ({U * R} bit products + {U} adder trees of {tree_bits} FA bits + "
               f"{W} shift-accumulates of {shift_bits + acc_bits} FA bits + accumulator writes); FA bit "
               f"{fa * 1e3:.4g} fJ (Horowitz 2014 adder slope, taken to 1.0 V); {macs} MACs per wave; latency "
               f"2*bi+2 = {wave_cycles} cycles{ts}")
        area = (array_area_um2(R * C, 1) + R * C * NOR2_AREA_UM2
                + (C * tree_bits + W * (shift_bits + acc_bits)) * FA_AREA_UM2
                + W * acc_bits * DFF_AREA_UM2) * t.area
        breakdown = {"gates": e_gates * bi * t.energy / macs, "adder_trees": e_tree * bi * t.energy / macs,
                     "shift_accumulate": e_shift * bi * t.energy / macs, "registers": e_reg * bi * t.energy / macs}
        notes = {"macs_per_wave": macs, "passes": bi, "columns_used": U, "wave_latency_cycles": wave_cycles,
                 "adder_tree_fa_bits_per_column": tree_bits, "energy_per_mac_breakdown_pJ": breakdown,
                 "area_source": "SRAM + NanGate NOR2/FA/DFF cells" + ts}
        return Wave(e_wave, wave_cycles, macs, src, area, notes)
