"""One capture, many lengths: text models captured with the sequence length (prefill) or the KV-cache length
(decode) as a symbolic dimension of torch.export (``torch.export.Dim``), kept in an in-process cache and
evaluated at each requested length without tracing again.

A capture is reused for a length inside the range torch.export proved the graph valid for (its
``range_constraints``; at most the model's published position limit, so the config is the published one).
Lengths of 0 or 1 (torch.export specialises them), lengths past the position limit (the config is extended,
see hf.py) and models torch.export cannot capture symbolically are captured with fixed sizes, as before.
The batch stays fixed (part of the cache key).

The named Llama/Mistral/Mixtral decoders are captured with a few layers and replicated to their published
depth (:mod:`cimscope.workloads.replicate`), when the capture passes its checks; else at full depth.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Optional

from cimscope.workloads.capture import (SIZE_BINDINGS, Captured, capture, export_program, program_sources,
                                        records_from_graph)
from cimscope.workloads.configs import HF_MODELS
from cimscope.workloads.replicate import CAPTURE_LAYERS, NotReplicable, Plan, full_depth, plan, replicate

#: captures kept per process (a 32-layer LLM's graph is a few MB: parameters are meta tensors)
CACHE_SIZE = 8
_CACHE: "OrderedDict[tuple, SymbolicCapture]" = OrderedDict()


@dataclass
class SymbolicCapture:
    """An exported program with one symbolic length, and the range it is valid for."""

    program: Any
    sources: dict
    symbol: Any                    # the sympy symbol of the length
    dim: str                       # "seq" (prefill) or "kv_len" (decode)
    low: int
    high: int
    notes: list
    plan: Optional[Plan] = None    # the decoder stack replicated from fewer layers (replicate.py)

    def covers(self, length: int) -> bool:
        return self.low <= length <= self.high

    def records(self, length: int) -> Captured:
        """The operator records at ``length`` (every symbolic size evaluated there)."""
        token = SIZE_BINDINGS.set({self.symbol: length})
        try:
            cap = records_from_graph(self.program.graph, self.sources, method="torch.export")
        finally:
            SIZE_BINDINGS.reset(token)
        cap.notes.append(f"symbolic {self.dim} (valid {self.low}..{self.high}) evaluated at {length}")
        return cap if self.plan is None else replicate(cap, self.plan)


def eligible(model: str, *, seq_len: int, phase: str, kv_len: Optional[int]) -> bool:
    """Whether ``model`` at these sizes goes through a symbolic capture (see the module notes)."""
    spec = HF_MODELS.get(model)
    if spec is None or spec.kind == "image":
        return False
    from cimscope.workloads.hf import make_config, position_limit
    limit = position_limit(make_config(spec)) or 0
    length = _length(seq_len, phase, kv_len)
    total = length + (1 if phase == "decode" else 0)
    return length >= 2 and total <= limit


def _length(seq_len: int, phase: str, kv_len: Optional[int]) -> int:
    return (kv_len if kv_len is not None else seq_len) if phase == "decode" else seq_len


def capture_text(model: str, *, batch: int, seq_len: int, phase: str, kv_len: Optional[int],
                 mode: str = "auto") -> tuple[Captured, list, bool]:
    """``(records, build notes, reused)`` for a text model: from the cached symbolic capture when it covers the
    length, else a new capture (symbolic when torch.export allows, cached; fixed otherwise)."""
    import torch

    length = _length(seq_len, phase, kv_len)
    key = (model, batch, phase, torch.__version__)
    hit = _CACHE.get(key)
    if hit is not None and hit.covers(length):
        _CACHE.move_to_end(key)
        notes = list(hit.notes) + ([_decode_note(length)] if phase == "decode" else [])
        return hit.records(length), notes, True
    from cimscope.workloads.zoo import build
    sizes = dict(batch=batch, seq_len=seq_len, phase=phase, kv_len=kv_len, device="meta")
    depth = full_depth(model)
    built = build(model, layers=CAPTURE_LAYERS, **sizes) if depth else None
    sym = _replicated_capture(built, phase, length, depth, lambda: build(model, layers=CAPTURE_LAYERS - 1,
                                                                         **sizes)) if depth else None
    if sym is None:
        built = build(model, **sizes)
        sym = _symbolic_capture(built, phase)
    if sym is None:
        return capture(built.module, built.inputs, mode=mode, label=model), built.notes, False
    sym.notes = [n for n in built.notes if not n.startswith("decode:")]
    _CACHE[key] = sym
    while len(_CACHE) > CACHE_SIZE:
        _CACHE.popitem(last=False)
    return sym.records(length), built.notes, False


def _replicated_capture(built, phase: str, length: int, depth: int, shallower) -> Optional[SymbolicCapture]:
    """The symbolic capture of ``built`` (CAPTURE_LAYERS layers) with its replication plan to ``depth``
    layers; None when it cannot be captured symbolically or is not a stack of identical layers.
    ``shallower()`` builds the model one layer shallower, captured only when the plan needs it."""
    sym = _symbolic_capture(built, phase)
    if sym is None:
        return None
    try:
        stacked = ("past_k", "past_v") if phase == "decode" else ()      # hf.DecodeStep's cache inputs
        sym.plan = plan(sym.records(length), sym.program.graph, CAPTURE_LAYERS, depth, stacked,
                        lambda: _shallower_records(shallower(), phase, length))
    except NotReplicable:
        return None
    return sym


def _shallower_records(built, phase: str, length: int) -> Captured:
    sym = _symbolic_capture(built, phase)
    if sym is None:
        raise NotReplicable("the shallower model cannot be captured symbolically")
    return sym.records(length)


def _decode_note(length: int) -> str:
    return f"decode: one token per sequence with a KV cache of {length} tokens per layer"


def _symbolic_capture(built, phase: str) -> Optional[SymbolicCapture]:
    """Export with the length symbolic; None when torch.export cannot (then the caller captures fixed)."""
    from torch.export import Dim

    dim_name = "kv_len" if phase == "decode" else "seq"
    length = Dim(dim_name, min=2)
    if phase == "decode":                    # (ids [B, 1], past_k, past_v [layers, B, kv_heads, L, head_dim])
        shapes: Any = (None, {3: length}, {3: length})
        where = (1, 3)
    else:
        shapes, where = ({1: length},), (0, 1)
    try:
        program = export_program(built.module, built.inputs, dynamic_shapes=shapes)
    except Exception:                        # guards torch.export cannot keep symbolic: capture fixed
        return None
    sources = program_sources(program)
    placeholders = [n for n in program.graph.nodes if n.op == "placeholder" and sources.get(n.name, ("",))[0]
                    == "input"]
    size = placeholders[where[0]].meta["val"].shape[where[1]]
    expr = getattr(getattr(size, "node", None), "expr", None)
    if expr is None or not getattr(expr, "is_Symbol", False):
        return None                          # specialised to one value
    rng = program.range_constraints.get(expr)
    low, high = _bound(rng, "lower", 2), _bound(rng, "upper", 2 ** 31)
    return SymbolicCapture(program, sources, expr, dim_name, low, high, [])


def _bound(rng: Any, side: str, default: int) -> int:
    """One end of a value range as an int (``default`` for none or an infinite end)."""
    try:
        return int(getattr(rng, side))
    except Exception:                      # None, or int_oo / -int_oo (torch's integer infinities)
        return default


def clear_cache() -> None:
    """Forget every cached capture (tests, benchmarks)."""
    _CACHE.clear()
