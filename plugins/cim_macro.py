"""The four SRAM compute-in-memory primitives of WWW (T. Sharma, M. Ali, I. Chakraborty, K. Roy, "What, When,
Where to Compute-in-Memory", arXiv 2312.15896), as published in its primitive table and copied to
/work/shared/reference/cim_macros.yaml: each a 4096-byte array, figures scaled by WWW to 45 nm and 8-bit
data. At technology=45, nominal voltage, input_bits=weight_bits=8 this model returns the table exactly.

Scaling beyond the table (our formulas, stated here and in docs/plugins.md):

* Technology node and supply voltage: energy x energy_factor(45 nm -> node, V), latency x delay_factor,
  area x area_factor (Stillmaker & Baas 2017, :mod:`cimscope.plugins.scaling`).
* Bit widths, with bi = input_bits, bw = weight_bits:

  - inputs are applied bit-serially (one bit per pass), so passes = bi and every per-MAC energy and the
    wave latency scale with bi / 8;
  - analog6T, analog8T, digital6T store a weight bit-sliced over bw cells (one per column) that compute in
    parallel: energy per MAC scales with bw / 8 (bw columns and their periphery are active per weight),
    the number of weights computing in parallel per row is floor(Cp * 8 / bw) (the same 8*Cp physical
    columns hold more, or fewer, weights), and the wave latency does not depend on bw;
  - digital8T is a bit-serial compute SRAM (both operands serial in time): energy per MAC and wave
    latency scale with (bi * bw) / 64, parallel MACs stay Cp (one MAC per column).

  So E_mac = E_table * (bi/8) * (bw/8) for all four; L_wave = L_table * bi/8 (bit-parallel weights) or
  L_table * bi*bw/64 (digital8T); E_write per weight = E_table_write * bw/8 (bw cells written).
* Write latency: one array cycle (1 ns at 45 nm, the WWW clock) per weight word: our assumption; the
  table gives no write latency. Reads cost nothing (weights stay in place, as in the table).
* Area: area_x x the area of a plain 4096-byte SRAM array (the sram_buffer area model, one bank).
* Leakage is not modelled (the table gives dynamic energies only): leak = 0.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from cimscope.plugins.base import ActionCost, Attr, Estimate, Estimator, register
from cimscope.plugins.common import NODE_ATTRS, bits_attr, tech, tech_source
from cimscope.plugins.sram import array_area_um2

#: Primitives whose weights are also processed bit-serially (digital8T: compute SRAM with bit-serial
#: logic/arithmetic); a cimscope modelling attribute, not part of the published table.
WEIGHT_SERIAL = frozenset({"digital8T"})


def _load_primitives() -> dict[str, dict]:
    """The WWW primitive table (45 nm, 8-bit data, 4096-byte arrays, 1 GHz) from the packaged copy of
    cim_macros.yaml (plugins/data/; a test keeps it equal to the shared reference)."""
    doc = yaml.safe_load((Path(__file__).with_name("data") / "cim_macros.yaml").read_text(encoding="utf-8"))
    return {name: {**row, "weight_serial": name in WEIGHT_SERIAL} for name, row in doc["primitives"].items()}


PRIMITIVES: dict[str, dict] = _load_primitives()
ARRAY_BYTES = 4096
TABLE_BITS = 8
TABLE_CYCLE_S = 1e-9
WWW = "WWW primitive table (arXiv 2312.15896; cim_macros.yaml)"


def parallel_macs(p: dict, weight_bits: int) -> int:
    """MACs per wave: Rp rows x weights per row (bit-sliced weights: floor(Cp*8/bw); digital8T: Cp)."""
    if p["weight_serial"]:
        return p["Rp"] * p["Cp"]
    return p["Rp"] * max(1, (p["Cp"] * TABLE_BITS) // weight_bits)


@register
class CimMacro(Estimator):
    component_name = "cim_macro"
    aliases = ("cim_primitive",)
    percent_accuracy = 75
    description = ("the four WWW SRAM CiM primitives (analog6T, analog8T, digital6T, digital8T), 4096-byte arrays; "
                   "table values at 45 nm/8 bit, scaled by node, voltage and bit widths")
    attributes = {
        "primitive": Attr(None, "CiM primitive of WWW", kind=str, choices=tuple(PRIMITIVES), required=True),
        **NODE_ATTRS,
        "input_bits": bits_attr(8, "input (activation) bits, applied bit-serially"),
        "weight_bits": bits_attr(8, "weight bits, stored bit-sliced (one bit per cell)"),
    }

    def estimate(self) -> Estimate:
        a = self.attrs
        p = PRIMITIVES[a["primitive"]]
        t = tech(a)
        bi, bw = a["input_bits"], a["weight_bits"]
        ts = tech_source(t)

        e_mac = p["mac_energy_pJ"] * (bi / TABLE_BITS) * (bw / TABLE_BITS) * t.energy
        n_par = parallel_macs(p, bw)
        if p["weight_serial"]:
            wave_cycles = p["latency_cycles"] * bi * bw / TABLE_BITS ** 2
            lat_formula = f"{p['latency_cycles']} cycles x (bi*bw)/64 (bit-serial operands)"
        else:
            wave_cycles = p["latency_cycles"] * bi / TABLE_BITS
            lat_formula = f"{p['latency_cycles']} cycles x bi/8 (bit-serial inputs)"
        wave_s = wave_cycles * TABLE_CYCLE_S * t.delay
        e_wave = e_mac * n_par
        e_write = p["write_energy_pJ"] * (bw / TABLE_BITS) * t.energy
        write_s = TABLE_CYCLE_S * t.delay

        mac_src = (f"{WWW} {a['primitive']} {p['mac_energy_pJ']} pJ per 8-bit MAC x (bi/8)*(bw/8), "
                   f"bi={bi}, bw={bw}; latency {lat_formula}{ts}")
        actions = {
            "mac": ActionCost(e_mac, wave_s, mac_src, throughput_per_s=n_par / wave_s),
            "compute": ActionCost(e_mac, wave_s, "same as mac (Timeloop's compute action)",
                                  throughput_per_s=n_par / wave_s),
            "mac_wave": ActionCost(e_wave, wave_s, f"{n_par} parallel MACs x mac energy; " + mac_src,
                                   throughput_per_s=1 / wave_s),
            "write": ActionCost(e_write, write_s,
                                f"{WWW} {a['primitive']} {p['write_energy_pJ']} pJ per 8-bit word x bw/8; "
                                f"latency 1 array cycle (assumption){ts}"),
            "read": ActionCost(0.0, 0.0, f"{WWW}: reads cost 0, weights stay in place"),
            "leak": ActionCost(0.0, 0.0, "leakage not modelled (the WWW table gives dynamic energies only)"),
        }
        sram_area = array_area_um2(ARRAY_BYTES * 8, 1)
        area = p["area_x"] * sram_area * t.area
        notes = {
            "primitive_source": p["source"],
            "parallel_macs": n_par,
            "wave_latency_cycles_at_1GHz_45nm": wave_cycles,
            "input_passes": bi,
            "capacity_bytes": ARRAY_BYTES,
            "weights_held": ARRAY_BYTES * 8 // bw,
            "Rp": p["Rp"], "Cp": p["Cp"], "Rh": p["Rh"], "Ch": p["Ch"],
            "area_source": f"{p['area_x']} x plain 4096-byte SRAM ({sram_area:.1f} um^2 at 45 nm, sram_buffer "
                           f"area model){ts}",
        }
        return Estimate(self.component_name, dict(a), actions, area, 0.0, self.percent_accuracy, notes)


def table_check_rows() -> list[tuple[str, float, float, int, float]]:
    """(primitive, mac pJ, write pJ, parallel MACs, latency cycles) at 45 nm/8 bit: for docs and tests."""
    rows = []
    for name in PRIMITIVES:
        e = CimMacro(primitive=name).estimate()
        rows.append((name, e.actions["mac"].energy_pJ, e.actions["write"].energy_pJ,
                     e.notes["parallel_macs"], e.actions["mac_wave"].latency_s / TABLE_CYCLE_S))
    return rows

