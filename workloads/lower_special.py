"""Einsum lowerings of the operators of mixture-of-experts layers (grouped expert GEMMs) and of detectors
(torchvision roi_align, nms), mixed into :class:`cimscope.workloads.lower.Lowerer`.

Assumptions are stated on each operator (``attrs["routing"]``, ``attrs["note"]``) and in the docstrings.
"""
from __future__ import annotations

import math

from cimscope.ir import GEMM, Op
from cimscope.workloads.taxonomy import ops_per_element

#: torch._grouped_mm and transformers' CPU fallback op (``transformers.grouped_mm_fallback``)
GROUPED_MM = {"grouped_mm", "_grouped_mm", "grouped_mm_fallback"}
ROI_OPS = {"roi_align", "nms"}


class SpecialLowering:
    """Mixin of :class:`Lowerer` (uses its ``_op``, ``_tensor``, ``_out``, ``bits``, ``nbytes``)."""

    def grouped_mm(self, rec) -> Op:
        """Mixture-of-experts expert GEMMs: ``[S, K] x [E, K, N] -> [S, N]``, the S routed rows (tokens x top-k)
        split among the E experts by ``offs`` (known at run time only). Assumed uniform routing: the rows
        spread evenly over min(E, S) active experts, ``M = S / active`` rows each (``B`` = active experts). The
        MACs, ``S*K*N``, do not depend on the split (exact when ``active`` divides S, else rounded up)."""
        x, w = rec.args[0], rec.args[1]
        out = self._out(rec)
        if len(x.shape) != 2 or len(w.shape) != 3:
            raise ValueError(f"grouped_mm of {list(x.shape)} x {list(w.shape)}: 2-D x 3-D expected")
        rows, k = x.shape
        experts, kw, n = w.shape
        if kw != k:                              # weight stored [E, N, K]
            kw, n = n, kw
        active = max(1, min(experts, rows))
        m = -(-rows // active)
        dims = {"B": active, "M": m, "N": n, "K": k}
        bproj = [[("B", 1)]]
        w_bytes = math.ceil(active * k * n * self.bits(w) / 8)     # the active experts' weights are read
        tensors = [self._tensor("Inputs", "input", bproj + [[("M", 1)], [("K", 1)]], x),
                   self._tensor("Weights", "weight", bproj + [[("K", 1)], [("N", 1)]], w),
                   self._tensor("Outputs", "output", bproj + [[("M", 1)], [("N", 1)]], out, read_write=True)]
        attrs = {"in_shape": list(x.shape), "weight_shape": list(w.shape), "out_shape": list(out.shape),
                 "experts": experts, "experts_active": active, "routed_rows": rows,
                 "routing": f"assumed uniform: {rows} routed rows (tokens x top-k) / {active} active experts "
                            f"= {rows / active:g} per expert (the real split is data-dependent)"}
        if m * active != rows:
            attrs["note"] = f"M rounded up: {m} x {active} = {m * active} rows for {rows}"
        return self._op(rec, cls=GEMM, kind="gemm", dims=dims, tensors=tensors,
                        bytes_read=self.nbytes(x) + w_bytes, bytes_written=self.nbytes(out), attrs=attrs)

    def roi(self, rec, base: str) -> Op:
        """``roi_align(features [N, C, H, W], boxes [K, 5], (PH, PW), scale, sampling_ratio)`` -> [K, C, PH, PW]:
        dims K, C, Q (= PH), P (= PW); ``Inputs`` are the bilinear taps gathered for each output bin (as an
        embedding's gathered rows); bytes read are the feature map (each level read once) and the boxes.
        ``nms(boxes [N, 4], scores [N], iou)``: every box pair i < j is compared (N*N/2 IoUs, iteration
        space M x N = N x N at half an IoU per point); the kept indices are written."""
        out = self._out(rec)
        if base == "nms":
            boxes, scores = rec.args[0], rec.args[1]
            n = boxes.shape[0]
            ope, formula = ops_per_element("nms")
            return self._op(rec, cls="roi", kind="other", dims={"M": n, "N": n},
                            tensors=[self._tensor("Inputs", "input", [[("M", 1)]], boxes),
                                     self._tensor("Inputs2", "input", [[("N", 1)]], scores),
                                     self._tensor("Outputs", "output", [[("M", 1)]], out, True)],
                            ope=ope, bytes_read=self.nbytes(boxes) + self.nbytes(scores),
                            bytes_written=self.nbytes(out),
                            attrs={"formula": formula, "boxes": n, "kept": out.shape[0], "out_shape": list(out.shape)})
        x, boxes = rec.args[0], rec.args[1]
        k, c, ph, pw = out.shape
        sampling = rec.args[5] if len(rec.args) > 5 else rec.kwargs.get("sampling_ratio", -1)
        ope, formula = ops_per_element("roi_align")
        note = ""
        if isinstance(sampling, int) and sampling > 0 and sampling != 2:
            ope = 8.0 * sampling * sampling + 1
            formula += f"; here sampling_ratio {sampling}: 8*{sampling * sampling} + 1"
        elif not isinstance(sampling, int) or sampling <= 0:
            note = "adaptive sampling (ceil(box/bin) samples, set by each box's size): 2 x 2 samples assumed"
        proj = [[("K", 1)], [("C", 1)], [("Q", 1)], [("P", 1)]]
        attrs = {"formula": formula, "in_shape": list(x.shape), "boxes": k, "out_shape": list(out.shape),
                 "sampling_ratio": sampling}
        if note:
            attrs["note"] = note
        return self._op(rec, cls="roi", kind="other", dims={"K": k, "C": c, "Q": ph, "P": pw},
                        tensors=[self._tensor("Inputs", "input", proj, x),
                                 self._tensor("Inputs2", "input", [[("K", 1)]], boxes),
                                 self._tensor("Outputs", "output", proj, out, True)],
                        ope=ope, bytes_read=self.nbytes(x) + self.nbytes(boxes), bytes_written=self.nbytes(out),
                        attrs=attrs)
