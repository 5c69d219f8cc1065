"""Detectors: roi_align / nms classed `roi` and costed by their formulas; NMS results cut to a declared size;
torchvision's Faster R-CNN exported by name (fixed selection sizes, stated as assumptions)."""
import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")
from torch import nn  # noqa: E402

from cimscope.workloads.capture import capture  # noqa: E402
from cimscope.workloads.detection import ASSUMPTIONS, _fixed_nms  # noqa: E402
from cimscope.workloads.lower import lower_captured  # noqa: E402


class Pool(nn.Module):
    def forward(self, feat, boxes, scores):
        keep = _fixed_nms(boxes, scores, torch.zeros_like(scores, dtype=torch.int64), 0.5, 6)
        rois = torch.cat([torch.zeros_like(boxes[keep][:, :1]), boxes[keep]], dim=1)
        return torchvision.ops.roi_align(feat, rois, (7, 7), spatial_scale=0.25, sampling_ratio=2)


def _inputs():
    xy = torch.rand(10, 2) * 40
    boxes = torch.cat([xy, xy + 8 + torch.rand(10, 2) * 16], dim=1)
    return torch.randn(1, 16, 16, 16), boxes, torch.rand(10)


def test_roi_ops_are_class_roi_with_their_formulas():
    ops = lower_captured(capture(Pool().eval(), _inputs(), mode="export"))
    nms = [o for o in ops if o.target == "torchvision.nms.default"]
    roi = [o for o in ops if o.target == "torchvision.roi_align.default"]
    assert len(nms) == 1 and len(roi) == 1 and {o.op_class for o in nms + roi} == {"roi"}
    n = nms[0]
    assert n.dims == {"M": 10, "N": 10} and n.elem_ops == round(10 * 10 * 6.5)     # 13 ops x N*N/2 pairs
    r = roi[0]
    assert r.dims == {"K": 6, "C": 16, "Q": 7, "P": 7}                             # the declared 6 kept boxes
    assert r.elem_ops == 6 * 16 * 49 * 33                                          # 4 samples x 8 + 1
    assert r.bytes_read == 16 * 16 * 16 + 6 * 5 * 1                               # 8-bit map + boxes


def test_nms_without_a_declared_size_is_refused():
    from cimscope.errors import ExportError

    class Bare(nn.Module):
        def forward(self, boxes, scores):
            return boxes[torchvision.ops.nms(boxes, scores, 0.5)]
    with pytest.raises(ExportError, match="data-dependent"):
        capture(Bare().eval(), _inputs()[1:], mode="export")

    class UpperOnly(nn.Module):                # a bound from above declares no size to cost
        def forward(self, boxes, scores):
            keep = torchvision.ops.nms(boxes, scores, 0.5)
            torch._check(keep.shape[0] <= 8)
            return boxes[keep]
    with pytest.raises(ExportError, match="data-dependent"):
        capture(UpperOnly().eval(), _inputs()[1:], mode="export")


@pytest.mark.slow
def test_faster_rcnn_exports_by_name():
    from cimscope.workloads import export_model
    wl = export_model("fasterrcnn_resnet50_fpn", image_size=320)
    classes = {o.op_class for o in wl.ops}
    assert {"GEMM", "roi", "normalization"} <= classes
    roi = [o for o in wl.ops if o.target == "torchvision.roi_align.default"]
    assert sum(o.dims["K"] for o in roi) == 1000                  # post-NMS proposals, over the 4 FPN levels
    nms = [o for o in wl.ops if o.target == "torchvision.nms.default"]
    assert len(nms) == 2 and nms[1].dims["M"] == 1000 and nms[1].attrs["kept"] == 100   # detections
    bn = [o for o in wl.ops if o.attrs.get("owner") == "FrozenBatchNorm2d"]
    assert bn and all(o.op_class == "normalization" for o in bn)
    assert wl.meta["assumptions"] == list(ASSUMPTIONS)
