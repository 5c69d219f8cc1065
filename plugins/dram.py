"""Off-chip DRAM of the GPU baseline: ``dram`` (LPDDR4 by default, as in the WWW SM) and ``hbm`` (HBM2, as
in the A100).

Energy per access = energy per bit x width_bits, with published energies per bit:

* LPDDR4: 512 pJ per 64-bit access = 8.0 pJ/bit: the WWW baseline's DRAM (a100.yaml,
  www_tensor_core_like_sm: dram LPDDR4, 64-bit, energy_per_access_pJ.dram read/write 512).
* HBM2: 3.9 pJ/bit: M. O'Connor et al., "Fine-Grained DRAM: Energy-Efficient DRAM for Extreme Bandwidth
  Systems", MICRO 2017 (HBM2 access energy, activation + I/O, per bit transferred).

DRAM energy is dominated by the DRAM die and the interface, not by the logic node of the chip that reads it,
so ``technology``/``voltage`` are accepted for uniformity but do NOT scale these energies.
Latency per access = width_bits / bandwidth: the transfer time of one access at the part's bandwidth
(LPDDR4: the WWW 32 B/cycle at 1 GHz = 32 GB/s; HBM2: 1555 GB/s, the A100 40 GB, a100.yaml); row-activation
latency is not modelled (Timeloop limits DRAM by bandwidth). Area: 0 um^2 (off-chip, not die area).
Leakage/refresh: not modelled.
"""
from __future__ import annotations

from cimscope.plugins.base import ActionCost, Attr, Estimate, Estimator, register
from cimscope.plugins.common import NODE_ATTRS

DRAM_TYPES = {
    "LPDDR4": {"pJ_per_bit": 512 / 64, "GBps": 32.0,
               "source": "WWW baseline LPDDR4, 512 pJ per 64-bit access (a100.yaml)",
               "bw_source": "WWW SM DRAM 32 B/cycle at 1 GHz (a100.yaml)"},
    "HBM2": {"pJ_per_bit": 3.9, "GBps": 1555.0,
             "source": "HBM2 3.9 pJ/bit (O'Connor et al., Fine-Grained DRAM, MICRO 2017)",
             "bw_source": "A100 40 GB HBM2 1555 GB/s (a100.yaml)"},
}


class _DramBase(Estimator):
    percent_accuracy = 70

    def estimate(self) -> Estimate:
        a = self.attrs
        d = DRAM_TYPES[a["type"]]
        gbps = a["bandwidth_GBps"] if a["bandwidth_GBps"] is not None else d["GBps"]
        e = d["pJ_per_bit"] * a["width_bits"]
        lat = a["width_bits"] / 8 / (gbps * 1e9)
        src = (f"{d['source']} x {a['width_bits']} bits; latency = width / {gbps:g} GB/s "
               f"({'given' if a['bandwidth_GBps'] is not None else d['bw_source']}); not node-scaled")
        actions = {
            "read": ActionCost(e, lat, src),
            "write": ActionCost(e, lat, src),
            "update": ActionCost(e, lat, "update = write: " + src),
            "leak": ActionCost(0.0, 0.0, "refresh/leakage not modelled"),
        }
        return Estimate(self.component_name, dict(a), actions, 0.0, 0.0, self.percent_accuracy,
                        notes={"pJ_per_bit": d["pJ_per_bit"], "bandwidth_GBps": gbps,
                               "area_source": "off-chip: not die area"})


def _attrs(default_type: str, types: tuple[str, ...], width: int) -> dict:
    return {
        "type": Attr(default_type, "DRAM technology", kind=str, choices=types),
        "width_bits": Attr(width, "bits per access", kind=int, low=1, high=8192),
        "bandwidth_GBps": Attr(None, "bandwidth in GB/s for the latency per access (default: per type)",
                               kind=float, low=1e-3, high=1e5),
        **NODE_ATTRS,
    }


@register
class Dram(_DramBase):
    component_name = "dram"
    aliases = ("lpddr4",)
    description = "off-chip DRAM, energy per bit (LPDDR4 per WWW; HBM2 per O'Connor MICRO 2017)"
    attributes = _attrs("LPDDR4", tuple(DRAM_TYPES), 64)


@register
class Hbm(_DramBase):
    component_name = "hbm"
    aliases = ("hbm2",)
    description = "HBM2 stack: 3.9 pJ/bit (O'Connor et al., MICRO 2017), A100 bandwidth"
    attributes = _attrs("HBM2", ("HBM2",), 256)
