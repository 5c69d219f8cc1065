"""Per-layer precision applied to a workload before evaluation (``--precision`` of evaluate and compare).

The configuration is read by BF-IMNA's parser (:func:`cimscope.bitfluid.precision.load_configs`: ``intN``,
``hawq-v3``, or a YAML file in the HAWQ-V3 or cimscope format) and bound to the workload's GEMM layers by
module path (:func:`cimscope.bitfluid.precision.bind`: an error lists the layers missing from the
configuration and the ones the model lacks). Each GEMM then takes its layer's bits per tensor: the weight
tensor ``w_bits`` (an activation used as the weight operand, e.g. attention's K and V: ``a_bits``), the input
tensor ``a_bits``; its output keeps the export's activation width (the next layer's input width is that
layer's business). The bytes each operator reads change with the bits (elements x bits / 8). A file with
several configurations needs one chosen: ``FILE:NAME`` (``hawq-v3:latency_0.5``).
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from cimscope import ir
from cimscope.bitfluid.precision import LayerPrecision, PrecisionConfig, bind, layer_key, load_configs
from cimscope.errors import InputError
from cimscope.pipeline.factors import tile_words


def choose_config(spec: str) -> PrecisionConfig:
    """The one configuration ``spec`` names (``SPEC`` with one configuration, or ``SPEC:NAME``)."""
    name = None
    if ":" in spec and not Path(spec).is_file():
        spec, name = spec.rsplit(":", 1)
    configs, _ = load_configs(spec)
    if name is not None:
        hit = [c for c in configs if c.name == name]
        if not hit:
            raise InputError(f"--precision {spec}: no configuration {name!r}; valid: "
                             + ", ".join(c.name for c in configs))
        return hit[0]
    if len(configs) != 1:
        raise InputError(f"--precision {spec} holds {len(configs)} configurations: choose one as {spec}:NAME, "
                         f"NAME one of " + ", ".join(c.name for c in configs))
    return configs[0]


def with_bits(op: ir.Op, lp: LayerPrecision) -> ir.Op:
    """``op`` with its input and weight tensors at ``lp``'s bits and its bytes read recomputed."""
    dims = dict(op.dims)
    tensors, delta = [], 0.0
    for t in op.tensors:
        bits = t.bits
        if t.role == "weight":
            bits = lp.a_bits if op.attrs.get("dynamic_weight") else lp.w_bits
        elif t.role == "input":
            bits = lp.a_bits
        if bits != t.bits:
            delta += tile_words(t, dims, op.coefficients) * (bits - t.bits) / 8
        tensors.append(replace(t, bits=int(bits)))
    return replace(op, tensors=tensors, bytes_read=max(0, int(round(op.bytes_read + delta))))


def apply_precision(workload: ir.Workload, spec: str) -> ir.Workload:
    """``workload`` with every GEMM at its layer's bits under the configuration ``spec`` names; the
    configuration's name is recorded in ``meta["precision"]``."""
    config = choose_config(spec)
    bits = bind(config, workload)
    ops = [with_bits(op, bits[layer_key(op)]) if op.is_gemm else op for op in workload.ops]
    return replace(workload, ops=ops, meta={**workload.meta, "precision": config.name})


__all__ = ["apply_precision", "choose_config", "with_bits"]
