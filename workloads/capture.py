"""Capture a PyTorch module as a flat list of operator records.

First choice: ``torch.export.export`` followed by ``run_decompositions`` with the default (core ATen) table,
minus the entries that would take recognisable compute apart (``linear``, ``scaled_dot_product_attention``,
``silu``, ``hardswish``, ``hardsigmoid``, ``adaptive_avg_pool2d``, ``rms_norm``); convolutions come out as
``aten.convolution``, batch norm as ``aten._native_batch_norm_legit_no_training``, softmax as
``aten._softmax`` (measured with torch 2.14.1). Fallback: ``torch.fx.symbolic_trace`` + ``ShapeProp``, with
leaf modules (Conv2d, Linear, BatchNorm2d ...) rewritten to the same ATen spellings and argument order, so one
lowering (``lower.py``) serves both.

If both fail, :class:`ExportError` names the construct (the exception and the user source line where it was
raised) and what to try.
"""
from __future__ import annotations

import contextlib
import contextvars
import io
import logging
import operator
import re
import sysconfig
import traceback
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional, Sequence

from cimscope.errors import ExportError, InputError
from cimscope.workloads.taxonomy import composite_owner

CAPTURE_MODES = ("auto", "export", "fx")

#: torch.export default decompositions that are NOT applied: these ops stay whole so that lowering sees a
#: linear layer / an attention / a pooling window rather than their pieces.
PRESERVED_OPS = ("linear.default", "scaled_dot_product_attention.default", "silu.default", "silu_.default",
                 "hardswish.default", "hardswish_.default", "hardsigmoid.default", "hardsigmoid_.default",
                 "adaptive_avg_pool2d.default", "rms_norm.default", "mish.default")


class DataDependentShapeError(RuntimeError):
    """torch.export produced a size that depends on tensor values: no fixed shape to cost."""


@dataclass
class TArg:
    """A tensor operand or result: its shape, dtype and where its value comes from."""

    shape: tuple[int, ...]
    dtype: str                     # "float32", "int64", "bool" ...
    is_float: bool
    bits: int                      # storage bits per element of the dtype
    source: str                    # "param" | "buffer" | "const" | "input" | "act"
    name: str = ""

    @property
    def numel(self) -> int:
        n = 1
        for s in self.shape:
            n *= int(s)
        return n

    @property
    def is_static(self) -> bool:
        """Known before inference (parameters, buffers, constants): a CiM array can hold it."""
        return self.source in ("param", "buffer", "const")


@dataclass
class NodeRecord:
    """One call of the captured graph, with ATen target spelling and tensors replaced by :class:`TArg`."""

    name: str
    target: str                    # e.g. "aten.convolution.default"
    module: str                    # nn_module_stack path, e.g. "layer1.0.conv1"
    module_class: str              # e.g. "torch.nn.modules.conv.Conv2d"
    args: tuple
    kwargs: dict
    outputs: list[Optional[TArg]]  # one per result; None where the result is not a tensor
    used_outputs: Optional[list[int]] = None   # results a later node reads (None: all)
    #: the composite module owning this node (taxonomy.composite_owner): (class, module class, module path)
    owner: Optional[tuple[str, str, str]] = None

    def tensor_args(self) -> list[TArg]:
        return [a for a in _flatten(self.args) if isinstance(a, TArg)] + \
               [a for a in _flatten(list(self.kwargs.values())) if isinstance(a, TArg)]

    def used_tensor_outputs(self) -> list[TArg]:
        idx = range(len(self.outputs)) if self.used_outputs is None else self.used_outputs
        return [self.outputs[i] for i in idx if i < len(self.outputs) and self.outputs[i] is not None]


@dataclass
class Captured:
    method: str                    # "torch.export" | "torch.fx"
    records: list[NodeRecord]
    notes: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)   # non-compute nodes left out (getitem, sym_size ...)


def _flatten(x: Any) -> Iterable[Any]:
    if isinstance(x, (list, tuple)):
        for y in x:
            yield from _flatten(y)
    else:
        yield x


def _dtype_info(dtype) -> tuple[str, bool, int]:
    import torch
    name = str(dtype).replace("torch.", "")
    is_float = bool(dtype.is_floating_point) if hasattr(dtype, "is_floating_point") else False
    try:
        bits = torch.empty((), dtype=dtype).element_size() * 8
    except Exception:  # pragma: no cover - exotic dtypes
        bits = 32
    return name, is_float, bits


#: {sympy symbol: size} that symbolic sizes are evaluated at (set by symbolic.py; empty: the example sizes)
SIZE_BINDINGS: contextvars.ContextVar[dict] = contextvars.ContextVar("SIZE_BINDINGS", default={})


def _evaluate(expr: Any, bindings: dict) -> Any:
    """``expr`` (a sympy expression of symbolic sizes) at ``bindings``; None when no binding applies or a
    free symbol is left (an unbacked size)."""
    if not bindings:
        return None
    value = expr.xreplace(bindings) if hasattr(expr, "xreplace") else expr
    if isinstance(value, (int, float, bool)):
        return value
    return value if getattr(value, "is_number", False) else None


def _has_lower_bound(env: Any, sym: Any) -> bool:
    """Whether the model declared a lower bound on the unbacked size ``sym`` (``torch._check(sym >= n)``)."""
    for ra in env.deferred_runtime_asserts.get(sym, []):
        e = ra.expr
        if getattr(e, "is_Relational", False) and ((e.rel_op in (">=", ">") and e.lhs == sym)
                                                    or (e.rel_op in ("<=", "<") and e.rhs == sym)):
            return True
    return False


def concrete_size(s: Any, name: str = "") -> int:
    """An int for a symbolic size: its example value (hint); for an unbacked size (set by tensor values:
    nonzero, nms ...) the lower bound the model declared with ``torch._check(size >= n)``, n >= 1 (e.g. the
    fixed selections of detection.py); else :class:`DataDependentShapeError`."""
    node = getattr(s, "node", None)
    bindings = SIZE_BINDINGS.get()
    if bindings and node is not None:             # a symbolic capture evaluated at other sizes (symbolic.py)
        value = _evaluate(node.expr, bindings)
        if value is not None:
            return int(value)
    hint = getattr(node, "hint", None)
    if hint is not None:
        return int(hint)
    lower = None
    try:
        env = node.shape_env
        # without a torch._check(size >= n) on it, an unbacked size only has torch's default range [2, oo]
        declared = all(_has_lower_bound(env, sym) for sym in node.expr.free_symbols)
        lower = int(env.bound_sympy(node.expr).lower) if declared else None
    except Exception:             # no shape environment, or an unbounded (-oo) range
        lower = None
    if lower is None or lower < 1:
        raise DataDependentShapeError(f"{name}: output size {s} depends on tensor values (data-dependent shape)")
    return lower


def _targ_from_value(val: Any, source: str, name: str) -> Optional[TArg]:
    """TArg from a FakeTensor / Tensor / fx TensorMetadata; None for anything else."""
    import torch
    shape = getattr(val, "shape", None)
    dtype = getattr(val, "dtype", None)
    if shape is None or dtype is None or not isinstance(dtype, torch.dtype):
        return None
    shape_t = []
    for s in shape:
        if isinstance(s, int):
            shape_t.append(s)
            continue
        shape_t.append(concrete_size(s, name))
    shape_t = tuple(shape_t)
    dname, is_float, bits = _dtype_info(dtype)
    return TArg(shape_t, dname, is_float, bits, source, name)


def _outputs_from_value(val: Any, source: str, name: str) -> list[Optional[TArg]]:
    if isinstance(val, (list, tuple)) and not hasattr(val, "shape"):
        return [_targ_from_value(v, source, f"{name}[{i}]") for i, v in enumerate(val)]
    return [_targ_from_value(val, source, name)]


def _module_stack(node) -> list[tuple[str, str]]:
    """The node's nn_module_stack as [(module path, qualified class name), ...], outermost first."""
    out = []
    for path, cls in (node.meta.get("nn_module_stack") or {}).values():
        if isinstance(cls, type):
            cls = f"{cls.__module__}.{cls.__qualname__}"
        out.append((re.sub(r"^L__self__[._]?", "", str(path)), str(cls)))
    return out


def _module_of(node) -> tuple[str, str]:
    stack = _module_stack(node)
    return stack[-1] if stack else ("", "")


def _owner_of(node) -> Optional[tuple[str, str, str]]:
    return composite_owner(_module_stack(node))


_SKIP_TARGET = re.compile(r"(^|\.)(sym_\w+|_assert\w*|_check\w*|_local_scalar_dense|sym_constrain_range\w*)(\.|$)")


# ----------------------------------------------------------------------------------------------------------
# torch.export
# ----------------------------------------------------------------------------------------------------------

def export_program(module, inputs: tuple, dynamic_shapes: Any = None):
    """torch.export + the core-ATen decompositions except PRESERVED_OPS: the ExportedProgram lowering reads."""
    import torch

    # torch.export prints the partial graph of a failed trace straight to sys.stderr; the failure is reported
    # once, by capture(), with the user line that caused it.
    with torch.no_grad(), contextlib.redirect_stderr(io.StringIO()):
        ep = torch.export.export(module, tuple(inputs), dynamic_shapes=dynamic_shapes)
        table = torch.export.default_decompositions()
        for spelling in PRESERVED_OPS:
            name, overload = spelling.split(".")
            packet = getattr(torch.ops.aten, name, None)
            op = getattr(packet, overload, None) if packet is not None else None
            if op is not None and op in table:
                table.pop(op)
        return ep.run_decompositions(table)


def program_sources(ep) -> dict[str, tuple[str, str]]:
    """Placeholder name -> (source kind, fully qualified name) of an ExportedProgram's inputs."""
    sig = ep.graph_signature
    sources: dict[str, tuple[str, str]] = {}
    for ph, fqn in sig.inputs_to_parameters.items():
        sources[ph] = ("param", fqn)
    for ph, fqn in sig.inputs_to_buffers.items():
        sources[ph] = ("buffer", fqn)
    for ph, fqn in getattr(sig, "inputs_to_lifted_tensor_constants", {}).items():
        sources[ph] = ("const", fqn)
    for ph in sig.user_inputs:
        sources[ph] = ("input", ph)
    return sources


def capture_export(module, inputs: tuple) -> Captured:
    ep = export_program(module, inputs)
    return records_from_graph(ep.graph, program_sources(ep), method="torch.export")


def _convert(a: Any, values: dict[str, Any]) -> Any:
    """A node's argument with graph nodes replaced by their values (TArg, list of TArg, None) and symbolic
    sizes by their hints; lists, tuples and dicts are converted item by item (named tuples kept as they are)."""
    import torch
    import torch.fx
    if isinstance(a, torch.fx.Node):
        return values.get(a.name)
    if isinstance(a, (list, tuple)):
        return type(a)(_convert(x, values) for x in a) if not hasattr(a, "_fields") else a
    if isinstance(a, dict):
        return {k: _convert(v, values) for k, v in a.items()}
    if isinstance(a, (torch.SymInt, torch.SymFloat, torch.SymBool)):
        bindings = SIZE_BINDINGS.get()
        value = _evaluate(a.node.expr, SIZE_BINDINGS.get())
        if value is not None:
            return bool(value) if isinstance(a, torch.SymBool) else \
                float(value) if isinstance(a, torch.SymFloat) else int(value)
        hint = getattr(a.node, "hint", None)
        if hint is not None:
            return hint
        try:
            return concrete_size(a)
        except DataDependentShapeError:   # an unbacked size without a declared bound: left symbolic
            return a
    return a


def records_from_graph(graph, sources: dict[str, tuple[str, str]], method: str) -> Captured:
    """Operator records of an exported graph (sizes: the example's, or SIZE_BINDINGS where set)."""
    values: dict[str, Any] = {}           # node name -> TArg | list[TArg]
    records: list[NodeRecord] = []
    by_name: dict[str, NodeRecord] = {}
    skipped: Counter = Counter()

    for node in graph.nodes:
        if node.op == "placeholder":
            src, fqn = sources.get(node.name, ("input", node.name))
            outs = _outputs_from_value(node.meta.get("val"), src, fqn)
            values[node.name] = outs[0] if len(outs) == 1 else outs
            continue
        if node.op in ("output", "get_attr"):
            if node.op == "get_attr":
                skipped["get_attr"] += 1
            continue
        target = node.target
        if target is operator.getitem:
            parent, idx = node.args[0], node.args[1]
            pv = values.get(parent.name)
            if isinstance(pv, list) and isinstance(idx, int) and idx < len(pv):
                values[node.name] = pv[idx]
                _use_output(by_name.get(parent.name), idx)
            skipped["getitem"] += 1
            continue
        tname = str(target)
        if _SKIP_TARGET.search(tname):
            skipped[tname] += 1
            continue
        args = _convert(tuple(node.args), values)
        kwargs = _convert(dict(node.kwargs), values)
        tensor_ins = [a for a in _flatten(list(args) + list(kwargs.values())) if isinstance(a, TArg)]
        dynamic = any(not a.is_static for a in tensor_ins)
        out_source = "act" if dynamic else "const"
        outs = _outputs_from_value(node.meta.get("val"), out_source, node.name)
        if not any(o is not None for o in outs):
            skipped[tname] += 1          # scalar-valued helpers (sym sizes, item) are not compute nodes
            continue
        values[node.name] = outs[0] if len(outs) == 1 else outs
        path, cls = _module_of(node)
        rec = NodeRecord(node.name, tname, path, cls, args, kwargs, outs,
                         used_outputs=None if len(outs) == 1 else [], owner=_owner_of(node))
        records.append(rec)
        by_name[node.name] = rec
    for rec in records:                   # multi-output ops nobody unpacks: count the first result
        if rec.used_outputs == []:
            rec.used_outputs = [0]
    return Captured(method, records, skipped=dict(skipped))


# ----------------------------------------------------------------------------------------------------------
# torch.fx fallback
# ----------------------------------------------------------------------------------------------------------

def capture_fx(module, inputs: tuple) -> Captured:
    import torch
    import torch.fx
    from torch.fx.passes.shape_prop import ShapeProp

    gm = torch.fx.symbolic_trace(module)
    # ShapeProp prints the traceback of a failing node to sys.stderr itself; capture() reports it once
    with torch.no_grad(), contextlib.redirect_stderr(io.StringIO()):
        ShapeProp(gm).propagate(*inputs)
    values: dict[str, Any] = {}
    records: list[NodeRecord] = []
    by_name: dict[str, NodeRecord] = {}
    skipped: Counter = Counter()
    modules = dict(gm.named_modules())

    def meta_out(node, source):
        return _outputs_from_value(node.meta.get("tensor_meta"), source, node.name)

    def param(mod, attr, path) -> Optional[TArg]:
        t = getattr(mod, attr, None)
        if t is None or not isinstance(t, torch.Tensor):
            return None
        src = "param" if isinstance(t, torch.nn.Parameter) else "buffer"
        return _targ_from_value(t, src, f"{path}.{attr}" if path else attr)

    for node in gm.graph.nodes:
        if node.op == "placeholder":
            outs = meta_out(node, "input")
            values[node.name] = outs[0] if len(outs) == 1 else outs
            continue
        if node.op == "output":
            continue
        if node.op == "get_attr":
            obj = gm
            for part in str(node.target).split("."):
                obj = getattr(obj, part, None)
            if isinstance(obj, torch.Tensor):
                src = "param" if isinstance(obj, torch.nn.Parameter) else "buffer"
                values[node.name] = _targ_from_value(obj, src, str(node.target))
            skipped["get_attr"] += 1
            continue
        args = _convert(tuple(node.args), values)
        kwargs = _convert(dict(node.kwargs), values)
        if node.op == "call_function" and node.target is getattr and len(node.args) == 2:
            pv = values.get(node.args[0].name) if isinstance(node.args[0], torch.fx.Node) else None
            if isinstance(pv, list):                      # a field of a multi-result op: x.max(dim).values
                idx = _RESULT_FIELDS.get(str(node.args[1]))
                values[node.name] = pv[idx] if idx is not None and idx < len(pv) else None
                _use_output(by_name.get(node.args[0].name), idx)
                skipped["getattr"] += 1
                continue
            if isinstance(pv, TArg):                      # a tensor attribute (x.T, x.mT, x.real): a view
                node_target, args, kwargs = "aten.alias.default", (pv,), {}
                outs = meta_out(node, pv.source if pv.is_static else "act")
                if outs and outs[0] is not None:
                    values[node.name] = outs[0]
                    path, cls = _module_of(node)
                    records.append(NodeRecord(node.name, node_target, path, cls, args, kwargs, outs))
                else:
                    skipped["getattr"] += 1
                continue
        if node.op == "call_function" and node.target is operator.getitem:
            pv = values.get(node.args[0].name) if isinstance(node.args[0], torch.fx.Node) else None
            if isinstance(pv, list):                      # unpacking a tuple result
                idx = node.args[1]
                values[node.name] = pv[idx] if isinstance(idx, int) and idx < len(pv) else None
                _use_output(by_name.get(node.args[0].name), idx)
                skipped["getitem"] += 1
                continue
            if not isinstance(pv, TArg):
                skipped["getitem"] += 1
                continue
            idx = node.args[1]
            basic = all(isinstance(i, (int, slice, type(None), type(Ellipsis)))
                        for i in (idx if isinstance(idx, tuple) else (idx,)))
            target = "aten.select.int" if basic else "aten.index.Tensor"
            args = (pv,)
            kwargs = {}
        elif node.op == "call_module" and isinstance(modules[node.target], torch.nn.MultiheadAttention):
            mod = modules[node.target]
            outs = meta_out(node, "act")
            cls = f"{type(mod).__module__}.{type(mod).__name__}"
            recs = _fx_mha_records(node.name, str(node.target), cls, mod, args, kwargs, outs, param)
            records.extend(recs)
            values[node.name] = outs[0] if len(outs) == 1 else outs
            continue
        elif node.op == "call_module":
            mod = modules[node.target]
            target, args, kwargs = _fx_module_call(mod, str(node.target), args, kwargs, param)
        elif node.op == "call_function":
            target, args, kwargs = _fx_function_call(node.target, args, kwargs)
        else:  # call_method: x.view(...), x.softmax(dim), x.mean(dim) ... take the ATen spelling
            target = f"aten.{_FN_ALIASES.get(str(node.target), str(node.target))}.default"
        tensor_ins = [a for a in _flatten(list(args) + list(kwargs.values())) if isinstance(a, TArg)]
        out_source = "act" if any(not a.is_static for a in tensor_ins) else "const"
        outs = meta_out(node, out_source)
        if not any(o is not None for o in outs):
            skipped[str(target)] += 1
            continue
        values[node.name] = outs[0] if len(outs) == 1 else outs
        stack = _module_stack(node)
        if node.op == "call_module":
            path, cls = str(node.target), f"{type(modules[node.target]).__module__}.{type(modules[node.target]).__name__}"
            stack = stack + [(path, cls)]
        else:
            path, cls = _module_of(node)
        records.append(NodeRecord(node.name, str(target), path, cls, tuple(args), dict(kwargs), outs,
                                  used_outputs=None if len(outs) == 1 else [], owner=composite_owner(stack)))
        by_name[node.name] = records[-1]
    for rec in records:                   # multi-output ops nobody unpacks: count the first result
        if rec.used_outputs == []:
            rec.used_outputs = [0]
    return Captured("torch.fx", records, skipped=dict(skipped))


def _use_output(rec: Optional[NodeRecord], idx: Any) -> None:
    """Note that a later node reads result ``idx`` of ``rec`` (its bytes are written)."""
    if rec is not None and isinstance(idx, int) and rec.used_outputs is not None:
        rec.used_outputs = sorted(set(rec.used_outputs + [idx]))


#: Field names of torch's multi-result return types (torch.return_types.max, topk, sort ...): result index.
_RESULT_FIELDS = {"values": 0, "indices": 1}


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


def _ntuple(v: Any, n: int) -> list[int]:
    """``v`` (an int, or a list of ints) as a list of ``n`` ints; a one-element list is repeated."""
    if isinstance(v, (list, tuple)):
        vals = [int(x) for x in v]
        return vals if len(vals) == n else (vals * n)[:n] if len(vals) == 1 else vals
    return [int(v)] * n


def _fx_module_call(mod, path, args, kwargs, param):
    """Rewrite a leaf-module call to the ATen spelling and argument order torch.export would produce."""
    import torch.nn as nn

    x = args[0] if args else None
    P = lambda attr: param(mod, attr, path)  # noqa: E731
    if isinstance(mod, nn.modules.conv._ConvNd):
        nd = len(mod.kernel_size)
        transposed = isinstance(mod, nn.modules.conv._ConvTransposeNd)
        padding = mod.padding if isinstance(mod.padding, str) else _ntuple(mod.padding, nd)
        return "aten.convolution.default", (x, P("weight"), P("bias"), _ntuple(mod.stride, nd), padding,
                                            _ntuple(mod.dilation, nd), transposed,
                                            _ntuple(mod.output_padding, nd), int(mod.groups)), {}
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
        k = _ntuple(mod.kernel_size, nd)
        s = _ntuple(mod.stride if mod.stride is not None else mod.kernel_size, nd)
        return f"aten.max_pool{nd}d_with_indices.default", (x, k, s, _ntuple(mod.padding, nd),
                                                            _ntuple(mod.dilation, nd), mod.ceil_mode), {}
    if isinstance(mod, (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)):
        nd = {nn.AvgPool1d: 1, nn.AvgPool2d: 2, nn.AvgPool3d: 3}[type(mod)]
        k = _ntuple(mod.kernel_size, nd)
        s = _ntuple(mod.stride if mod.stride is not None else mod.kernel_size, nd)
        return f"aten.avg_pool{nd}d.default", (x, k, s, _ntuple(mod.padding, nd), mod.ceil_mode,
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
            padding = padding if isinstance(padding, str) else _ntuple(padding, nd)
            return "aten.convolution.default", (kw["input"], kw["weight"], kw.get("bias"),
                                                _ntuple(kw.get("stride") or 1, nd), padding,
                                                _ntuple(kw.get("dilation") or 1, nd), transposed,
                                                _ntuple(kw.get("output_padding") or 0, nd),
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
        k = _ntuple(kw["kernel_size"], nd)
        s = _ntuple(kw.get("stride") or kw["kernel_size"], nd)
        return f"aten.max_pool{nd}d_with_indices.default", (kw["input"], k, s, _ntuple(kw.get("padding", 0), nd),
                                                            _ntuple(kw.get("dilation", 1), nd),
                                                            kw.get("ceil_mode", False)), {}
    if base == "avg_pool2d" and kw:
        k = _ntuple(kw["kernel_size"], 2)
        s = _ntuple(kw.get("stride") or kw["kernel_size"], 2)
        return "aten.avg_pool2d.default", (kw["input"], k, s, _ntuple(kw.get("padding", 0), 2),
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


# ----------------------------------------------------------------------------------------------------------
# auto: export, then fx, then a message that names what failed
# ----------------------------------------------------------------------------------------------------------

def _is_stdlib(filename: str) -> bool:
    """A frame of Python's own library (inspect.py binding the call's arguments ...), not the user's code."""
    stdlib = sysconfig.get_paths()["stdlib"]
    return filename.startswith(stdlib) and not re.search(r"[/\\](site|dist)-packages[/\\]", filename)


def _user_location(exc: BaseException) -> str:
    """The innermost user (non-torch) source line involved in ``exc``: from the traceback, else from the
    message (torch.export quotes the user frame as 'File "...", line N, in f' + the source line)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not re.search(r"[/\\](torch|torchvision|transformers|cimscope|workloads|typing|contextlib)[/\\]",
                               f.filename) and not f.filename.startswith("<") and not _is_stdlib(f.filename)]
    if frames:
        f = frames[-1]
        return f"{f.filename}:{f.lineno} in {f.name}: `{(f.line or '').strip()}`"
    hits = re.findall(r'File "([^"]+)", line (\d+), in (\S+)\s*\n\s*(.+)', str(exc))
    hits = [h for h in hits if not re.search(r"[/\\](torch|transformers)[/\\]", h[0])]
    if hits:
        file, line, func, code = hits[-1]
        return f"{file}:{line} in {func}: `{code.strip()}`"
    return ""


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    msg = lines[0] if lines else ""
    return f"{type(exc).__name__}: {msg[:300]}"


def _describe(mode: str, exc: BaseException) -> str:
    where = _user_location(exc)
    return f"{mode} failed" + (f" at {where}" if where else "") + f" ({_first_line(exc)})"


HINT = ("what to try: replace Python control flow that depends on tensor values with torch.where/torch.cond; "
        "give a factory path/to/file.py:factory that returns (module, example_inputs) with fixed shapes; "
        "or choose one capture mode (--capture export | --capture fx) to see its full error")


def capture(module, inputs: tuple, *, mode: str = "auto", label: str = "model") -> Captured:
    """Capture ``module(*inputs)`` as operator records, by ``mode``: "auto" (torch.export, falling back to
    torch.fx), "export" or "fx". Raises :class:`ExportError` naming the failing construct and what to try."""
    if mode not in CAPTURE_MODES:
        raise InputError(f"unknown capture mode {mode!r}; valid capture modes: {', '.join(CAPTURE_MODES)}")
    with _quiet_torch_logs():
        return _capture(module, inputs, mode=mode, label=label)


@contextlib.contextmanager
def _quiet_torch_logs():
    """torch.export logs guard failures and graph dumps at WARNING; a failed capture is reported once, by us."""
    names = ["torch"] + [n for n in logging.root.manager.loggerDict if n.startswith("torch")]
    saved = {n: logging.getLogger(n).level for n in names}
    try:
        for n in names:
            logging.getLogger(n).setLevel(logging.ERROR)
        yield
    finally:
        for n, lvl in saved.items():
            logging.getLogger(n).setLevel(lvl)


def _capture(module, inputs: tuple, *, mode: str, label: str) -> Captured:
    failures: list[str] = []
    if mode in ("auto", "export"):
        try:
            return capture_export(module, inputs)
        except Exception as exc:  # torch raises many types (UserError, RuntimeError, GuardOnDataDependent ...)
            failures.append(_describe("torch.export", exc))
            if mode == "export":
                raise ExportError(f"cannot capture {label}: {failures[0]}; {HINT}") from exc
    try:
        cap = capture_fx(module, inputs)
        if failures:
            cap.notes.append(f"fell back to torch.fx: {failures[0]}")
        return cap
    except Exception as exc:
        failures.append(_describe("torch.fx symbolic_trace", exc))
        raise ExportError(f"cannot capture {label}: " + "; ".join(failures) + f". {HINT}") from exc
