"""Which AP algorithm runs a NonGEMM operator.

Operator names come from the workloads taxonomy (:func:`cimscope.workloads.taxonomy.base_name`: the spelling an
operator has in torch.export, torch.fx or the profiler reduced to its base name, ``aten.relu_.default`` ->
``relu``); classes come from the taxonomy too (``Op.op_class``, set by the lowering with
:func:`~cimscope.workloads.taxonomy.classify`). This module adds only what the AP mapping needs on top: the
AP algorithm family of each base name, matched exactly (never by substring: ``leaky_relu`` is not ``relu``,
``hardsigmoid`` is not ``sigmoid``). Every name listed here is one the taxonomy knows (a test checks it).
"""
from __future__ import annotations

from typing import Optional

from cimscope.ir import Op
from cimscope.workloads.taxonomy import base_name

#: AP algorithm family -> the taxonomy base names it runs.
FAMILIES: dict[str, tuple[str, ...]] = {
    "relu": ("relu",),
    "clamp": ("relu6", "hardtanh", "clamp", "clip"),
    "lut": ("gelu", "silu", "sigmoid", "tanh", "hardswish", "hardsigmoid", "exp", "log", "rsqrt", "sqrt", "pow",
            "erf", "softplus", "elu", "leaky_relu", "mish", "reciprocal", "sin", "cos"),
    "add": ("add", "sub", "rsub"),
    "mul": ("mul",),
    "div": ("div",),
    "reduce": ("mean", "sum", "amax", "max", "min"),
    "identity": ("dropout", "identity", "alias", "detach", "clone", "contiguous", "to", "copy"),
    "batch_norm": ("batch_norm", "native_batch_norm", "_native_batch_norm_legit",
                   "_native_batch_norm_legit_no_training", "_native_batch_norm_legit_functional",
                   "cudnn_batch_norm", "miopen_batch_norm", "_batch_norm_no_update", "_batch_norm_with_update",
                   "_batch_norm_impl_index"),
    "softmax": ("softmax", "_softmax", "_safe_softmax", "_masked_softmax", "log_softmax", "_log_softmax"),
    "max_pool": ("max_pool1d", "max_pool2d", "max_pool3d", "max_pool2d_with_indices", "max_pool3d_with_indices",
                 "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d", "mkldnn_max_pool2d"),
}

#: Unary operators that work in place on rows a preceding operator left in the CAPs (no data movement).
UNARY_FUSABLE: tuple[str, ...] = ("relu", "relu6", "hardtanh", "gelu", "silu", "sigmoid", "tanh", "hardswish",
                                  "hardsigmoid") + FAMILIES["batch_norm"]

_FAMILY_OF = {name: fam for fam, names in FAMILIES.items() for name in names}


def operator_name(op: Op) -> str:
    """The taxonomy base name of an operator (``aten.add.Tensor`` -> ``add``)."""
    return base_name(op.target)


def family(op: Op) -> Optional[str]:
    """The AP algorithm family of ``op`` (a key of :data:`FAMILIES`), or None."""
    return _FAMILY_OF.get(operator_name(op))


def is_max_pool(op: Op) -> bool:
    """A pooling operator that takes the maximum (the lowering records ``attrs['pool']``; else by name)."""
    recorded = op.attrs.get("pool")
    return recorded == "max" if recorded in ("max", "avg") else family(op) == "max_pool"


def is_unary_fusable(op: Op) -> bool:
    return not op.is_gemm and operator_name(op) in UNARY_FUSABLE


def keeps_result_resident(op: Op) -> bool:
    """An elementwise add/sub/mul leaves its result in CAP rows (a following unary operator fuses onto it)."""
    return op.op_class == "arithmetic" and family(op) in ("add", "mul")
