"""torchvision's two-stage detectors (Mask R-CNN, Faster R-CNN with a ResNet-50 FPN backbone) as fixed-shape
modules torch.export can capture, for NonGEMM Bench's ``maskrcnn`` and ``fasterrcnn``.

The detectors' inference has data-dependent sizes: how many proposals survive NMS, how many boxes fall on each
FPN level, how many detections pass the score threshold. :class:`FixedRCNN` runs torchvision's own modules
(transform, backbone + FPN, RPN head, anchor generator, box coder, box/mask heads and predictors) and the same
torchvision operators (``torchvision.nms``, ``torchvision.roi_align``), with these stated assumptions in place
of the data-dependent selections (each is recorded in the workload's notes):

* RPN: per FPN level, the top ``pre_nms_top_n`` (1000, torchvision's test setting) anchors by objectness; no
  box is removed as too small (torchvision's test ``min_size`` is 1e-3 px) or by the score threshold (0.0 in
  test: every objectness probability passes, exact); NMS (IoU 0.7, levels kept apart by coordinate offsets,
  as ``batched_nms`` does) keeps at least ``post_nms_top_n`` = 1000 proposals per image, the first 1000 are
  kept (torchvision's test setting).
* RoIAlign over the FPN levels (``MultiScaleRoIAlign``): the level of each box is computed (LevelMapper:
  sqrt, log2, floor, clamp) but the boxes are assumed spread evenly over the 4 levels (a quarter each); the
  per-box cost of roi_align does not depend on the level.
* Detections: the score threshold (0.05) is assumed to pass one (box, class) candidate per proposal (the top
  1000 of the flattened scores); class-offset NMS (IoU 0.5) keeps at least ``detections_per_img`` = 100.
* The ResNet-50 body uses FrozenBatchNorm2d, as torchvision builds it with weights (NonGEMM Bench ran the
  pretrained models); weights=None would give BatchNorm2d.
* Mask R-CNN: masks stay 28 x 28 per detection; pasting them into the image (a resize per box, sized by the
  box) is not modelled.
"""
from __future__ import annotations

from typing import Any, Optional

DETECTION_MODELS = ("maskrcnn_resnet50_fpn", "fasterrcnn_resnet50_fpn")

#: torchvision's test-time settings of these detectors (torchvision.models.detection, RPN and RoIHeads).
PRE_NMS_TOP_N = 1000
POST_NMS_TOP_N = 1000
DETECTIONS = 100
RPN_IOU, BOX_IOU = 0.7, 0.5
#: torchvision's GeneralizedRCNNTransform resizes the short side to 800 px (min_size=800)
IMAGE_SIZE = 800

ASSUMPTIONS = (
    f"RPN keeps the top {PRE_NMS_TOP_N} anchors per FPN level and NMS (IoU {RPN_IOU}) keeps >= {POST_NMS_TOP_N} "
    f"proposals per image (first {POST_NMS_TOP_N} kept); no box removed as small",
    "RoIAlign: boxes spread evenly over the 4 FPN levels (levels computed, not used to split)",
    f"detections: the score threshold passes {POST_NMS_TOP_N} (box, class) candidates per image and NMS "
    f"(IoU {BOX_IOU}) keeps >= {DETECTIONS} (first {DETECTIONS} kept)",
    "ResNet-50 body with FrozenBatchNorm2d, as torchvision builds it with (pretrained) weights",
)
MASK_ASSUMPTION = "masks stay 28 x 28 per detection: pasting them into the image (per-box resize) not modelled"


def _fixed_nms(boxes, scores, groups, iou: float, keep: int):
    """torchvision's batched NMS (coordinate-offset form) with its data-dependent result cut to ``keep``
    indices, assuming at least ``keep`` survive (a torch._check tells torch.export so)."""
    import torch
    import torchvision

    offsets = groups.to(boxes) * (boxes.max() + 1)
    kept = torchvision.ops.nms(boxes + offsets[:, None], scores, iou)
    n = min(keep, boxes.shape[0])
    torch._check(kept.shape[0] >= n)
    return kept.narrow(0, 0, n)


def _roi_align_levels(pool, features: dict, rois, image_size: tuple[int, int], out: int):
    """MultiScaleRoIAlign with the boxes split evenly over the levels (see the module notes)."""
    import torch
    import torchvision

    names = [k for k in pool.featmap_names]
    feats = [features[k] for k in names]
    if pool.scales is None or pool.map_levels is None:
        pool.scales, pool.map_levels = _setup_scales(feats, image_size)
    boxes = torch.cat([torch.zeros_like(rois[:, :1]), rois], dim=1)
    pool.map_levels([rois])                              # the per-box level arithmetic of the real module
    parts, n, lv = [], rois.shape[0], len(feats)
    for i, (f, scale) in enumerate(zip(feats, pool.scales)):
        lo, hi = n * i // lv, n * (i + 1) // lv
        if hi > lo:
            parts.append(torchvision.ops.roi_align(f, boxes[lo:hi], (out, out), spatial_scale=scale,
                                                   sampling_ratio=pool.sampling_ratio, aligned=False))
    return torch.cat(parts, dim=0)


def _setup_scales(feats, image_size):
    from torchvision.ops.poolers import _infer_scale, initLevelMapper

    scales = [_infer_scale(f, list(image_size)) for f in feats]
    import math
    lvl_min, lvl_max = -math.log2(scales[0]), -math.log2(scales[-1])
    return scales, initLevelMapper(int(lvl_min), int(lvl_max))


def _fixed_rcnn_class():
    import torch

    class FixedRCNN(torch.nn.Module):
        """A torchvision R-CNN's inference on a [1, 3, H, W] image with fixed selection sizes (module notes)."""

        def __init__(self, model) -> None:
            super().__init__()
            self.model = model

        def forward(self, images):
            m = self.model
            image_list, _ = m.transform(list(images.unbind(0)))
            size = tuple(image_list.tensors.shape[-2:])
            features = m.backbone(image_list.tensors)
            proposals = self.rpn(image_list, features)
            rh = m.roi_heads
            x = rh.box_head(_roi_align_levels(rh.box_roi_pool, features, proposals, size, 7))
            logits, deltas = rh.box_predictor(x)
            boxes, labels = self.detections(logits, deltas, proposals, size)
            if getattr(rh, "mask_head", None) is None:
                return boxes, labels
            masks = rh.mask_predictor(rh.mask_head(_roi_align_levels(rh.mask_roi_pool, features, boxes, size, 14)))
            probs = masks.sigmoid()
            picked = probs[torch.arange(probs.shape[0], device=probs.device), labels][:, None]
            return boxes, labels, picked

        def rpn(self, image_list, features):
            rpn = self.model.rpn
            feats = list(features.values())
            objectness, deltas = rpn.head(feats)
            anchors = rpn.anchor_generator(image_list, feats)
            per_level = [o[0].numel() for o in objectness]
            from torchvision.models.detection.rpn import concat_box_prediction_layers
            objectness, deltas = concat_box_prediction_layers(objectness, deltas)
            boxes = rpn.box_coder.decode(deltas, anchors).view(-1, 4)
            scores = objectness.view(-1)
            picked, levels, start = [], [], 0
            for lvl, n in enumerate(per_level):
                k = min(PRE_NMS_TOP_N, n)
                top = scores[start:start + n].topk(k).indices + start
                picked.append(top)
                levels.append(torch.full((k,), lvl, dtype=torch.int64, device=scores.device))
                start += n
            idx = torch.cat(picked)
            boxes, scores, levels = boxes[idx], scores[idx].sigmoid(), torch.cat(levels)
            from torchvision.ops import boxes as box_ops
            boxes = box_ops.clip_boxes_to_image(boxes, image_list.image_sizes[0])
            keep = _fixed_nms(boxes, scores, levels, RPN_IOU, POST_NMS_TOP_N)
            return boxes[keep]

        def detections(self, logits, deltas, proposals, size):
            rh = self.model.roi_heads
            from torchvision.ops import boxes as box_ops
            classes = logits.shape[-1]
            boxes = rh.box_coder.decode(deltas, [proposals]).view(-1, classes, 4)
            boxes = box_ops.clip_boxes_to_image(boxes, size)
            scores = torch.nn.functional.softmax(logits, -1)
            labels = torch.arange(classes, device=logits.device).view(1, -1).expand_as(scores)
            boxes, scores, labels = boxes[:, 1:].reshape(-1, 4), scores[:, 1:].reshape(-1), labels[:, 1:].reshape(-1)
            top = scores.topk(min(POST_NMS_TOP_N, scores.shape[0])).indices
            boxes, scores, labels = boxes[top], scores[top], labels[top]
            keep = _fixed_nms(boxes, scores, labels, BOX_IOU, DETECTIONS)
            return boxes[keep], labels[keep]

    return FixedRCNN


def _freeze_batch_norms(module) -> None:
    """BatchNorm2d -> FrozenBatchNorm2d in the ResNet body, as torchvision builds it with (pretrained) weights
    (``norm_layer = FrozenBatchNorm2d if is_trained``) and as NonGEMM Bench profiles it: same shapes."""
    import torch
    from torchvision.ops.misc import FrozenBatchNorm2d

    for name, child in list(module.named_children()):
        if isinstance(child, torch.nn.BatchNorm2d):
            setattr(module, name, FrozenBatchNorm2d(child.num_features, eps=child.eps))
        else:
            _freeze_batch_norms(child)


def build_detection(name: str, *, batch: int, image_size: Optional[int],
                    device: Optional[str] = "meta") -> tuple[Any, tuple, list[str]]:
    """``(FixedRCNN module, (image,), notes)`` for a torchvision detector (weights=None, no download)."""
    import torch
    import torchvision

    from cimscope.errors import InputError
    if batch != 1:
        raise InputError(f"{name}: batch {batch} is not supported (the detectors are exported per image); "
                         f"valid: --batch 1")
    size = image_size or IMAGE_SIZE
    dev = device or "cpu"
    with torch.device(dev):
        model = torchvision.models.get_model(name, weights=None, weights_backbone=None).eval()
        _freeze_batch_norms(model.backbone.body)
        image = torch.rand(1, 3, size, size, device=dev)
    # the transform resizes the short side to min_size (800): a given --image-size is the size it works at
    model.transform.min_size = (size,)
    model.transform.max_size = max(int(model.transform.max_size), size)
    notes = list(ASSUMPTIONS) + ([MASK_ASSUMPTION] if getattr(model.roi_heads, "mask_head", None) is not None else [])
    return _fixed_rcnn_class()(model).eval(), (image,), notes
