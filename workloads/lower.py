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
from cimscope.workloads.lower_special import GROUPED_MM, ROI_OPS, SpecialLowering
from cimscope.workloads.taxonomy import base_name, classify, has_ops_per_element, ops_per_element

log = logging.getLogger("cimscope.workloads")

LETTERS = "ABCDEFGHIJ"


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
SOFTMAX = {"_softmax", "softmax", "_log_softmax", "log_softmax", "_safe_softmax"}
NORMS = {"native_layer_norm", "layer_norm", "_native_batch_norm_legit_no_training", "native_batch_norm",
         "_native_batch_norm_legit", "_native_batch_norm_legit_functional", "batch_norm",
         "native_group_norm", "group_norm", "rms_norm", "_fused_rms_norm", "instance_norm"}
REDUCTIONS = {"sum", "mean", "amax", "amin", "max", "min", "prod", "var", "std", "any", "all", "argmax",
              "argmin", "logsumexp", "norm", "linalg_vector_norm", "var_mean", "std_mean"}
VIEWS = {"view", "_unsafe_view", "reshape", "expand", "expand_as", "t", "permute", "transpose", "unsqueeze",
         "squeeze", "select", "slice", "alias", "detach", "as_strided", "split", "split_with_sizes", "chunk",
         "unbind", "narrow", "movedim", "swapaxes", "unflatten", "flatten", "view_as", "reshape_as",
         "diagonal", "unfold", "identity", "view_copy", "t_copy", "permute_copy", "transpose_copy",
         "unsqueeze_copy", "squeeze_copy", "slice_copy", "select_copy", "expand_copy", "size"}
CREATION = {"arange", "full", "full_like", "zeros", "zeros_like", "ones", "ones_like", "empty", "empty_like",
            "empty_strided", "new_zeros", "new_ones", "new_full", "new_empty", "linspace", "scalar_tensor",
            "rand", "randn", "randint", "rand_like", "randn_like"}
GATHERS = {"index_select", "gather", "index", "_unsafe_index", "masked_select"}
CONCATS = {"cat", "concat", "concatenate", "stack", "hstack", "vstack"}
POOL_MAX = {"max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices", "max_pool2d_with_indices",
            "max_pool3d_with_indices", "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d"}
POOL_AVG = {"avg_pool1d", "avg_pool2d", "avg_pool3d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
            "adaptive_avg_pool3d", "_adaptive_avg_pool2d", "_adaptive_avg_pool3d"}


class Lowerer(SpecialLowering):
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
        win_dims, coeff, sliding, plain_out = _window(nd, w.shape[2:], spatial_iter, stride, dilation)
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

    # ---- softmax -----------------------------------------------------------------------------------------
    def softmax(self, rec: NodeRecord, base: str) -> list[Op]:
        x = rec.args[0]
        dim = rec.args[1] if len(rec.args) > 1 else rec.kwargs.get("dim", -1)
        dim = int(dim) % max(1, len(x.shape))
        n = x.shape[dim] if x.shape else 1
        rows = x.numel // max(1, n)
        cls, _ = classify(rec.target)
        return self._softmax_parts(rec, rows=rows, n=n, in_t=x, in_bytes=self.nbytes(x), cls=cls,
                                   log="log" in base, extra_first=0, name=rec.name,
                                   attrs={"dim": dim, "in_shape": list(x.shape)})

    def _softmax_parts(self, rec, *, rows: int, n: int, in_t: Optional[TArg], in_bytes: int, cls: str, log: bool,
                       extra_first: int, name: str, attrs: dict, mask: Optional[TArg] = None) -> list[Op]:
        """Safe softmax in three passes over a [rows, n] input: m = max, s = sum exp(x - m), y = exp(x - m)/s."""
        ab = self.ab
        row_bytes = math.ceil(rows * ab / 8)
        dims = {"M": rows, "N": n}
        xin = lambda: self._tensor("Inputs", "input", [[("M", 1)], [("N", 1)]], in_t, bits=None if in_t else ab)  # noqa: E731
        rowt = lambda nm, role, rw=False: self._tensor(nm, role, [[("M", 1)]], None, rw, bits=ab)  # noqa: E731
        ope_max, f_max = ops_per_element("softmax_max")
        ope_es, f_es = ops_per_element("softmax_exp_sum")
        ope_div, f_div = ops_per_element("log_softmax_divide" if log else "softmax_divide")
        if log:
            ope_div += 1.0 / max(1, n)         # one log(s) per row
        mask_bytes = self.nbytes(mask) if mask is not None else 0
        f_max_full = f_max + (f"; plus {extra_first} op(s) per element for the attention scale/mask"
                              if extra_first else "")
        out_bits = ab if in_t is None else None
        parts = [
            self._op(rec, name=f"{name}.max", cls=cls, kind="softmax", dims=dims,
                     tensors=[xin(), rowt("Outputs", "output", True)], ope=ope_max + extra_first,
                     bytes_read=in_bytes + mask_bytes, bytes_written=row_bytes,
                     attrs={**attrs, "part": "max", "formula": f_max_full}),
            self._op(rec, name=f"{name}.exp_sum", cls=cls, kind="softmax", dims=dims,
                     tensors=[xin(), rowt("Inputs2", "input"), rowt("Outputs", "output", True)], ope=ope_es,
                     bytes_read=in_bytes + row_bytes, bytes_written=row_bytes,
                     attrs={**attrs, "part": "exp_sum", "formula": f_es}),
        ]
        out_rec = self._out(rec) if in_t is not None else None
        out_bytes = self.nbytes(out_rec) if out_rec is not None else math.ceil(rows * n * ab / 8)
        parts.append(self._op(
            rec, name=f"{name}.divide", cls=cls, kind="softmax", dims=dims,
            tensors=[xin(), rowt("Inputs2", "input"), rowt("Inputs3", "input"),
                     self._tensor("Outputs", "output", [[("M", 1)], [("N", 1)]], out_rec, True, bits=out_bits)],
            ope=ope_div, bytes_read=in_bytes + 2 * row_bytes, bytes_written=out_bytes,
            attrs={**attrs, "part": "divide", "formula": f_div}))
        return parts

    # ---- normalisation -----------------------------------------------------------------------------------
    def norm(self, rec: NodeRecord, base: str) -> Op:
        a = list(rec.args) + [None] * 8
        x = a[0]
        out = self._out(rec)
        cls, _ = classify(rec.target)
        if "layer_norm" in base or "rms_norm" in base:
            shape = a[1]
            n = math.prod(int(s) for s in (shape if isinstance(shape, (list, tuple)) else [shape]))
            m = x.numel // max(1, n)
            dims = {"M": m, "N": n}
            if "rms" in base:
                w, extra = a[2], []
                key = "rms_norm"
                ope, formula = ops_per_element(key)
                ope = ope - (0 if w is not None else 1) + 3.0 / max(1, n)
                params = [w]
            else:
                w, b = a[2], a[3]
                key = "layer_norm"
                ope, formula = ops_per_element(key)
                ope = ope - (0 if w is not None else 1) - (0 if b is not None else 1) + 4.0 / max(1, n)
                params = [w, b]
            tensors = [self._tensor("Inputs", "input", [[("M", 1)], [("N", 1)]], x)]
            for p in params:
                if p is not None:
                    tensors.append(self._tensor(f"Inputs{len(tensors) + 1}", "input", [[("N", 1)]], p))
            tensors.append(self._tensor("Outputs", "output", [[("M", 1)], [("N", 1)]], out, True))
            reads = [x] + params
        elif "group_norm" in base or "instance_norm" in base:
            n_, c = x.shape[0], x.shape[1]
            kw = rec.kwargs
            if base == "native_group_norm":      # (input, weight, bias, N, C, HxW, group, eps)
                groups, w, b = int(kw.get("group", a[6])), kw.get("weight", a[1]), kw.get("bias", a[2])
            elif base == "group_norm":           # (input, num_groups, weight, bias, eps)
                groups, w, b = int(kw.get("num_groups", a[1])), kw.get("weight", a[2]), kw.get("bias", a[3])
            else:                                # instance norm: one group per channel
                groups, w, b = c, kw.get("weight", a[1]), kw.get("bias", a[2])
            xsp = x.numel // max(1, n_ * c)
            dims = {"N": n_, "G": groups, "C": c // groups, "X": xsp}
            ope, formula = ops_per_element("group_norm")
            ope = ope + 4.0 / max(1, (c // groups) * xsp)
            proj = [[("N", 1)], [("G", 1)], [("C", 1)], [("X", 1)]]
            tensors = [self._tensor("Inputs", "input", proj, x)]
            for p in (w, b):
                if isinstance(p, TArg):
                    tensors.append(self._tensor(f"Inputs{len(tensors) + 1}", "input", [[("G", 1)], [("C", 1)]], p))
            tensors.append(self._tensor("Outputs", "output", proj, out, True))
            reads = [x, w, b]
        else:                                    # batch norm (inference): per-channel statistics
            xs = x.shape if len(x.shape) >= 2 else (1,) + tuple(x.shape)
            n_, c = xs[0], xs[1]
            xsp = math.prod(xs[2:]) if len(xs) > 2 else 1
            dims = {"N": n_, "C": c, "X": xsp}
            w, b = a[1], a[2]
            if base in ("_native_batch_norm_legit_no_training", "_native_batch_norm_legit_functional",
                        "native_batch_norm", "_native_batch_norm_legit", "batch_norm"):
                rm, rv = a[3], a[4]
            else:
                rm, rv = None, None
            ope, formula = ops_per_element("batch_norm")
            ope = ope + 2.0 / max(1, n_ * xsp)
            proj = [[("N", 1)], [("C", 1)], [("X", 1)]]
            tensors = [self._tensor("Inputs", "input", proj, x)]
            for p in (rm, rv, w, b):
                if isinstance(p, TArg):
                    tensors.append(self._tensor(f"Inputs{len(tensors) + 1}", "input", [[("C", 1)]], p))
            tensors.append(self._tensor("Outputs", "output", proj, out, True))
            reads = [x, rm, rv, w, b]
        return self._op(rec, cls=cls, kind="norm", dims=dims, tensors=tensors, ope=ope,
                        bytes_read=self.read_bytes([r for r in reads if isinstance(r, TArg)]),
                        bytes_written=self.nbytes(out),
                        attrs={"formula": formula, "in_shape": list(x.shape)})

    # ---- pooling -----------------------------------------------------------------------------------------
    def pool(self, rec: NodeRecord, base: str) -> Op:
        a = list(rec.args) + [None] * 8
        x = a[0]
        out = self._out(rec)
        nd = 3 if "3d" in base else 1 if "1d" in base else 2
        xs = x.shape if len(x.shape) == nd + 2 else (1,) + tuple(x.shape)
        os_ = out.shape if len(out.shape) == nd + 2 else (1,) + tuple(out.shape)
        insp, outsp = xs[2:], os_[2:]
        is_max = base in POOL_MAX
        adaptive = base.startswith(("adaptive", "_adaptive"))
        if adaptive:
            kernel, stride, dil, windows = [], [], [1] * nd, 1
            for i_, o_ in zip(insp, outsp):
                starts = [(j * i_) // o_ for j in range(o_)]
                ends = [-((-(j + 1) * i_) // o_) for j in range(o_)]
                sizes = [e - s for s, e in zip(starts, ends)]
                kernel.append(max(sizes))
                stride.append(i_ // o_ if i_ % o_ == 0 else (starts[1] - starts[0] if o_ > 1 else 1))
                windows *= sum(sizes)
            exact_points = os_[0] * os_[1] * windows
            padding = [0] * nd
        else:
            kernel = ntuple(a[1], nd)
            stride = ntuple(a[2] if a[2] not in (None, []) else a[1], nd)
            padding = ntuple(a[3] if a[3] is not None else 0, nd)
            dil = ntuple(a[4], nd) if is_max and a[4] is not None else [1] * nd
            exact_points = None
        win_dims, coeff, sliding, plain_out = _window(nd, kernel, outsp, stride, dil)
        dims = {"N": os_[0], "C": os_[1], **win_dims}
        in_proj = [[("N", 1)], [("C", 1)]] + sliding
        out_proj = [[("N", 1)], [("C", 1)]] + plain_out
        window = math.prod(kernel)
        ope, formula = ops_per_element("max_pool" if is_max else "avg_pool")
        if not is_max:
            ope += 1.0 / max(1, window)
        points = math.prod(max(1, int(v)) for v in dims.values())
        if exact_points is not None and exact_points != points:
            # adaptive windows of unequal size: exact total = window elements (+ one divide per output for avg)
            outputs = os_[0] * os_[1] * math.prod(outsp)
            ope = (exact_points + (0 if is_max else outputs)) / points
            formula += f"; adaptive windows: {exact_points} window elements in total"
        attrs = {"kernel": list(kernel), "stride": list(stride), "padding": list(padding), "dilation": list(dil),
                 "adaptive": adaptive, "pool": "max" if is_max else "avg", "formula": formula,
                 "in_shape": list(x.shape), "out_shape": list(out.shape)}
        return self._op(rec, cls="pooling", kind="pool", dims=dims, coefficients=coeff,
                        tensors=[self._tensor("Inputs", "input", in_proj, x),
                                 self._tensor("Outputs", "output", out_proj, out, True)],
                        ope=ope, bytes_read=self.nbytes(x), bytes_written=self.nbytes(out), attrs=attrs)

    # ---- reductions --------------------------------------------------------------------------------------
    def _is_reduction(self, rec: NodeRecord) -> bool:
        tensors = rec.tensor_args()
        outs = [o for o in rec.outputs if o is not None]
        return len(tensors) == 1 and bool(outs) and outs[0].numel < tensors[0].numel or (
            len(tensors) == 1 and bool(outs) and outs[0].numel == tensors[0].numel
            and len(outs[0].shape) < len(tensors[0].shape))

    def reduction(self, rec: NodeRecord, base: str, cls: str) -> Op:
        x = rec.tensor_args()[0]
        out = self._out(rec)
        rank = len(x.shape)
        dim = rec.kwargs.get("dim", rec.args[1] if len(rec.args) > 1 and not isinstance(rec.args[1], bool)
                             and not isinstance(rec.args[1], float) else None)
        if dim is None or dim == [] or isinstance(dim, TArg):
            axes = set(range(rank))
        else:
            axes = {int(d) % max(1, rank) for d in (dim if isinstance(dim, (list, tuple)) else [dim])}
        groups: list[tuple[int, bool]] = []       # (size, reduced)
        for i, s in enumerate(x.shape):
            if s == 1:
                continue
            red = i in axes
            if groups and groups[-1][1] == red:
                groups[-1] = (groups[-1][0] * s, red)
            else:
                groups.append((s, red))
        if not groups:
            groups = [(1, False)]
        if len(groups) > len(LETTERS):
            raise ValueError(f"{len(groups)} dimension groups; at most {len(LETTERS)} have names")
        names = LETTERS[:len(groups)]
        dims = {nm: s for nm, (s, _) in zip(names, groups)}
        in_proj = [[(nm, 1)] for nm in names]
        out_proj = [[(nm, 1)] for nm, (_, red) in zip(names, groups) if not red]
        if not out_proj:                          # reduction to a scalar: a size-1 output rank keeps the
            dims["O"] = 1                         # output dataspace non-empty for Timeloop
            out_proj = [[("O", 1)]]
        reduced = math.prod(s for s, red in groups if red) or 1
        key = base if has_ops_per_element(base) else "sum"
        ope, formula = ops_per_element(key)
        if base == "mean":
            ope += 1.0 / max(1, reduced)
        if base == "std":
            ope += 1.0 / max(1, reduced)
        return self._op(rec, cls=cls, kind="reduction", dims=dims,
                        tensors=[self._tensor("Inputs", "input", in_proj, x),
                                 self._tensor("Outputs", "output", out_proj, out, True)],
                        ope=ope, bytes_read=self.nbytes(x),
                        bytes_written=sum(self.nbytes(o) for o in rec.used_tensor_outputs()),
                        attrs={"reduce_dims": sorted(axes), "reduced_elements": reduced, "formula": formula,
                               "in_shape": list(x.shape), "out_shape": list(out.shape)})

    # ---- embedding ---------------------------------------------------------------------------------------
    def embedding(self, rec: NodeRecord) -> Op:
        table, idx = rec.args[0], rec.args[1]
        out = self._out(rec)
        m, d = idx.numel, table.shape[-1]
        ope, formula = ops_per_element("embedding")
        gathered = math.ceil(m * d * self.bits(table) / 8)
        return self._op(rec, cls="embedding", kind="embedding", dims={"M": m, "N": d},
                        tensors=[self._tensor("Inputs", "input", [[("M", 1)]], idx),
                                 self._tensor("Weights", "weight", [[("M", 1)], [("N", 1)]], table),
                                 self._tensor("Outputs", "output", [[("M", 1)], [("N", 1)]], out, True)],
                        ope=ope, bytes_read=gathered + self.nbytes(idx), bytes_written=self.nbytes(out),
                        attrs={"table_shape": list(table.shape), "formula": formula,
                               "note": "Weights are the gathered rows (M of the table's rows)"})

    # ---- memory ------------------------------------------------------------------------------------------
    def memory(self, rec: NodeRecord, base: str, cls: str) -> Op:
        outs = rec.used_tensor_outputs() or [o for o in rec.outputs if o is not None]
        out = outs[0]
        ins = rec.tensor_args()
        ope, formula = ops_per_element("memory")
        total_out = sum(o.numel for o in outs)
        dims = {"A": max(1, total_out)}
        view = base in VIEWS
        attrs: dict[str, Any] = {"out_shape": list(out.shape), "formula": formula}
        if view:
            read, written = 0, 0
            attrs["view"] = True
            tensors = [self._tensor("Inputs", "input", [[("A", 1)]], ins[0] if ins else out),
                       self._tensor("Outputs", "output", [[("A", 1)]], out, True)]
        elif base in CREATION:
            read = 0
            written = 0 if base.startswith("empty") or base == "new_empty" else sum(self.nbytes(o) for o in outs)
            attrs["creation"] = True
            tensors = [self._tensor("Outputs", "output", [[("A", 1)]], out, True)]
        else:
            if base in GATHERS and ins:
                src, rest = ins[0], ins[1:]
                read = math.ceil(total_out * self.bits(src) / 8) + self.read_bytes(rest)
                attrs["gather"] = True
            elif base == "copy" and len(ins) >= 2:
                read = self.nbytes(ins[1])
            elif base in CONCATS:
                read = sum(self.nbytes(t) for t in ins)   # each operand is copied once per occurrence:
                attrs["concat"] = True                    # cat([x, x]) reads x twice
            else:
                read = self.read_bytes(ins)
            written = sum(self.nbytes(o) for o in outs)
            tensors = ([self._tensor("Inputs", "input", [[("A", 1)]], ins[0])] if ins else []) + \
                      [self._tensor("Outputs", "output", [[("A", 1)]], out, True)]
        if ins:
            attrs["in_shape"] = list(ins[0].shape)
        return self._op(rec, cls=cls, kind="memory", dims=dims, tensors=tensors, ope=ope,
                        bytes_read=read, bytes_written=written, attrs=attrs)

    # ---- elementwise -------------------------------------------------------------------------------------
    def _ope(self, rec: NodeRecord, base: str, cls: str) -> tuple[float, str]:
        if base == "gelu" and rec.kwargs.get("approximate", rec.args[1] if len(rec.args) > 1 else "none") == "tanh":
            return ops_per_element("gelu_tanh")
        if base.startswith("quantize"):
            return ops_per_element("quantize")
        if base.startswith("dequantize"):
            return ops_per_element("dequantize")
        if has_ops_per_element(base):
            ope, formula = ops_per_element(base)
            if base in ("add", "sub"):
                alpha = rec.kwargs.get("alpha", 1)
                if alpha not in (None, 1):
                    ope += 1
            return ope, formula
        default = {"memory": 0.0, "embedding": 0.0, "qdq": 2.0}.get(cls, 1.0)
        return default, f"{default:g} op per element (default for class {cls}: one {base} per element)"

    def elementwise(self, rec: NodeRecord, base: str, cls: str, note: str = "") -> Op:
        out = self._out(rec)
        ins = rec.tensor_args()
        shapes = [i.shape for i in ins]
        groups = _coalesce(out.shape, shapes)
        if groups is None:
            return self.generic(rec, cls, note="operands do not broadcast to the output")
        names = LETTERS[:len(groups)]
        dims = {nm: s for nm, (s, _) in zip(names, groups)}
        ope, formula = self._ope(rec, base, cls) if cls != "other" else ops_per_element("other")
        tensors: list[Tensor] = []
        for k, t in enumerate(ins):
            proj = [[(nm, 1)] for nm, (_, present) in zip(names, groups) if present[k]]
            if not proj:
                continue                          # a broadcast scalar: bytes counted, no dataspace
            tensors.append(self._tensor("Inputs" if not tensors else f"Inputs{len(tensors) + 1}", "input", proj, t))
        tensors.append(self._tensor("Outputs", "output", [[(nm, 1)] for nm in names], out, True))
        attrs = {"formula": formula, "out_shape": list(out.shape)}
        if note:
            attrs["note"] = note
        return self._op(rec, cls=cls, kind="elementwise", dims=dims, tensors=tensors, ope=ope,
                        bytes_read=self.read_bytes(ins),
                        bytes_written=sum(self.nbytes(o) for o in rec.used_tensor_outputs()), attrs=attrs)

    def interpolation(self, rec: NodeRecord, base: str) -> Op:
        out = self._out(rec)
        x = rec.tensor_args()[0]
        key = ("upsample_bilinear" if "bilinear" in base or "linear" in base else
               "upsample_bicubic" if "bicubic" in base else "upsample_nearest")
        ope, formula = ops_per_element(key)
        if "trilinear" in base:
            ope, formula = 21.0, "7 lerps a + w*(b - a) (sub, mul, add each) per output element"
        elif "linear1d" in base:
            ope, formula = 3.0, "1 lerp a + w*(b - a) per output element"
        os_ = out.shape if len(out.shape) >= 3 else (1,) + tuple(out.shape)
        dims = {"N": os_[0] * os_[1]}
        sp = ["Q", "P"] if len(os_) == 4 else ["P"] if len(os_) == 3 else ["F", "Q", "P"]
        for nm, s in zip(sp, os_[2:]):
            dims[nm] = s
        proj = [[(nm, 1)] for nm in dims]
        return self._op(rec, cls="interpolation", kind="elementwise", dims=dims,
                        tensors=[self._tensor("Inputs", "input", proj, x),
                                 self._tensor("Outputs", "output", proj, out, True)],
                        ope=ope, bytes_read=self.nbytes(x), bytes_written=self.nbytes(out),
                        attrs={"formula": formula, "in_shape": list(x.shape), "out_shape": list(out.shape),
                               "note": "Inputs projected on the output grid (each output reads its source "
                                       "neighbourhood); bytes are the real input size"})

    def generic(self, rec: NodeRecord, cls: str, note: str = "") -> Op:
        """Unknown operators: kept, one (assumed) op per output element, bytes of every tensor touched."""
        outs = rec.used_tensor_outputs() or [o for o in rec.outputs if o is not None]
        out = outs[0]
        ins = rec.tensor_args()
        groups = _coalesce(out.shape, [i.shape for i in ins])
        if cls == "other":
            ope, formula = ops_per_element("other")
        else:
            ope, formula = self._ope(rec, base_name(rec.target), cls)
        attrs = {"formula": formula, "out_shape": list(out.shape), "in_shapes": [list(i.shape) for i in ins]}
        if note:
            attrs["note"] = note
        if groups is not None and len(groups) <= len(LETTERS):
            names = LETTERS[:len(groups)]
            dims = {nm: s for nm, (s, _) in zip(names, groups)}
            tensors = []
            for k, t in enumerate(ins):
                proj = [[(nm, 1)] for nm, (_, present) in zip(names, groups) if present[k]]
                if proj:
                    tensors.append(self._tensor("Inputs" if not tensors else f"Inputs{len(tensors) + 1}",
                                                "input", proj, t))
            tensors.append(self._tensor("Outputs", "output", [[(nm, 1)] for nm in names], out, True))
            kind = "elementwise"
        else:
            dims = {"A": max(1, sum(o.numel for o in outs))}
            tensors = [self._tensor("Inputs" if k == 0 else f"Inputs{k + 1}", "input", [[("A", 1)]], t)
                       for k, t in enumerate(ins)]
            tensors.append(self._tensor("Outputs", "output", [[("A", 1)]], out, True))
            kind = "other"
            attrs["note"] = (note + "; " if note else "") + "operand shapes do not broadcast: flattened to A"
        return self._op(rec, cls=cls, kind=kind, dims=dims, tensors=tensors, ope=ope,
                        bytes_read=self.read_bytes(ins), bytes_written=sum(self.nbytes(o) for o in outs),
                        attrs=attrs)


#: Sliding-window axes from the innermost (Timeloop CNN-layer names): (filter dim, output dim, coefficient
#: prefix) for width, height, depth.
WINDOW_AXES = (("R", "P", "W"), ("S", "Q", "H"), ("T", "F", "D"))


def _window(nd: int, kernel: Sequence[int], out_spatial: Sequence[int], stride: Sequence[int],
            dilation: Sequence[int]) -> tuple[dict[str, int], dict[str, int], list, list]:
    """A window sliding over ``nd`` spatial axes (sizes outermost first, as torch orders them): its dims
    (R, S, T = filter; P, Q, F = output), coefficients (strides, then dilations), the sliding projection of
    its input (ranks W, H, D: ``R*Wdilation + P*Wstride`` ...) and the plain projection of its output
    (ranks (F), Q, P)."""
    axes = WINDOW_AXES[:nd]
    dims = {f: int(kernel[nd - 1 - i]) for i, (f, _, _) in enumerate(axes)}
    dims.update({o: int(out_spatial[nd - 1 - i]) for i, (_, o, _) in enumerate(axes)})
    coeff = {f"{ax}stride": int(stride[nd - 1 - i]) for i, (_, _, ax) in enumerate(axes)}
    coeff.update({f"{ax}dilation": int(dilation[nd - 1 - i]) for i, (_, _, ax) in enumerate(axes)})
    sliding = [[(f, f"{ax}dilation"), (o, f"{ax}stride")] for f, o, ax in axes]
    plain = [[(o, 1)] for _, o, _ in reversed(axes)]
    return dims, coeff, sliding, plain


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


def _coalesce(out_shape: Sequence[int], in_shapes: Sequence[Sequence[int]]
              ) -> Optional[list[tuple[int, list[bool]]]]:
    """Merge adjacent output dimensions that every operand either fully has or fully broadcasts.

    Returns ``[(size, [present per operand]), ...]`` (size-1 dimensions dropped), or None when an operand
    does not broadcast to the output (numpy rules, right-aligned)."""
    r = len(out_shape)
    flags: list[list[bool]] = []
    for shp in in_shapes:
        if len(shp) > r:
            if math.prod(shp[: len(shp) - r]) != 1:
                return None
            shp = shp[len(shp) - r:]
        padded = [1] * (r - len(shp)) + list(shp)
        f = []
        for o, s in zip(out_shape, padded):
            if s == o:
                f.append(True)
            elif s == 1:
                f.append(False)
            else:
                return None
        flags.append(f)
    groups: list[tuple[int, list[bool]]] = []
    for i, size in enumerate(out_shape):
        if size == 1:
            continue
        present = [f[i] for f in flags]
        if groups and groups[-1][1] == present:
            groups[-1] = (groups[-1][0] * int(size), present)
        else:
            groups.append((int(size), present))
    if not groups:
        groups = [(1, [True] * len(in_shapes))]
    if len(groups) > len(LETTERS):
        return None
    return groups


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
