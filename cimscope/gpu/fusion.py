"""Which exported operators run together: framework calls (eager) and kernels (eager or fused).

An exported :class:`~cimscope.ir.Workload` lists ATen operators in execution order; an operator the exporter
split into parts (``attrs['part']``: softmax's ``max``/``exp_sum``/``divide``, attention's ``qk``/softmax
parts/``av``) is still **one call** of the framework. This module groups ops into

* :func:`calls`: consecutive parts of one split operator (same target, module and node name before the first
  dot) form one :class:`Call`; every other op is a call of its own. A call that moves no bytes and does no
  arithmetic (``attrs['view']``: view, permute, expand, select, ...) is a *view*: eager PyTorch dispatches it
  but launches no kernel.
* :func:`eager_kernels`: eager PyTorch runs each non-view call as one kernel (the fused ATen kernel of a split
  operator: one softmax kernel, one flash-attention kernel for ``scaled_dot_product_attention``).
* :func:`fused_kernels`: a compiled graph (torch.compile / TensorRT style, the paper's "after fusion") where

  1. **attention** -- a batched GEMM with a dynamic (activation) operand (``attrs['dynamic_weight']``: QK^T),
     then only elementwise or copy calls (scale, bias, mask), exactly one softmax call, elementwise/copy calls
     again (dropout), and the next dynamic GEMM (AV) -- becomes one flash-style kernel; a split
     ``scaled_dot_product_attention`` call is one already;
  2. **elementwise chains** -- each elementwise call (``kind == 'elementwise'``), each copying memory call
     (clone, pad, cat, gather: memory calls that are not views) and each inference batch norm (a per-channel
     scale and shift, ``_native_batch_norm_legit_no_training``: folded into the convolution before it, as
     inference compilers do) joins the kernel opened by the call before it (its producer: a GEMM as
     epilogue, a norm, a softmax, or the chain's first elementwise call); any other call (GEMM, conv, layer/
     group/RMS norm, softmax, reduction, pool, embedding, other) opens a new kernel;
  3. views vanish (no kernel, no dispatch).

  Calls are taken in execution order (the exporter keeps no dataflow edges), so a chain is what is adjacent
  in that order, as a fusing compiler sees a straight-line graph.

A kernel's bytes follow the members' own byte counts (``Op.bytes_read`` / ``bytes_written``): the first
member's reads, plus each later member's reads beyond the previous member's output (the intermediate stays
on chip; what remains are extra inputs such as a residual, a bias or V), plus the last member's writes. The
parts of one split call share their input: a split call reads what its first part reads and writes what its
last part writes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

from cimscope.ir import GEMM, Op

#: Call kinds a fusing compiler folds into the kernel before them (elementwise epilogues, copies).
CHAIN_KINDS = ("elementwise",)
#: The ATen target of batch norm in inference: elementwise (x - mean) * rstd * gamma + beta per channel.
INFERENCE_BATCH_NORM = "_native_batch_norm_legit_no_training"


@dataclass
class Call:
    """One framework call: one exported op, or the parts of one split operator."""

    ops: list[Op]

    @property
    def first(self) -> Op:
        return self.ops[0]

    @property
    def name(self) -> str:
        return self.first.name.split(".", 1)[0] if len(self.ops) > 1 else self.first.name

    @property
    def is_view(self) -> bool:
        return all(_is_view(o) for o in self.ops)

    @property
    def is_attention(self) -> bool:
        """A split attention operator (GEMM and softmax parts in one call)."""
        classes = {o.op_class for o in self.ops}
        return GEMM in classes and any(o.kind == "softmax" for o in self.ops)

    @property
    def is_softmax(self) -> bool:
        return all(o.kind == "softmax" for o in self.ops)

    @property
    def is_dynamic_gemm(self) -> bool:
        return len(self.ops) == 1 and self.first.is_gemm and bool(self.first.attrs.get("dynamic_weight"))

    @property
    def chains(self) -> bool:
        """Joins the kernel before it in a fused graph: an elementwise call, a copying memory call, or an
        inference batch norm (a per-channel scale and shift: no statistics are computed)."""
        if self.is_view or len(self.ops) > 1:
            return False
        o = self.first
        return o.kind in CHAIN_KINDS or (o.kind == "memory" and o.op_class == "memory") \
            or INFERENCE_BATCH_NORM in o.target

    @property
    def bytes_read(self) -> int:
        return int(self.first.bytes_read)

    @property
    def bytes_written(self) -> int:
        return int(self.ops[-1].bytes_written)


def _is_view(op: Op) -> bool:
    return bool(op.attrs.get("view")) or (op.bytes_read + op.bytes_written == 0 and op.elem_ops == 0
                                          and op.macs == 0)


def calls(ops: Iterable[Op]) -> list[Call]:
    """Group consecutive parts of one split operator into one :class:`Call` (see module doc)."""
    out: list[Call] = []
    last_key = None
    for op in ops:
        key = None
        if op.attrs.get("part") is not None:
            key = (op.target, op.module, op.name.split(".", 1)[0])
        if key is not None and key == last_key and out:
            out[-1].ops.append(op)
        else:
            out.append(Call([op]))
        last_key = key
    return out


@dataclass
class Kernel:
    """Calls that run as one GPU kernel, with the bytes it moves to and from HBM."""

    calls: list[Call]
    kind: str                                     # "single" | "chain" | "attention"
    ext_bytes: list[float] = field(default_factory=list)   # per call: its share of the kernel's HBM bytes

    @property
    def ops(self) -> list[Op]:
        return [o for c in self.calls for o in c.ops]

    @property
    def owner(self) -> Call:
        return self.calls[0]

    @property
    def bytes(self) -> float:
        return float(sum(self.ext_bytes))


def kernel_bytes(members: Sequence[Call]) -> list[float]:
    """HBM bytes each member adds to a kernel made of ``members`` (module doc): the first member's reads,
    each later member's reads beyond the previous member's output, and the last member's writes."""
    out = []
    for i, c in enumerate(members):
        if i == 0:
            b = float(c.bytes_read)
        else:
            b = float(max(0, c.bytes_read - members[i - 1].bytes_written))
        if i == len(members) - 1:
            b += float(c.bytes_written)
        out.append(b)
    return out


def _kernel(members: list[Call], kind: str) -> Kernel:
    return Kernel(calls=members, kind=kind, ext_bytes=kernel_bytes(members))


def eager_kernels(call_list: Sequence[Call]) -> list[Kernel]:
    """One kernel per non-view call (eager PyTorch: a split operator's ATen kernel is one kernel)."""
    return [_kernel([c], "attention" if c.is_attention else "single") for c in call_list if not c.is_view]


def _attention_end(work: Sequence[Call], start: int) -> int:
    """Index of the AV GEMM closing an attention pattern that starts with the dynamic GEMM at ``start``
    (module doc, rule 1), or -1."""
    softmaxes = 0
    for j in range(start + 1, len(work)):
        c = work[j]
        if c.is_softmax:
            softmaxes += 1
            if softmaxes > 1:
                return -1
        elif c.is_dynamic_gemm:
            return j if softmaxes == 1 else -1
        elif not c.chains:
            return -1
    return -1


def fused_kernels(call_list: Sequence[Call]) -> list[Kernel]:
    """Kernels of the compiled graph (module doc: attention, elementwise chains, views vanish)."""
    work = [c for c in call_list if not c.is_view]
    kernels: list[Kernel] = []
    open_members: list[Call] = []
    open_kind = "single"

    def close() -> None:
        nonlocal open_members, open_kind
        if open_members:
            kernels.append(_kernel(open_members, open_kind))
        open_members, open_kind = [], "single"

    i = 0
    while i < len(work):
        c = work[i]
        if c.is_dynamic_gemm:
            end = _attention_end(work, i)
            if end > 0:
                close()
                open_members, open_kind = list(work[i:end + 1]), "attention"
                i = end + 1
                continue
        if c.chains and open_members:
            open_members.append(c)
            if open_kind == "single":
                open_kind = "chain"
        else:
            close()
            open_members = [c]
            open_kind = "attention" if c.is_attention else "single"
        i += 1
    close()
    return kernels
