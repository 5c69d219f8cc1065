"""Per-layer precision applied to a workload before evaluation (``--precision`` of evaluate and compare).

The configuration is read by BF-IMNA's parser (:func:`cimscope.bitfluid.precision.load_configs`: ``intN``,
``hawq-v3``, or a YAML file in the HAWQ-V3 or cimscope format) and bound to the workload's GEMM layers by
module path (:func:`cimscope.bitfluid.precision.bind`: an error lists the layers missing from the
configuration and the ones the model lacks). Which tensors take which bits (a HAWQ-V3 configuration gives each
GEMM layer a weight width and the width of the activations quantised in front of it, nothing else):

* a GEMM's weight tensor: ``w_bits`` of its layer (an activation used as the weight operand, e.g.
  attention's K and V: ``a_bits``); its input tensor: ``a_bits`` of its layer;
* a GEMM's output, and the activation tensors of the NonGEMM operators after it (BN, ReLU, residual adds,
  softmax ...): ``a_bits`` of the next GEMM layer in execution order, the quantiser in front of which they
  end (HAWQ-V3's integer-only pipeline requantises each layer's int32 accumulator to the activation width of
  the quantiser that follows). Activation tensors are those at the export's activation width
  (``meta["act_bits"]``); index, mask and parameter tensors of other widths keep theirs. Operators after the
  last GEMM layer, and every tensor of a workload without ``act_bits`` in its meta, keep the export's widths.

The bytes each operator reads and writes change with the bits (a GEMM: its tensors' elements x bits / 8; a
NonGEMM: its bytes scaled by the bits of its activation tensors, element-weighted). A file with several
configurations needs one chosen: ``FILE:NAME`` (``hawq-v3:latency_0.5``).

What stays at one width: a GEMM's storage levels are built at the operator's widest tensor
(:func:`cimscope.study.op_bits`), because a Timeloop v0.4 level has one word width for every dataspace. A W4A4
layer whose output feeds an 8-bit layer is therefore mapped with 8-bit words (its tensor cores still run int4,
:func:`cimscope.pipeline.gemm.tensor_core_arch`); its bytes read and written (the SIMT and roofline figures)
and its CiM input passes and weight cells follow each tensor's own width.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Optional

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


def with_bits(op: ir.Op, lp: LayerPrecision, out_bits: Optional[int] = None) -> ir.Op:
    """GEMM ``op`` with its input and weight tensors at ``lp``'s bits, its output at ``out_bits`` (None: as it
    is), and its bytes read (a bias too, at the weight's width) and written recomputed."""
    dims = dict(op.dims)
    tensors, delta, delta_out = [], 0.0, 0.0
    # bytes read beyond the three tensors (a bias) are a static parameter at the weight's width
    rest = op.bytes_read - sum(tile_words(t, dims, op.coefficients) * t.bits / 8 for t in op.tensors
                               if t.role != "output")
    w = op.tensor("weight")
    if rest > 0 and w is not None and not op.attrs.get("dynamic_weight"):
        delta += rest * (lp.w_bits - w.bits) / w.bits
    for t in op.tensors:
        bits = t.bits
        if t.role == "weight":
            bits = lp.a_bits if op.attrs.get("dynamic_weight") else lp.w_bits
        elif t.role == "input":
            bits = lp.a_bits
        elif t.role == "output" and out_bits is not None:
            bits = out_bits
        change = tile_words(t, dims, op.coefficients) * (bits - t.bits) / 8 if bits != t.bits else 0.0
        if t.role == "output":
            delta_out += change
        else:
            delta += change
        tensors.append(replace(t, bits=int(bits)))
    return replace(op, tensors=tensors, bytes_read=max(0, int(round(op.bytes_read + delta))),
                   bytes_written=max(0, int(round(op.bytes_written + delta_out))))


def nongemm_with_bits(op: ir.Op, act_bits: int, bits: int) -> ir.Op:
    """NonGEMM ``op`` with its activation tensors (those at the export's ``act_bits``) at ``bits``; its bytes
    read and written scaled by the element-weighted bits of its input and output tensors."""
    if bits == act_bits or not any(t.bits == act_bits for t in op.tensors):
        return op
    dims = dict(op.dims)
    tensors = [replace(t, bits=int(bits)) if t.bits == act_bits else t for t in op.tensors]

    def scaled(nbytes: int, out: bool) -> int:
        pairs = [(tile_words(a, dims, op.coefficients), a.bits, b.bits) for a, b in zip(op.tensors, tensors)
                 if (a.role == "output") == out]
        old = sum(w * ob for w, ob, _ in pairs)
        return int(round(nbytes * sum(w * nb for w, _, nb in pairs) / old)) if old > 0 else nbytes
    return replace(op, tensors=tensors, bytes_read=scaled(op.bytes_read, False),
                   bytes_written=scaled(op.bytes_written, True))


def apply_precision(workload: ir.Workload, spec: str) -> ir.Workload:
    """``workload`` with every GEMM at its layer's bits under the configuration ``spec`` names; the
    configuration's name is recorded in ``meta["precision"]``."""
    config = choose_config(spec)
    bits = bind(config, workload)
    act = workload.meta.get("act_bits")
    act = int(act) if isinstance(act, int) else None
    following: list[Optional[int]] = []      # a_bits of the next GEMM layer after each operator
    nxt: Optional[int] = None
    for op in reversed(workload.ops):
        following.append(nxt)
        if op.is_gemm:
            nxt = bits[layer_key(op)].a_bits
    following.reverse()
    ops = []
    for op, after in zip(workload.ops, following):
        if op.is_gemm:
            ops.append(with_bits(op, bits[layer_key(op)], after if act is not None else None))
        elif act is not None and after is not None:
            ops.append(nongemm_with_bits(op, act, after))
        else:
            ops.append(op)
    return replace(workload, ops=ops, meta={**workload.meta, "precision": config.name})


__all__ = ["apply_precision", "choose_config", "with_bits", "nongemm_with_bits"]
