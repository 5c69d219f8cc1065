"""Lower captured operator records (``capture.NodeRecord``) to Einsum operators (``cimscope.ir.Op``).

Conventions (Timeloop v0.4 problem shapes):

* Dataspaces are named ``Inputs``, ``Weights``, ``Outputs``; the extra operands of elementwise/normalisation
  operators are ``Inputs2``, ``Inputs3`` ... A projection is a list of ranks, each a sum of
  ``(dimension, coefficient)`` terms, the coefficient being 1 or the name of a problem coefficient.
* Convolution (Timeloop CNN-layer): dims ``N, G (groups > 1 only), C (input channels per group), K (output
  channels per group), R, S (filter width, height), P, Q (output width, height)``; 1-D convolutions use R, P;
  3-D add T, F (depth). Coefficients ``Wstride, Hstride, Wdilation, Hdilation`` (``Dstride, Ddilation``);
  ``Inputs`` rank W is ``R*Wdilation + P*Wstride``, rank H ``S*Hdilation + Q*Hstride``. Padding is kept in
  ``attrs`` (Timeloop's problem has no padding; the output extent already accounts for it).
* GEMM: dims ``M, N, K`` (+ ``B`` for batched products). A linear layer on an input ``[..., K]`` folds the
  leading dimensions into ``M``. ``Weights`` is the right-hand operand; when it is an activation (QK^T, AV,
  activation x activation matmuls) ``attrs["dynamic_weight"] = True``.
* scaled_dot_product_attention becomes three records: ``<node>.qk`` (GEMM), the softmax passes and
  ``<node>.av`` (GEMM).
* Softmax is lowered as its three passes (safe softmax): ``max`` and ``exp_sum`` reductions over the softmax
  dimension and an elementwise ``divide``.
* NonGEMM cost: ``elem_ops = prod(dims) * ops_per_element``; ``ops_per_element`` and its formula come from
  ``data/nongemm_taxonomy.yaml`` (``attrs["formula"]``). For GEMMs ``macs = prod(dims)``.
* Bits: floating-point activations take ``act_bits``, floating-point parameters/buffers ``weight_bits``,
  integer/bool tensors keep their storage width (indices are int64 = 64 bits). Bytes read/written are
  ``ceil(elements * bits / 8)`` of the real tensors the operator touches (views move 0 bytes).
"""
from __future__ import annotations

import logging
import math
import warnings
from collections import Counter
from typing import Any, Optional, Sequence

from cimscope.ir import GEMM, Op, Tensor
from cimscope.workloads.capture_records import Captured, NodeRecord, TArg, flatten, ntuple
from cimscope.workloads.lower_nongemm import (CONCATS, CREATION, GATHERS, LETTERS, NORMS, POOL_AVG,  # noqa: F401
                                              POOL_MAX, REDUCTIONS, SOFTMAX, VIEWS, WINDOW_AXES, NonGemmLowering,
                                              sliding_window)
from cimscope.workloads.lower_special import GROUPED_MM, ROI_OPS, SpecialLowering
from cimscope.workloads.taxonomy import base_name, classify

log = logging.getLogger("cimscope.workloads")



class UnclassifiedOperatorWarning(UserWarning):
    """Operators the taxonomy does not know (class ``other``); they are kept, never dropped."""


# ----------------------------------------------------------------------------------------------------------
# operator families (base names after taxonomy.base_name)
# ----------------------------------------------------------------------------------------------------------

CONV = {"convolution", "_convolution", "convolution_overrideable", "conv1d", "conv2d", "conv3d",
        "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"}
MATMUL = {"mm", "bmm", "matmul", "baddbmm", "addbmm", "addmm", "mv", "addmv", "dot", "linear"}
SDPA = {"scaled_dot_product_attention", "_scaled_dot_product_flash_attention",
        "_scaled_dot_product_flash_attention_for_cpu", "_scaled_dot_product_efficient_attention",
        "_scaled_dot_product_cudnn_attention", "_scaled_dot_product_attention_math"}
class Lowerer(NonGemmLowering, SpecialLowering):
    """Turns records into Ops. One instance per workload (it numbers nothing; names come from the graph)."""

    def __init__(self, *, weight_bits: int = 8, act_bits: int = 8) -> None:
        if weight_bits < 1 or act_bits < 1:
            raise ValueError("bit widths must be >= 1")
        self.wb, self.ab = int(weight_bits), int(act_bits)

    # ---- sizes -------------------------------------------------------------------------------------------
    def bits(self, t: TArg) -> int:
        if not t.is_float:
            return t.bits
        return self.wb if t.is_static else self.ab

    def nbytes(self, t: Optional[TArg]) -> int:
        if t is None:
            return 0
        return math.ceil(t.numel * self.bits(t) / 8)

    def read_bytes(self, tensors: Sequence[Optional[TArg]]) -> int:
        seen, total = set(), 0
        for t in tensors:
            if t is None:
                continue
            key = (t.name, t.shape) if t.name else id(t)
            if key in seen:
                continue
            seen.add(key)
            total += self.nbytes(t)
        return total

    # ---- entry -------------------------------------------------------------------------------------------
    def lower(self, rec: NodeRecord) -> list[Op]:
        base = base_name(rec.target)
        cls, known = classify(rec.target)
        try:
            if base in CONV:
                return [self.conv(rec, base)]
            if base in SDPA:
                return self.sdpa(rec)
            if base in MATMUL:
                return [self.matmul(rec, base)]
            if base in GROUPED_MM:
                return [self.grouped_mm(rec)]
            if base in ROI_OPS:
                return [self.roi(rec, base)]
            if base == "einsum":
                return [self.einsum(rec)]
            if base in SOFTMAX:
                return self.softmax(rec, base)
            if base in NORMS:
                return [self.norm(rec, base)]
            if base in POOL_MAX or base in POOL_AVG:
                return [self.pool(rec, base)]
            if base in ("embedding", "embedding_bag", "_embedding_bag"):
                return [self.embedding(rec)]
            if cls == "memory" or base in VIEWS or base in CREATION:
                return [self.memory(rec, base, cls if known else "memory")]
            if base in REDUCTIONS and self._is_reduction(rec):
                return [self.reduction(rec, base, cls)]
            if cls == "interpolation":
                return [self.interpolation(rec, base)]
            if known and cls != GEMM:
                return [self.elementwise(rec, base, cls)]
        except (AttributeError, IndexError, KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
            log.debug("lowering %s (%s) fell back to the generic form: %s", rec.name, rec.target, exc)
            return [self.generic(rec, cls if known and cls != GEMM else "other",
                                 note=f"lowering failed ({type(exc).__name__}: {exc}); generic form used")]
        # unknown operator, or a GEMM-class operator without an Einsum lowering
        note = "not in the taxonomy" if not known else f"taxonomy class {cls} but no Einsum lowering"
        return [self.generic(rec, "other", note=note)]

    # ---- helpers -----------------------------------------------------------------------------------------
    def _out(self, rec: NodeRecord) -> TArg:
        outs = rec.used_tensor_outputs()
        if not outs:
            outs = [o for o in rec.outputs if o is not None]
        return outs[0]

    def _tensor(self, name: str, role: str, proj: list[list[tuple[str, Any]]], t: Optional[TArg],
                read_write: bool = False, bits: Optional[int] = None) -> Tensor:
        b = bits if bits is not None else (self.bits(t) if t is not None else self.ab)
        return Tensor(name, role, proj, int(b), read_write)

    def _op(self, rec: NodeRecord, *, name: Optional[str] = None, cls: str, kind: str, dims: dict[str, int],
            tensors: list[Tensor], coefficients: Optional[dict[str, int]] = None, ope: float = 0.0,
            bytes_read: int, bytes_written: int, attrs: Optional[dict] = None, target: Optional[str] = None) -> Op:
        dims = {d: max(1, int(v)) for d, v in dims.items()}
        points = math.prod(dims.values()) if dims else 1
        a = {"module_class": rec.module_class} if rec.module_class else {}
        a.update(attrs or {})
        if cls == GEMM:
            macs, elem = points, 0
            ope = 0.0
        else:
            macs, elem = 0, int(round(points * ope))
        return Op(name=name or rec.name, target=target or rec.target, module=rec.module, op_class=cls, kind=kind,
                  dims=dims, tensors=tensors, coefficients=dict(coefficients or {}), macs=int(macs),
                  elem_ops=elem, ops_per_element=float(ope), bytes_read=int(bytes_read),
                  bytes_written=int(bytes_written), attrs=a)

    # ---- GEMM: convolution -------------------------------------------------------------------------------
    def conv(self, rec: NodeRecord, base: str) -> Op:
        a = list(rec.args) + [None] * 9
        x, w, bias = a[0], a[1], a[2]
        kw = rec.kwargs
        stride, padding, dilation = kw.get("stride", a[3]), kw.get("padding", a[4]), kw.get("dilation", a[5])
        transposed = bool(kw.get("transposed", a[6])) or base.startswith("conv_transpose")
        output_padding = kw.get("output_padding", a[7])
        groups = int(kw.get("groups", a[8]) or 1)
        out = self._out(rec)
        nd = len(w.shape) - 2
        if nd not in (1, 2, 3):
            raise ValueError(f"{nd}-D convolution")
        stride = ntuple(stride if stride is not None else 1, nd)
        dilation = ntuple(dilation if dilation is not None else 1, nd)
        xs = x.shape if len(x.shape) == nd + 2 else (1,) + tuple(x.shape)
        os_ = out.shape if len(out.shape) == nd + 2 else (1,) + tuple(out.shape)
        n = xs[0]
        if transposed:            # weight [Cin, Kout/G, k...]; iterate over input pixels, scatter to outputs
            c, k = w.shape[0] // groups, w.shape[1]
            spatial_iter = xs[2:]
        else:                     # weight [Kout, Cin/G, k...]
            k, c = w.shape[0] // groups, w.shape[1]
            spatial_iter = os_[2:]
        dims: dict[str, int] = {"N": n}
        if groups > 1:
            dims["G"] = groups
        dims["C"], dims["K"] = c, k
        win_dims, coeff, sliding, plain_out = sliding_window(nd, w.shape[2:], spatial_iter, stride, dilation)
        dims.update(win_dims)
        g = [[("G", 1)]] if groups > 1 else []
        w_proj = g + [[("C", 1)], [("K", 1)]] + [[(f, 1)] for f, _, _ in WINDOW_AXES[:nd]]
        if transposed:
            in_proj = [[("N", 1)]] + g + [[("C", 1)]] + plain_out
            out_proj = [[("N", 1)]] + g + [[("K", 1)]] + list(reversed(sliding))
        else:
            in_proj = [[("N", 1)]] + g + [[("C", 1)]] + sliding
            out_proj = [[("N", 1)]] + g + [[("K", 1)]] + plain_out
        dynamic = not w.is_static
        tensors = [self._tensor("Inputs", "input", in_proj, x),
                   self._tensor("Weights", "weight", w_proj, w),
                   self._tensor("Outputs", "output", out_proj, out, read_write=True)]
        attrs = {"stride": list(stride), "padding": padding if isinstance(padding, str) else ntuple(padding or 0, nd),
                 "dilation": list(dilation), "groups": groups, "transposed": transposed, "bias": bias is not None,
                 "in_shape": list(x.shape), "weight_shape": list(w.shape), "out_shape": list(out.shape)}
        if bias is not None:
            attrs["bias_adds"] = out.numel        # epilogue: one add per output element (not in macs)
        if transposed:
            attrs["output_padding"] = ntuple(output_padding or 0, nd)
        if dynamic:
            attrs["dynamic_weight"] = True
        return self._op(rec, cls=GEMM, kind="conv", dims=dims, tensors=tensors, coefficients=coeff,
                        bytes_read=self.read_bytes([x, w, bias]), bytes_written=self.nbytes(out), attrs=attrs)

    # ---- GEMM: matrix products ---------------------------------------------------------------------------
    def matmul(self, rec: NodeRecord, base: str) -> Op:
        a = rec.args
        bias = None
        if base == "linear":
            x, w = a[0], a[1]
            bias = a[2] if len(a) > 2 else rec.kwargs.get("bias")
            lhs, rhs, rhs_t = x, w, True           # weight [N, K]
        elif base in ("addmm", "baddbmm", "addbmm", "addmv"):
            bias, lhs, rhs, rhs_t = a[0], a[1], a[2], False
        else:
            lhs, rhs, rhs_t = a[0], a[1], False
        out = self._out(rec)
        ls, rs = tuple(lhs.shape), tuple(rhs.shape)
        if rhs_t:                                   # linear: [..., K] x [N, K]^T
            k, n = ls[-1] if ls else 1, rs[0] if len(rs) == 2 else 1
            m, batch, lhs_b, rhs_b = math.prod(ls[:-1]) if len(ls) > 1 else 1, 1, False, False
        else:
            lv = ls if len(ls) >= 2 else (1,) + ls          # 1-D lhs: one row
            rv = rs if len(rs) >= 2 else rs + (1,)          # 1-D rhs: one column
            m, k, n = lv[-2], lv[-1], rv[-1]
            lb, rb = math.prod(lv[:-2]), math.prod(rv[:-2])
            # batch dimensions broadcast (numpy rules): [2, 1] x [1, 3] is a batch of 6, as torch.matmul
            # expands both operands to it before its bmm
            batch = math.prod(_broadcast_shape(lv[:-2], rv[:-2]))
            if base == "addbmm":                            # sum over the batch: fold B into K
                k, lb, rb, batch = k * lb, 1, 1, 1
            if rb == 1 and len(rv) == 2:                    # weight-like 2-D rhs: fold lhs batch into M
                m, lb, batch = m * lb, 1, 1
            lhs_b, rhs_b = lb > 1, rb > 1                   # an operand with a batch is read per batch entry
        dims = {"B": batch} if batch > 1 else {}
        dims.update({"M": m, "N": n, "K": k})
        bproj = [[("B", 1)]] if batch > 1 else []
        tensors = [self._tensor("Inputs", "input", (bproj if lhs_b else []) + [[("M", 1)], [("K", 1)]], lhs),
                   self._tensor("Weights", "weight", (bproj if rhs_b else []) + [[("K", 1)], [("N", 1)]], rhs),
                   self._tensor("Outputs", "output", bproj + [[("M", 1)], [("N", 1)]], out, read_write=True)]
        attrs: dict[str, Any] = {"in_shape": list(ls), "weight_shape": list(rs), "out_shape": list(out.shape),
                                 "bias": bias is not None}
        if bias is not None:
            attrs["bias_adds"] = out.numel        # epilogue: one add per output element (not in macs)
        if not rhs.is_static:
            attrs["dynamic_weight"] = True
        return self._op(rec, cls=GEMM, kind="gemm", dims=dims, tensors=tensors,
                        bytes_read=self.read_bytes([lhs, rhs, bias]), bytes_written=self.nbytes(out), attrs=attrs)

    def einsum(self, rec: NodeRecord) -> Op:
        eq = rec.args[0]
        operands = [t for t in flatten(rec.args[1:]) if isinstance(t, TArg)]
        if len(operands) != 2 or "..." in eq:
            raise ValueError("einsum lowering needs two operands and no ellipsis")
        lhs, out_sub = eq.replace(" ", "").split("->")
        subs = lhs.split(",")
        sizes: dict[str, int] = {}
        for sub, t in zip(subs, operands):
            for ch, s in zip(sub, t.shape):
                sizes[ch] = max(sizes.get(ch, 1), int(s))
        names = {ch: LETTERS[i] for i, ch in enumerate(sizes)}
        dims = {names[ch]: s for ch, s in sizes.items()}
        out = self._out(rec)
        x, w = operands
        tensors = [self._tensor("Inputs", "input", [[(names[c], 1)] for c in subs[0]], x),
                   self._tensor("Weights", "weight", [[(names[c], 1)] for c in subs[1]], w),
                   self._tensor("Outputs", "output", [[(names[c], 1)] for c in out_sub], out, read_write=True)]
        attrs = {"equation": eq, "out_shape": list(out.shape)}
        if not w.is_static:
            attrs["dynamic_weight"] = True
        return self._op(rec, cls=GEMM, kind="gemm", dims=dims, tensors=tensors,
                        bytes_read=self.read_bytes([x, w]), bytes_written=self.nbytes(out), attrs=attrs)

    # ---- attention ---------------------------------------------------------------------------------------
    def sdpa(self, rec: NodeRecord) -> list[Op]:
        a = list(rec.args) + [None] * 8
        q, k, v = a[0], a[1], a[2]
        mask = rec.kwargs.get("attn_mask", a[3])
        mask = mask if isinstance(mask, TArg) else None     # a[3] is dropout_p in the fused variants
        causal = bool(rec.kwargs.get("is_causal", a[5] or False))
        out = self._out(rec)
        bq = math.prod(q.shape[:-2]) if len(q.shape) > 2 else 1
        bk = math.prod(k.shape[:-2]) if len(k.shape) > 2 else 1
        L, E = q.shape[-2], q.shape[-1]
        S, Ev = k.shape[-2], v.shape[-1]
        bdims = {"B": bq} if bq > 1 else {}
        bproj = [[("B", 1)]] if bq > 1 else []
        ab = self.ab
        score_bytes = math.ceil(bq * L * S * ab / 8)
        common = {"attention": rec.name, "heads_x_batch": bq}
        if bk != bq:
            common["kv_heads_x_batch"] = bk          # grouped-query attention: K/V shared by bq/bk query heads
        qk = self._op(
            rec, name=f"{rec.name}.qk", cls=GEMM, kind="gemm", dims={**bdims, "M": L, "N": S, "K": E},
            tensors=[self._tensor("Inputs", "input", bproj + [[("M", 1)], [("K", 1)]], q),
                     self._tensor("Weights", "weight", bproj + [[("K", 1)], [("N", 1)]], k),
                     self._tensor("Outputs", "output", bproj + [[("M", 1)], [("N", 1)]], None, True, bits=ab)],
            bytes_read=self.read_bytes([q, k]), bytes_written=score_bytes,
            attrs={**common, "part": "qk", "dynamic_weight": not k.is_static})
        extra = 1 + (1 if (mask is not None or causal) else 0)
        sm = self._softmax_parts(rec, rows=bq * L, n=S, in_t=None, in_bytes=score_bytes, cls="logit_computation",
                                 log=False, extra_first=extra, name=f"{rec.name}.softmax",
                                 mask=mask, attrs={**common, "causal": causal})
        av = self._op(
            rec, name=f"{rec.name}.av", cls=GEMM, kind="gemm", dims={**bdims, "M": L, "N": Ev, "K": S},
            tensors=[self._tensor("Inputs", "input", bproj + [[("M", 1)], [("K", 1)]], None, bits=ab),
                     self._tensor("Weights", "weight", bproj + [[("K", 1)], [("N", 1)]], v),
                     self._tensor("Outputs", "output", bproj + [[("M", 1)], [("N", 1)]], out, True)],
            bytes_read=score_bytes + self.nbytes(v), bytes_written=self.nbytes(out),
            attrs={**common, "part": "av", "dynamic_weight": not v.is_static})
        for op in (qk, av):
            if not op.attrs["dynamic_weight"]:
                del op.attrs["dynamic_weight"]
        return [qk] + sm + [av]


def _broadcast_shape(a: Sequence[int], b: Sequence[int]) -> tuple[int, ...]:
    """Numpy/torch broadcast of two shapes (right-aligned; a size-1 dimension stretches)."""
    r = max(len(a), len(b))
    pa, pb = [1] * (r - len(a)) + list(a), [1] * (r - len(b)) + list(b)
    out = []
    for x, y in zip(pa, pb):
        if x != y and 1 not in (x, y):
            raise ValueError(f"shapes {list(a)} and {list(b)} do not broadcast")
        out.append(max(x, y))
    return tuple(out)


def lower_captured(captured: Captured, *, weight_bits: int = 8, act_bits: int = 8) -> list[Op]:
    """Every compute record becomes one or more Ops, in execution order. Operators of class ``other`` are
    kept and named in one :class:`UnclassifiedOperatorWarning` (also logged)."""
    lw = Lowerer(weight_bits=weight_bits, act_bits=act_bits)
    ops: list[Op] = []
    for rec in captured.records:
        lowered = lw.lower(rec)
        if rec.owner is not None:
            for op in lowered:
                assign_owner(op, rec.owner)
        ops.extend(lowered)
    warn_unclassified(ops)
    return ops


def assign_owner(op: Op, owner: tuple[str, str, str]) -> None:
    """Give a NonGEMM primitive the class of the composite module that owns it (NonGEMM Bench profiles that
    module as one operator: taxonomy ``composite_modules``). The primitive's own class, the module class and
    its path are kept in ``attrs`` (``primitive_class``, ``owner``, ``owner_module``). GEMMs keep theirs."""
    if op.op_class == GEMM:
        return
    cls, module_cls, path = owner
    op.attrs["primitive_class"] = op.op_class
    op.attrs["owner"] = module_cls
    op.attrs["owner_module"] = path
    op.op_class = cls


def warn_unclassified(ops: Sequence[Op]) -> Optional[str]:
    # the taxonomy's own `other` operators (topk, sort, dropout: NonGEMM Bench classes them so) are not news
    others = [o for o in ops if o.op_class == "other" and classify(o.target) != ("other", True)]
    if not others:
        return None
    counts = Counter(o.target for o in others)
    listing = ", ".join(f"{t} x{n}" for t, n in counts.most_common())
    names = ", ".join(o.name for o in others[:50]) + (" ..." if len(others) > 50 else "")
    msg = (f"{len(others)} operator(s) of class 'other' (not in the NonGEMM taxonomy, or without an Einsum "
           f"lowering), kept with 1 assumed op per element: {listing}; nodes: {names}")
    log.warning(msg)
    warnings.warn(msg, UnclassifiedOperatorWarning, stacklevel=3)
    return msg
