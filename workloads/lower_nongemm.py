"""Einsum lowerings of the NonGEMM operator families (softmax passes, normalisation, pooling, reductions,
embedding gathers, memory operators, elementwise and interpolation, the generic form), mixed into
:class:`cimscope.workloads.lower.Lowerer` (conventions: lower.py's module notes)."""
from __future__ import annotations

import math
from typing import Any, Optional, Sequence

from cimscope.ir import Op, Tensor
from cimscope.workloads.capture_records import NodeRecord, TArg, ntuple
from cimscope.workloads.taxonomy import base_name, classify, has_ops_per_element, ops_per_element

LETTERS = "ABCDEFGHIJ"

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


#: Sliding-window axes from the innermost (Timeloop CNN-layer names): (filter dim, output dim, coefficient
#: prefix) for width, height, depth.
WINDOW_AXES = (("R", "P", "W"), ("S", "Q", "H"), ("T", "F", "D"))


def sliding_window(nd: int, kernel: Sequence[int], out_spatial: Sequence[int], stride: Sequence[int],
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


def coalesce(out_shape: Sequence[int], in_shapes: Sequence[Sequence[int]]
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


class NonGemmLowering:
    """Mixin of :class:`Lowerer` (uses its ``_op``, ``_tensor``, ``_out``, ``bits``, ``nbytes``, ``read_bytes``)."""

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
        win_dims, coeff, sliding, plain_out = sliding_window(nd, kernel, outsp, stride, dil)
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
        groups = coalesce(out.shape, shapes)
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
        groups = coalesce(out.shape, [i.shape for i in ins])
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
