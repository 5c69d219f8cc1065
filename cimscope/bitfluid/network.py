"""Whole-network cost on BF-IMNA: one inference under one precision configuration (:func:`evaluate` ->
:class:`NetworkCost`), and dynamic precision (:func:`evaluate_dynamic`): a sequence of configurations, one per
inference. The APs change bit width by running different pass counts, so there is no reconfiguration cost:
the sequence costs the sum of its inferences.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Optional, Sequence

from cimscope.bitfluid.cost import LayerCost
from cimscope.bitfluid.gemm import cost_gemm
from cimscope.bitfluid.nongemm import cost_nongemm
from cimscope.bitfluid.operators import family, is_unary_fusable, keeps_result_resident
from cimscope.bitfluid.precision import LayerPrecision, PrecisionConfig, bind, layer_key
from cimscope.errors import InputError
from cimscope.ir import Workload


@dataclass
class NetworkCost:
    """One inference of a network under one precision configuration on one BF-IMNA instance."""

    model: str
    config: str
    arch: dict[str, Any]
    layers: list[LayerCost]
    batch: int = 1
    overlap_movement: bool = False
    dram_bits: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def energy_pJ(self) -> float:
        return sum(lc.energy_total_pJ * lc.count for lc in self.layers)

    @property
    def energy_J(self) -> float:
        return self.energy_pJ * 1e-12

    @property
    def latency_s(self) -> float:
        return sum(lc.latency_s(self.overlap_movement) * lc.count for lc in self.layers)

    @property
    def edp_Js(self) -> float:
        return self.energy_J * self.latency_s

    @property
    def throughput_per_s(self) -> float:
        return self.batch / self.latency_s if self.latency_s > 0 else float("inf")

    def breakdown_pJ(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for lc in self.layers:
            for k, v in lc.energy_pJ.items():
                key = k if lc.op_class == "GEMM" or k in ("movement", "dram") else f"nongemm_{k}"
                out[key] = out.get(key, 0.0) + v * lc.count
        return out

    def split(self) -> dict[str, dict[str, float]]:
        """Energy (pJ) and latency (s) of GEMM and NonGEMM operators."""
        res = {"GEMM": {"energy_pJ": 0.0, "latency_s": 0.0}, "NonGEMM": {"energy_pJ": 0.0, "latency_s": 0.0}}
        for lc in self.layers:
            k = "GEMM" if lc.op_class == "GEMM" else "NonGEMM"
            res[k]["energy_pJ"] += lc.energy_total_pJ * lc.count
            res[k]["latency_s"] += lc.latency_s(self.overlap_movement) * lc.count
        return res

    def summary(self) -> dict[str, Any]:
        return {
            "model": self.model, "config": self.config, "cell": self.arch.get("cell"),
            "node_nm": self.arch.get("node_nm"), "vdd_V": self.arch.get("vdd_V"),
            "energy_J": self.energy_J, "latency_s": self.latency_s, "edp_Js": self.edp_Js,
            "throughput_inf_per_s": self.throughput_per_s, "batch": self.batch,
            "dram_MB": self.dram_bits / 8e6,
            "energy_breakdown_pJ": self.breakdown_pJ(), "gemm_nongemm": self.split(),
            **{k: v for k, v in self.meta.items() if k in ("top1", "size_MB", "bops_G", "speedup")},
        }

    def to_dict(self) -> dict[str, Any]:
        d = self.summary()
        d["arch"] = self.arch
        d["layers"] = [lc.to_dict() for lc in self.layers]
        return d


def evaluate(workload: Workload, config: PrecisionConfig, arch, *, bits: Optional[dict[str, LayerPrecision]] = None
             ) -> NetworkCost:
    """Cost of one inference of ``workload`` under ``config`` on ``arch`` (a :class:`BfImnaArch`)."""
    bits = bits or bind(config, workload)
    ops = workload.ops
    # activation width of each op: the a_bits of the next GEMM consumer (HAWQ: activations feeding a conv
    # use its width); after the last GEMM, that GEMM's a_bits
    next_a: list[Optional[int]] = [None] * len(ops)
    nxt: Optional[int] = None
    for i in range(len(ops) - 1, -1, -1):
        next_a[i] = nxt
        if ops[i].is_gemm:
            nxt = bits[layer_key(ops[i])].a_bits
    last_gemm_a = next((bits[layer_key(o)].a_bits for o in reversed(ops) if o.is_gemm), 8)
    layers: list[LayerCost] = []
    resident = False          # the previous op's result is still in CAP rows
    after_gemm = False        # ... and it is a GEMM output (BN can be folded into it)
    for i, op in enumerate(ops):
        if op.is_gemm:
            lp = bits[layer_key(op)]
            out_bits = next_a[i] if next_a[i] is not None else lp.a_bits
            layers.append(cost_gemm(op, lp.w_bits, lp.a_bits, out_bits, arch))
            resident, after_gemm = True, True
            continue
        m = next_a[i] if next_a[i] is not None else last_gemm_a
        fused = resident and is_unary_fusable(op)
        is_bn = family(op) == "batch_norm"
        lc = cost_nongemm(op, m, arch, fused=fused and (after_gemm if is_bn else True))
        layers.append(lc)
        if not fused:
            resident = keeps_result_resident(op)
            after_gemm = False
        elif not is_bn:
            after_gemm = False
    # weights beyond the MAP capacity stream from DRAM every inference, shared out by weight bits
    cfg = arch.config
    seen: dict[str, float] = {}
    for lc in layers:
        if lc.op_class == "GEMM":
            seen[lc.module or lc.op_name] = lc.weight_bits
    total_w = sum(seen.values())
    excess = max(0.0, total_w - cfg.map_capacity_bits)
    if excess > 0 and total_w > 0:
        for lc in layers:
            if lc.op_class == "GEMM" and lc.weight_bits:
                share = excess * lc.weight_bits / total_w
                lc.energy_pJ["dram"] = share * cfg.dram_pJ_per_bit
                lc.time_s["dram"] = share / arch.dram_bits_per_s
    return NetworkCost(model=workload.model, config=config.name, arch=arch.summary(), layers=layers,
                       batch=workload.batch, overlap_movement=cfg.overlap_movement, dram_bits=excess,
                       meta=dict(config.meta))


@dataclass
class DynamicCost:
    """A sequence of inferences, each with its own configuration (dynamic precision, no reconfiguration)."""

    inferences: list[NetworkCost]

    @property
    def energy_J(self) -> float:
        return sum(n.energy_J for n in self.inferences)

    @property
    def latency_s(self) -> float:
        return sum(n.latency_s for n in self.inferences)

    @property
    def reconfiguration_J(self) -> float:
        """Energy of switching precision between inferences: none (bit width is a pass count)."""
        return 0.0

    def summary(self) -> dict[str, Any]:
        k = len(self.inferences)
        return {
            "sequence": [n.config for n in self.inferences],
            "per_inference": [{"config": n.config, "energy_J": n.energy_J, "latency_s": n.latency_s,
                               "edp_Js": n.edp_Js} for n in self.inferences],
            "total_energy_J": self.energy_J, "total_latency_s": self.latency_s,
            "average_energy_J": self.energy_J / k if k else 0.0,
            "average_latency_s": self.latency_s / k if k else 0.0,
            "average_edp_Js": (self.energy_J / k) * (self.latency_s / k) if k else 0.0,
            "reconfiguration_J": self.reconfiguration_J,
        }


def evaluate_dynamic(workload: Workload, sequence: Sequence[PrecisionConfig], arch) -> DynamicCost:
    """Dynamic precision: inference i runs ``sequence[i]``. Each configuration is bound (validated) once."""
    cache: dict[str, NetworkCost] = {}
    out = []
    for cfg in sequence:
        if cfg.name not in cache:
            cache[cfg.name] = evaluate(workload, cfg, arch)
        out.append(cache[cfg.name])
    return DynamicCost(out)


def pick_sequence(configs: Iterable[PrecisionConfig], names: Sequence[str]) -> list[PrecisionConfig]:
    by = {c.name: c for c in configs}
    unknown = [n for n in names if n not in by]
    if unknown:
        raise InputError(f"dynamic sequence names unknown configuration(s) {', '.join(unknown)}; "
                         f"valid: {', '.join(by)}")
    return [by[n] for n in names]
