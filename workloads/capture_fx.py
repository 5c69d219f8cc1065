"""The torch.fx fallback of capture: ``symbolic_trace`` + ``ShapeProp``, with leaf modules (Conv2d, Linear,
BatchNorm2d, MultiheadAttention ...) and torch functions rewritten to the ATen spellings and argument order
torch.export produces, so one lowering serves both captures."""
from __future__ import annotations

import contextlib
import io
import operator
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from cimscope.workloads.capture_records import (RESULT_FIELDS, Captured, NodeRecord, TArg, convert_args, flatten,
                                                module_of, module_stack, ntuple, outputs_from_value,
                                                targ_from_value, use_output)
from cimscope.workloads.taxonomy import composite_owner


@dataclass
class _FxWalk:
    """What the walk over a traced graph has built so far: each node's value (a TArg, a list of them for a
    multi-result op, or None), the records, the records by node name, and the skipped node counts."""

    gm: Any
    modules: dict[str, Any]
    values: dict[str, Any] = field(default_factory=dict)
    records: list[NodeRecord] = field(default_factory=list)
    by_name: dict[str, NodeRecord] = field(default_factory=dict)
    skipped: Counter = field(default_factory=Counter)

    def producer(self, node) -> Any:
        """The value of ``node.args[0]`` when it is a graph node (None otherwise)."""
        import torch.fx
        return self.values.get(node.args[0].name) if isinstance(node.args[0], torch.fx.Node) else None


def capture_fx(module, inputs: tuple) -> Captured:
    import torch
    import torch.fx
    from torch.fx.passes.shape_prop import ShapeProp

    gm = torch.fx.symbolic_trace(module)
    # ShapeProp prints the traceback of a failing node to sys.stderr itself; capture() reports it once
    with torch.no_grad(), contextlib.redirect_stderr(io.StringIO()):
        ShapeProp(gm).propagate(*inputs)
    walk = _FxWalk(gm, dict(gm.named_modules()))
    for node in gm.graph.nodes:
        _visit(walk, node)
    for rec in walk.records:              # multi-output ops nobody unpacks: count the first result
        if rec.used_outputs == []:
            rec.used_outputs = [0]
    return Captured("torch.fx", walk.records, skipped=dict(walk.skipped))


def _meta_out(node, source):
    return outputs_from_value(node.meta.get("tensor_meta"), source, node.name)


def _param(mod, attr, path) -> Optional[TArg]:
    """The parameter or buffer ``attr`` of ``mod`` as a static operand (None when absent or not a tensor)."""
    import torch
    t = getattr(mod, attr, None)
    if t is None or not isinstance(t, torch.Tensor):
        return None
    src = "param" if isinstance(t, torch.nn.Parameter) else "buffer"
    return targ_from_value(t, src, f"{path}.{attr}" if path else attr)


def _visit(walk: _FxWalk, node) -> None:
    """One graph node: inputs and constants become values; a call becomes a record in ATen spelling."""
    if node.op == "placeholder":
        outs = _meta_out(node, "input")
        walk.values[node.name] = outs[0] if len(outs) == 1 else outs
        return
    if node.op == "output":
        return
    if node.op == "get_attr":
        _visit_get_attr(walk, node)
        return
    args = convert_args(tuple(node.args), walk.values)
    kwargs = convert_args(dict(node.kwargs), walk.values)
    call = _aten_call(walk, node, args, kwargs)
    if call is not None:
        _record_call(walk, node, *call)


def _visit_get_attr(walk: _FxWalk, node) -> None:
    import torch
    obj = walk.gm
    for part in str(node.target).split("."):
        obj = getattr(obj, part, None)
    if isinstance(obj, torch.Tensor):
        src = "param" if isinstance(obj, torch.nn.Parameter) else "buffer"
        walk.values[node.name] = targ_from_value(obj, src, str(node.target))
    walk.skipped["get_attr"] += 1


def _aten_call(walk: _FxWalk, node, args, kwargs) -> Optional[tuple[str, Any, Any]]:
    """The ATen (target, args, kwargs) of a call node, or None when the node was handled here (a result
    field, a tuple unpacking, a tensor attribute, nn.MultiheadAttention) or skipped."""
    import torch
    if node.op == "call_function" and node.target is getattr and len(node.args) == 2:
        if _visit_attribute(walk, node):
            return None
    if node.op == "call_function" and node.target is operator.getitem:
        return _getitem_call(walk, node)
    if node.op == "call_module" and isinstance(walk.modules[node.target], torch.nn.MultiheadAttention):
        mod = walk.modules[node.target]
        outs = _meta_out(node, "act")
        cls = f"{type(mod).__module__}.{type(mod).__name__}"
        walk.records.extend(_fx_mha_records(node.name, str(node.target), cls, mod, args, kwargs, outs, _param))
        walk.values[node.name] = outs[0] if len(outs) == 1 else outs
        return None
    if node.op == "call_module":
        return _fx_module_call(walk.modules[node.target], str(node.target), args, kwargs, _param)
    if node.op == "call_function":
        return _fx_function_call(node.target, args, kwargs)
    # call_method: x.view(...), x.softmax(dim), x.mean(dim) ... take the ATen spelling
    return f"aten.{_FN_ALIASES.get(str(node.target), str(node.target))}.default", args, kwargs


def _visit_attribute(walk: _FxWalk, node) -> bool:
    """``getattr(x, name)``: a field of a multi-result op (x.max(dim).values) or a tensor attribute (x.T,
    x.mT, x.real: a view). False when it is neither (then it is an ordinary function call)."""
    pv = walk.producer(node)
    if isinstance(pv, list):
        idx = RESULT_FIELDS.get(str(node.args[1]))
        walk.values[node.name] = pv[idx] if idx is not None and idx < len(pv) else None
        use_output(walk.by_name.get(node.args[0].name), idx)
        walk.skipped["getattr"] += 1
        return True
    if not isinstance(pv, TArg):
        return False
    outs = _meta_out(node, pv.source if pv.is_static else "act")
    if outs and outs[0] is not None:
        walk.values[node.name] = outs[0]
        path, cls = module_of(node)
        walk.records.append(NodeRecord(node.name, "aten.alias.default", path, cls, (pv,), {}, outs))
    else:
        walk.skipped["getattr"] += 1
    return True


def _getitem_call(walk: _FxWalk, node) -> Optional[tuple[str, Any, Any]]:
    """``x[idx]``: unpacking a tuple result (handled here, None) or indexing a tensor (select or index)."""
    pv = walk.producer(node)
    idx = node.args[1]
    if isinstance(pv, list):
        walk.values[node.name] = pv[idx] if isinstance(idx, int) and idx < len(pv) else None
        use_output(walk.by_name.get(node.args[0].name), idx)
        walk.skipped["getitem"] += 1
        return None
    if not isinstance(pv, TArg):
        walk.skipped["getitem"] += 1
        return None
    basic = all(isinstance(i, (int, slice, type(None), type(Ellipsis)))
                for i in (idx if isinstance(idx, tuple) else (idx,)))
    return ("aten.select.int" if basic else "aten.index.Tensor"), (pv,), {}


def _record_call(walk: _FxWalk, node, target, args, kwargs) -> None:
    """Record a call with its outputs from the shape propagation (skipped when it has none) and the module
    stack that owns it."""
    tensor_ins = [a for a in flatten(list(args) + list(kwargs.values())) if isinstance(a, TArg)]
    out_source = "act" if any(not a.is_static for a in tensor_ins) else "const"
    outs = _meta_out(node, out_source)
    if not any(o is not None for o in outs):
        walk.skipped[str(target)] += 1
        return
    walk.values[node.name] = outs[0] if len(outs) == 1 else outs
    stack = module_stack(node)
    if node.op == "call_module":
        mod = walk.modules[node.target]
        path, cls = str(node.target), f"{type(mod).__module__}.{type(mod).__name__}"
        stack = stack + [(path, cls)]
    else:
        path, cls = module_of(node)
    walk.records.append(NodeRecord(node.name, str(target), path, cls, tuple(args), dict(kwargs), outs,
                                   used_outputs=None if len(outs) == 1 else [], owner=composite_owner(stack)))
    walk.by_name[node.name] = walk.records[-1]


def _fx_mha_records(name, path, cls, mod, args, kwargs, outs, param) -> list[NodeRecord]:
    """nn.MultiheadAttention (a leaf module under torch.fx) as what it computes: the Q/K/V input projection
    (one linear of width 3E for self-attention), scaled dot-product attention, and the output projection."""
    query = args[0] if len(args) > 0 else kwargs.get("query")
    key = args[1] if len(args) > 1 else kwargs.get("key", query)
    value = args[2] if len(args) > 2 else kwargs.get("value", key)
    out = outs[0] if outs and outs[0] is not None else None
    if not all(isinstance(t, TArg) for t in (query, key, value)) or out is None:
        raise ValueError(f"{path}: MultiheadAttention operands are not tensors")
    E, H = mod.embed_dim, mod.num_heads
    hd = E // H
    bf = bool(getattr(mod, "batch_first", False))
    if len(query.shape) == 3:
        n, L = (query.shape[0], query.shape[1]) if bf else (query.shape[1], query.shape[0])
        S = key.shape[1] if bf else key.shape[0]
    else:                                                # unbatched [L, E]
        n, L, S = 1, query.shape[0], key.shape[0]
    act = lambda shp, nm: TArg(tuple(shp), query.dtype, query.is_float, query.bits, "act", nm)  # noqa: E731
    recs: list[NodeRecord] = []
    same = query.name == key.name == value.name and getattr(mod, "_qkv_same_embed_dim", True)
    if same and mod.in_proj_weight is not None:
        w = param(mod, "in_proj_weight", path)
        b = param(mod, "in_proj_bias", path)
        recs.append(NodeRecord(f"{name}.in_proj", "aten.linear.default", path, cls, (query, w, b), {},
                               [act(query.shape[:-1] + (3 * E,), f"{name}.in_proj")]))
    else:
        for part, x, attr in (("q", query, "q_proj_weight"), ("k", key, "k_proj_weight"),
                              ("v", value, "v_proj_weight")):
            w = param(mod, attr, path)
            if w is None:                                 # packed in_proj_weight: a [E, E] slice of it
                w = TArg((E, E), query.dtype, query.is_float, query.bits, "param", f"{path}.in_proj_weight")
            recs.append(NodeRecord(f"{name}.{part}_proj", "aten.linear.default", path, cls, (x, w, None), {},
                                   [act(x.shape[:-1] + (E,), f"{name}.{part}_proj")]))
    q = act((n, H, L, hd), f"{name}.q")
    k = act((n, H, S, hd), f"{name}.k")
    v = act((n, H, S, hd), f"{name}.v")
    mask = kwargs.get("attn_mask")
    recs.append(NodeRecord(f"{name}.attention", "aten.scaled_dot_product_attention.default", path, cls,
                           (q, k, v, mask if isinstance(mask, TArg) else None), {"is_causal": bool(kwargs.get("is_causal", False))},
                           [act((n, H, L, hd), f"{name}.attention")]))
    ow, ob = param(mod.out_proj, "weight", path + ".out_proj"), param(mod.out_proj, "bias", path + ".out_proj")
    recs.append(NodeRecord(f"{name}.out_proj", "aten.linear.default", path + ".out_proj", cls,
                           (act((n * L, E), f"{name}.attention"), ow, ob), {}, [out]))
    return recs


def _fx_module_call(mod, path, args, kwargs, param):
    """Rewrite a leaf-module call to the ATen spelling and argument order torch.export would produce."""
    import torch.nn as nn

    x = args[0] if args else None
    P = lambda attr: param(mod, attr, path)  # noqa: E731
    if isinstance(mod, nn.modules.conv._ConvNd):
        nd = len(mod.kernel_size)
        transposed = isinstance(mod, nn.modules.conv._ConvTransposeNd)
        padding = mod.padding if isinstance(mod.padding, str) else ntuple(mod.padding, nd)
        return "aten.convolution.default", (x, P("weight"), P("bias"), ntuple(mod.stride, nd), padding,
                                            ntuple(mod.dilation, nd), transposed,
                                            ntuple(mod.output_padding, nd), int(mod.groups)), {}
    if isinstance(mod, nn.Linear):
        return "aten.linear.default", (x, P("weight"), P("bias")), {}
    if isinstance(mod, nn.modules.batchnorm._BatchNorm):
        return "aten._native_batch_norm_legit_no_training.default", (
            x, P("weight"), P("bias"), P("running_mean"), P("running_var"), mod.momentum, mod.eps), {}
    if isinstance(mod, nn.LayerNorm):
        return "aten.native_layer_norm.default", (x, list(mod.normalized_shape), P("weight"), P("bias"),
                                                  mod.eps), {}
    if isinstance(mod, nn.GroupNorm):
        return "aten.native_group_norm.default", (x, P("weight"), P("bias"), None, mod.num_channels, None,
                                                  mod.num_groups, mod.eps), {}
    if hasattr(nn, "RMSNorm") and isinstance(mod, nn.RMSNorm):
        return "aten.rms_norm.default", (x, list(mod.normalized_shape), P("weight"), mod.eps), {}
    if isinstance(mod, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)):
        nd = {nn.MaxPool1d: 1, nn.MaxPool2d: 2, nn.MaxPool3d: 3}[type(mod)]
        k = ntuple(mod.kernel_size, nd)
        s = ntuple(mod.stride if mod.stride is not None else mod.kernel_size, nd)
        return f"aten.max_pool{nd}d_with_indices.default", (x, k, s, ntuple(mod.padding, nd),
                                                            ntuple(mod.dilation, nd), mod.ceil_mode), {}
    if isinstance(mod, (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)):
        nd = {nn.AvgPool1d: 1, nn.AvgPool2d: 2, nn.AvgPool3d: 3}[type(mod)]
        k = ntuple(mod.kernel_size, nd)
        s = ntuple(mod.stride if mod.stride is not None else mod.kernel_size, nd)
        return f"aten.avg_pool{nd}d.default", (x, k, s, ntuple(mod.padding, nd), mod.ceil_mode,
                                               mod.count_include_pad, getattr(mod, "divisor_override", None)), {}
    if isinstance(mod, (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d)):
        nd = {nn.AdaptiveAvgPool1d: 1, nn.AdaptiveAvgPool2d: 2, nn.AdaptiveAvgPool3d: 3}[type(mod)]
        return f"aten.adaptive_avg_pool{nd}d.default", (x, mod.output_size), {}
    if isinstance(mod, (nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)):
        nd = {nn.AdaptiveMaxPool1d: 1, nn.AdaptiveMaxPool2d: 2, nn.AdaptiveMaxPool3d: 3}[type(mod)]
        return f"aten.adaptive_max_pool{nd}d.default", (x, mod.output_size), {}
    if isinstance(mod, nn.Softmax):
        return "aten._softmax.default", (x, mod.dim if mod.dim is not None else -1, False), {}
    if isinstance(mod, nn.LogSoftmax):
        return "aten._log_softmax.default", (x, mod.dim if mod.dim is not None else -1, False), {}
    if isinstance(mod, nn.Embedding):
        return "aten.embedding.default", (P("weight"), x), {}
    if isinstance(mod, (nn.Flatten, nn.Unflatten)):
        return "aten.view.default", (x,), {}
    if isinstance(mod, (nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout)):
        return "aten.alias.default", (x,), {}      # identity in inference: a view that moves nothing
    if isinstance(mod, nn.GELU):
        return "aten.gelu.default", (x,), {"approximate": mod.approximate}
    if isinstance(mod, (nn.ReLU6,)):
        return "aten.hardtanh.default", (x, 0.0, 6.0), {}
    if isinstance(mod, nn.Hardtanh):
        return "aten.hardtanh.default", (x, mod.min_val, mod.max_val), {}
    if isinstance(mod, nn.MultiheadAttention):
        return "aten.multi_head_attention_forward.default", tuple(args), dict(kwargs)
    if isinstance(mod, (nn.Upsample,)):
        return _upsample_target(mod.mode, x), (x,), {}
    from cimscope.workloads.taxonomy import base_name
    name = base_name(type(mod).__name__)
    params = [P(n) for n, _ in mod.named_parameters(recurse=False)]
    return f"aten.{name}.default", tuple(args) + tuple(p for p in params if p is not None), dict(kwargs)


def _upsample_target(mode: str, x: Any) -> str:
    """The ATen op torch.export shows for an ``nn.Upsample``/``F.interpolate`` of ``mode`` on ``x``."""
    nd = len(x.shape) - 2 if isinstance(x, TArg) else 2
    if mode == "area":                                   # interpolate's area mode is adaptive average pooling
        return f"aten.adaptive_avg_pool{nd}d.default"
    if mode == "nearest-exact":
        return f"aten._upsample_nearest_exact{nd}d.vec"
    name = {"bilinear": "upsample_bilinear", "bicubic": "upsample_bicubic", "linear": "upsample_linear",
            "trilinear": "upsample_trilinear"}.get(mode, "upsample_nearest")
    return f"aten.{name}{nd}d.vec"


_FN_ALIASES = {"conv1d": "convolution", "conv2d": "convolution", "conv3d": "convolution",
               "softmax": "_softmax", "log_softmax": "_log_softmax", "layer_norm": "native_layer_norm",
               "batch_norm": "_native_batch_norm_legit_no_training", "flatten": "view", "reshape": "view",
               "max_pool2d": "max_pool2d_with_indices", "max_pool1d": "max_pool1d_with_indices",
               "adaptive_avg_pool2d": "adaptive_avg_pool2d", "iadd": "add", "truediv": "div"}


#: Parameter names, in order, of torch functions whose arguments are bound by name (not normalize_function).
_CONV_PARAMS = ("input", "weight", "bias", "stride", "padding", "dilation", "groups")
_CONV_T_PARAMS = ("input", "weight", "bias", "stride", "padding", "output_padding", "groups", "dilation")
_FN_PARAMS = {
    **{f"conv{d}d": _CONV_PARAMS for d in (1, 2, 3)},
    **{f"conv_transpose{d}d": _CONV_T_PARAMS for d in (1, 2, 3)},
    "batch_norm": ("input", "running_mean", "running_var", "weight", "bias", "training", "momentum", "eps"),
    "group_norm": ("input", "num_groups", "weight", "bias", "eps"),
    "interpolate": ("input", "size", "scale_factor", "mode", "align_corners", "recompute_scale_factor",
                    "antialias"),
}


def _bind(names: Sequence[str], args: Sequence[Any], kwargs: dict) -> dict:
    """Positional ``args`` and ``kwargs`` of a call as one dict keyed by parameter name."""
    bound = dict(zip(names, args))
    bound.update({k: v for k, v in kwargs.items() if k in names})
    return bound


def _fx_function_call(fn, args, kwargs):
    """Spell a torch / functional / operator call as ATen and put its arguments in ATen order where lowering
    reads them (convolution, softmax, normalisation, pooling, reductions)."""
    import torch
    from torch.fx.operator_schemas import normalize_function
    from cimscope.workloads.taxonomy import base_name

    name = getattr(fn, "__name__", str(fn))
    base = base_name(name)
    norm = None
    try:
        norm = normalize_function(fn, args, kwargs, normalize_to_only_use_kwargs=True)
    except Exception:
        norm = None
    kw = dict(norm.kwargs) if norm is not None else {}
    if base in _FN_PARAMS:
        # bound by parameter name: normalize_function cannot tell conv2d's two schemas (padding int/str) apart,
        # and these functions' positional order differs from the ATen op they are spelled as
        kw = _bind(_FN_PARAMS[base], args, kwargs)
        if base.startswith("conv"):
            nd, transposed = int(base[-2]), base.startswith("conv_transpose")
            padding = kw.get("padding") or 0
            padding = padding if isinstance(padding, str) else ntuple(padding, nd)
            return "aten.convolution.default", (kw["input"], kw["weight"], kw.get("bias"),
                                                ntuple(kw.get("stride") or 1, nd), padding,
                                                ntuple(kw.get("dilation") or 1, nd), transposed,
                                                ntuple(kw.get("output_padding") or 0, nd),
                                                int(kw.get("groups") or 1)), {}
        if base == "batch_norm":
            return "aten._native_batch_norm_legit_no_training.default", (
                kw["input"], kw.get("weight"), kw.get("bias"), kw.get("running_mean"), kw.get("running_var"),
                kw.get("momentum", 0.1), kw.get("eps", 1e-5)), {}
        if base == "interpolate":
            return _upsample_target(kw.get("mode") or "nearest", kw["input"]), (kw["input"],), {}
        if base == "group_norm":
            x = kw["input"]
            return "aten.native_group_norm.default", (x, kw.get("weight"), kw.get("bias"), None,
                                                      x.shape[1] if isinstance(x, TArg) else None, None,
                                                      int(kw["num_groups"]), kw.get("eps", 1e-5)), {}
    if base in ("softmax", "log_softmax") and kw:
        return f"aten._{base}.default", (kw["input"], kw.get("dim", -1) if kw.get("dim") is not None else -1,
                                         False), {}
    if base == "layer_norm" and kw:
        return "aten.native_layer_norm.default", (kw["input"], list(kw["normalized_shape"]), kw.get("weight"),
                                                  kw.get("bias"), kw.get("eps", 1e-5)), {}
    if base in ("max_pool2d", "max_pool1d") and kw:
        nd = int(base[-2])
        k = ntuple(kw["kernel_size"], nd)
        s = ntuple(kw.get("stride") or kw["kernel_size"], nd)
        return f"aten.max_pool{nd}d_with_indices.default", (kw["input"], k, s, ntuple(kw.get("padding", 0), nd),
                                                            ntuple(kw.get("dilation", 1), nd),
                                                            kw.get("ceil_mode", False)), {}
    if base == "avg_pool2d" and kw:
        k = ntuple(kw["kernel_size"], 2)
        s = ntuple(kw.get("stride") or kw["kernel_size"], 2)
        return "aten.avg_pool2d.default", (kw["input"], k, s, ntuple(kw.get("padding", 0), 2),
                                           kw.get("ceil_mode", False), kw.get("count_include_pad", True),
                                           kw.get("divisor_override")), {}
    if base == "linear" and kw:
        return "aten.linear.default", (kw["input"], kw["weight"], kw.get("bias")), {}
    if base == "embedding" and kw:
        return "aten.embedding.default", (kw["weight"], kw["input"]), {}
    if base == "scaled_dot_product_attention" and kw:
        return "aten.scaled_dot_product_attention.default", (kw["query"], kw["key"], kw["value"],
                                                             kw.get("attn_mask")), \
            {"is_causal": kw.get("is_causal", False)}
    if base in ("dropout", "alpha_dropout", "feature_alpha_dropout", "dropout1d", "dropout2d") and kw \
            and not kw.get("training", True):
        return "aten.alias.default", (kw["input"],), {}          # identity in inference
    mod = getattr(fn, "__module__", "") or ""
    spelled = _FN_ALIASES.get(base, base)
    if base == "getitem":
        spelled = "select"
    if mod.startswith("torch") or mod in ("_operator", "operator", "builtins") or isinstance(fn, type(torch.add)):
        return f"aten.{spelled}.default", tuple(args), dict(kwargs)
    return f"{mod or 'python'}.{name}", tuple(args), dict(kwargs)      # a user function kept as a leaf
