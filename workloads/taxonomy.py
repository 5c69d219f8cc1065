"""Operator taxonomy: which class (GEMM or a NonGEMM class of NonGEMM Bench) an operator belongs to, and how
many arithmetic operations one element of it costs.

The classes are those of NonGEMM Bench (R. Karami et al., arXiv 2404.11788), copied from
/work/shared/reference/nongemm_taxonomy.yaml into ``data/nongemm_taxonomy.yaml`` and extended there with the
spellings operators take in torch.export (core ATen), the profiler and torch.fx graphs.

>>> classify("aten.addmm.default")
('GEMM', True)
>>> classify("aten::relu_")
('activation', True)
>>> classify("aten._native_batch_norm_legit_no_training.default")
('normalization', True)
>>> classify("my_custom_op")
('other', False)
"""
from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any, Optional, Sequence

import yaml

from cimscope.ir import GEMM, NONGEMM_CLASSES

DATA_FILE = Path(__file__).with_name("data") / "nongemm_taxonomy.yaml"

#: Overload names used by ATen (the part after the last dot of "aten.add.Tensor"). A trailing component that is
#: one of these, or that starts with an upper-case letter (Tensor, Scalar ...), is an overload, not a name.
_OVERLOADS = {
    "default", "Tensor", "Scalar", "int", "dim", "dims", "dim_IntList", "using_ints", "vec", "self", "out",
    "input", "other", "Tensor_Tensor", "Tensor_Scalar", "Scalar_Tensor", "Tensor_mode", "start", "start_step",
    "names", "correction", "memory_format", "dtype", "dtype_layout", "device", "prim_dtype", "sizes",
    "int_out", "str", "values", "max", "min", "t", "bool", "float", "complex", "SymInt", "padding",
    "Dimname", "mode", "source", "list", "axis", "tensor", "value", "true_divide", "ScalarOpt", "OptionalIntList",
}
_NAMESPACES = ("aten", "prims", "torch", "nn", "functional", "F", "Tensor", "operator", "_ops", "quantized",
               "quantized_decomposed", "_refs")


@functools.lru_cache(maxsize=1)
def load_taxonomy() -> dict[str, Any]:
    """The taxonomy file as a dict (cached)."""
    with open(DATA_FILE, encoding="utf-8") as f:
        return yaml.safe_load(f)


@functools.lru_cache(maxsize=1)
def _table() -> dict[str, str]:
    tax = load_taxonomy()
    table: dict[str, str] = {}
    for name in tax["gemm"]:
        table[name] = GEMM
    for cls, names in tax["nongemm_classes"].items():
        if cls not in NONGEMM_CLASSES:
            raise ValueError(f"{DATA_FILE}: class {cls!r} is not one of {', '.join(NONGEMM_CLASSES)}")
        for name in names:
            table[name] = cls
    for cls, names in tax["aten_spellings"].items():
        if cls != GEMM and cls not in NONGEMM_CLASSES:
            raise ValueError(f"{DATA_FILE}: class {cls!r} is not GEMM or one of {', '.join(NONGEMM_CLASSES)}")
        for name in names:
            table.setdefault(name, cls)
    return table


def base_name(target: str) -> str:
    """Reduce an operator spelling to its base name.

    ``"aten.addmm.default"`` -> ``"addmm"``, ``"aten::relu_"`` -> ``"relu"``, ``"aten.mean.dim"`` -> ``"mean"``,
    ``"aten::max"`` -> ``"max"``, ``"torchvision.roi_align.default"`` -> ``"roi_align"``,
    ``"torch.nn.functional.relu"`` -> ``"relu"``, ``"<built-in function add>"`` -> ``"add"``,
    ``"nn.Conv2d"`` -> ``"conv2d"``, ``"aten::__and__"`` -> ``"__and__"``.

    Only the third component of a three-part ``namespace.name.overload`` spelling (torch.export's, for every
    operator namespace: aten, torchvision, transformers ...) is an overload; a profiler spelling
    ``namespace::name`` has none (``aten::max``, ``aten::t`` are the operators max and t).
    """
    s = str(target).strip()
    m = re.match(r"<(?:built-in )?(?:function|method) (\w+)", s)
    if m:
        s = m.group(1)
    profiler = "::" in s
    s = s.replace("::", ".")
    parts = [p for p in s.split(".") if p]
    if not parts:
        return ""
    if not profiler and len(parts) == 3 and parts[0] not in ("torch", "nn", "F", "operator", "_operator") \
            and (parts[-1] in _OVERLOADS or parts[-1][:1].isupper()):
        parts = parts[:-1]                        # namespace.name.overload
    while len(parts) > 1 and parts[0] in _NAMESPACES + ("modules",):
        parts = parts[1:]
    # module paths such as torch.nn.modules.conv.Conv2d: keep the class name
    name = parts[-1]
    if name[:1].isupper():                        # an nn.Module class name, e.g. Conv2d, ReLU, LayerNorm
        name = _camel_to_snake(name)
    if name in _PY_OPERATORS:                   # the operator module: <built-in function iand>, and_
        return _PY_OPERATORS[name]
    # in-place / out variants: relu_ -> relu, add_ -> add (but keep leading underscores: _softmax)
    if name.endswith("_") and not name.endswith("__"):
        name = name[:-1]
    if name.startswith("__") and name.endswith("__"):   # operator.__add__ / __iadd__; aten::__and__ stays
        inner = name.strip("_")
        if inner in _DUNDER_KEPT:
            return name
        if inner.startswith("i") and inner[1:] in ("add", "sub", "mul", "truediv", "floordiv", "and", "or", "xor"):
            inner = inner[1:]
            if inner in _DUNDER_KEPT:
                return f"__{inner}__"
        name = {"truediv": "div", "floordiv": "floor_divide", "matmul": "matmul", "getitem": "getitem",
                "invert": "bitwise_not"}.get(inner, inner)
    return name


#: Functions of Python's operator module (as torch.fx records them) -> the ATen operator they are.
_PY_OPERATORS = {"and_": "__and__", "or_": "__or__", "xor": "__xor__", "iand": "__and__", "ior": "__or__",
                 "ixor": "__xor__", "iadd": "add", "isub": "sub", "imul": "mul", "itruediv": "div",
                 "truediv": "div", "floordiv": "floor_divide", "ifloordiv": "floor_divide", "invert": "bitwise_not",
                 "inv": "bitwise_not"}

#: Python operator dunders ATen keeps as operator names (aten::__and__ ...): their base name is the dunder.
_DUNDER_KEPT = ("and", "or", "xor", "lshift", "rshift")


_MODULE_NAMES = {
    "conv1d": "conv1d", "conv2d": "conv2d", "conv3d": "conv3d", "linear": "linear", "re_lu": "relu",
    "re_lu6": "relu6", "gelu": "gelu", "si_lu": "silu", "hardswish": "hardswish", "hardsigmoid": "hardsigmoid",
    "hardtanh": "hardtanh", "leaky_re_lu": "leaky_relu", "el_u": "elu", "se_lu": "selu", "batch_norm1d": "batch_norm",
    "batch_norm2d": "batch_norm", "batch_norm3d": "batch_norm", "layer_norm": "layer_norm", "group_norm": "group_norm",
    "rms_norm": "rms_norm", "max_pool1d": "max_pool1d", "max_pool2d": "max_pool2d", "avg_pool2d": "avg_pool2d",
    "adaptive_avg_pool2d": "adaptive_avg_pool2d", "embedding": "embedding", "dropout": "dropout",
    "softmax": "softmax", "log_softmax": "log_softmax", "flatten": "flatten", "identity": "identity",
    "upsample": "upsample_nearest2d", "multihead_attention": "multi_head_attention_forward",
    "p_re_lu": "prelu", "instance_norm2d": "instance_norm", "conv_transpose2d": "conv_transpose2d",
}


def _camel_to_snake(name: str) -> str:
    snake = re.sub(r"(?<!^)(?=[A-Z][a-z])", "_", name)
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", snake).lower()
    return _MODULE_NAMES.get(snake, snake)


def classify(target: str) -> tuple[str, bool]:
    """Class of an operator and whether the taxonomy knows it.

    Accepts ATen overload names (``"aten.addmm.default"``), profiler names (``"aten::addmm"``,
    ``"aten::relu_"``), plain names (``"relu"``), torch function paths and nn.Module class names.
    Returns ``(class, known)``; an operator the taxonomy does not know is ``("other", False)``.
    """
    table = _table()
    name = base_name(target)
    if name in table:
        return table[name], True
    # variants that share a spelling stem: *_copy (functionalised views), *_backward never occurs in inference
    for stem in (name.removesuffix("_copy"), name.lstrip("_"), name.removesuffix("_with_indices")):
        if stem in table:
            return table[stem], True
    return "other", False


@functools.lru_cache(maxsize=1)
def _composites() -> dict[str, str]:
    table: dict[str, str] = {}
    for cls, names in load_taxonomy().get("composite_modules", {}).items():
        if cls not in NONGEMM_CLASSES:
            raise ValueError(f"{DATA_FILE}: composite class {cls!r} is not one of {', '.join(NONGEMM_CLASSES)}")
        for name in names:
            table[name] = cls
    return table


def composite_class(module_class: str) -> Optional[str]:
    """NonGEMM class of a module NonGEMM Bench profiles as one operator (``composite_modules`` of the taxonomy
    file, matched by class name, qualified or not), else None.

    >>> composite_class("transformers.models.llama.modeling_llama.LlamaRMSNorm")
    'normalization'
    """
    return _composites().get(str(module_class).rsplit(".", 1)[-1])


def composite_owner(stack: Sequence[tuple[str, str]]) -> Optional[tuple[str, str, str]]:
    """The outermost composite module of a module stack (``[(path, class), ...]``, outermost first) as
    ``(NonGEMM class, module class name, module path)``, or None when no module of the stack is composite."""
    for path, cls in stack:
        owner_cls = composite_class(cls)
        if owner_cls is not None:
            return owner_cls, str(cls).rsplit(".", 1)[-1], str(path)
    return None


def ops_per_element(key: str) -> tuple[float, str]:
    """Arithmetic per element for an ``ops_per_element`` key of the taxonomy file, with its formula."""
    table = load_taxonomy()["ops_per_element"]
    if key in table:
        return float(table[key]["ops"]), str(table[key]["formula"])
    return float(table["other"]["ops"]), str(table["other"]["formula"])


def has_ops_per_element(key: str) -> bool:
    return key in load_taxonomy()["ops_per_element"]


def known_names() -> list[str]:
    """Every base name the taxonomy knows."""
    return sorted(_table())
