"""Operator records of a captured graph (:class:`NodeRecord`, its tensors :class:`TArg`) and the helpers both
captures use to build them: concrete sizes of symbolic and data-dependent shapes, tensor descriptions from
graph values, argument conversion, the module stack of a node."""
from __future__ import annotations

import contextvars
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

from cimscope.workloads.taxonomy import composite_owner

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
        return [a for a in flatten(self.args) if isinstance(a, TArg)] + \
               [a for a in flatten(list(self.kwargs.values())) if isinstance(a, TArg)]

    def used_tensor_outputs(self) -> list[TArg]:
        idx = range(len(self.outputs)) if self.used_outputs is None else self.used_outputs
        return [self.outputs[i] for i in idx if i < len(self.outputs) and self.outputs[i] is not None]


@dataclass
class Captured:
    method: str                    # "torch.export" | "torch.fx"
    records: list[NodeRecord]
    notes: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)   # non-compute nodes left out (getitem, sym_size ...)


def flatten(x: Any) -> Iterable[Any]:
    if isinstance(x, (list, tuple)):
        for y in x:
            yield from flatten(y)
    else:
        yield x


def dtype_info(dtype) -> tuple[str, bool, int]:
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


def targ_from_value(val: Any, source: str, name: str) -> Optional[TArg]:
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
    dname, is_float, bits = dtype_info(dtype)
    return TArg(shape_t, dname, is_float, bits, source, name)


def outputs_from_value(val: Any, source: str, name: str) -> list[Optional[TArg]]:
    if isinstance(val, (list, tuple)) and not hasattr(val, "shape"):
        return [targ_from_value(v, source, f"{name}[{i}]") for i, v in enumerate(val)]
    return [targ_from_value(val, source, name)]


def module_stack(node) -> list[tuple[str, str]]:
    """The node's nn_module_stack as [(module path, qualified class name), ...], outermost first."""
    out = []
    for path, cls in (node.meta.get("nn_module_stack") or {}).values():
        if isinstance(cls, type):
            cls = f"{cls.__module__}.{cls.__qualname__}"
        out.append((re.sub(r"^L__self__[._]?", "", str(path)), str(cls)))
    return out


def module_of(node) -> tuple[str, str]:
    stack = module_stack(node)
    return stack[-1] if stack else ("", "")


def owner_of(node) -> Optional[tuple[str, str, str]]:
    return composite_owner(module_stack(node))


def use_output(rec: Optional[NodeRecord], idx: Any) -> None:
    """Note that a later node reads result ``idx`` of ``rec`` (its bytes are written)."""
    if rec is not None and isinstance(idx, int) and rec.used_outputs is not None:
        rec.used_outputs = sorted(set(rec.used_outputs + [idx]))


#: Field names of torch's multi-result return types (torch.return_types.max, topk, sort ...): result index.
RESULT_FIELDS = {"values": 0, "indices": 1}


def ntuple(v: Any, n: int) -> list[int]:
    """``v`` (an int, or a list of ints) as a list of ``n`` ints; a one-element list is repeated."""
    if isinstance(v, (list, tuple)):
        vals = [int(x) for x in v]
        return vals if len(vals) == n else (vals * n)[:n] if len(vals) == 1 else vals
    return [int(v)] * n


def convert_args(a: Any, values: dict[str, Any]) -> Any:
    """A node's argument with graph nodes replaced by their values (TArg, list of TArg, None) and symbolic
    sizes by their hints; lists, tuples and dicts are converted item by item (named tuples kept as they are)."""
    import torch
    import torch.fx
    if isinstance(a, torch.fx.Node):
        return values.get(a.name)
    if isinstance(a, (list, tuple)):
        return type(a)(convert_args(x, values) for x in a) if not hasattr(a, "_fields") else a
    if isinstance(a, dict):
        return {k: convert_args(v, values) for k, v in a.items()}
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
