"""Capture a PyTorch module as a flat list of operator records.

First choice: ``torch.export.export`` followed by ``run_decompositions`` with the default (core ATen) table,
minus the entries that would take recognisable compute apart (``linear``, ``scaled_dot_product_attention``,
``silu``, ``hardswish``, ``hardsigmoid``, ``adaptive_avg_pool2d``, ``rms_norm``); convolutions come out as
``aten.convolution``, batch norm as ``aten._native_batch_norm_legit_no_training``, softmax as
``aten._softmax`` (measured with torch 2.14.1). Fallback: ``torch.fx.symbolic_trace`` + ``ShapeProp``, with
leaf modules (Conv2d, Linear, BatchNorm2d ...) rewritten to the same ATen spellings and argument order, so one
lowering (``lower.py``) serves both (``capture_fx.py``). The records and the helpers both captures share are in
``capture_records.py``.

If both fail, :class:`ExportError` names the construct (the exception and the user source line where it was
raised) and what to try.
"""
from __future__ import annotations

import contextlib
import io
import logging
import operator
import re
import sysconfig
import traceback
from collections import Counter
from typing import Any

from cimscope.errors import ExportError, InputError
from cimscope.workloads.capture_fx import capture_fx
# the records and their helpers live in capture_records; importable from here as before
from cimscope.workloads.capture_records import (SIZE_BINDINGS, Captured, DataDependentShapeError,  # noqa: F401
                                                NodeRecord, TArg, concrete_size, convert_args, flatten,
                                                module_of, outputs_from_value, owner_of, use_output)

CAPTURE_MODES = ("auto", "export", "fx")

#: torch.export default decompositions that are NOT applied: these ops stay whole so that lowering sees a
#: linear layer / an attention / a pooling window rather than their pieces.
PRESERVED_OPS = ("linear.default", "scaled_dot_product_attention.default", "silu.default", "silu_.default",
                 "hardswish.default", "hardswish_.default", "hardsigmoid.default", "hardsigmoid_.default",
                 "adaptive_avg_pool2d.default", "rms_norm.default", "mish.default")


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


def records_from_graph(graph, sources: dict[str, tuple[str, str]], method: str) -> Captured:
    """Operator records of an exported graph (sizes: the example's, or SIZE_BINDINGS where set)."""
    values: dict[str, Any] = {}           # node name -> TArg | list[TArg]
    records: list[NodeRecord] = []
    by_name: dict[str, NodeRecord] = {}
    skipped: Counter = Counter()

    for node in graph.nodes:
        if node.op == "placeholder":
            src, fqn = sources.get(node.name, ("input", node.name))
            outs = outputs_from_value(node.meta.get("val"), src, fqn)
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
                use_output(by_name.get(parent.name), idx)
            skipped["getitem"] += 1
            continue
        tname = str(target)
        if _SKIP_TARGET.search(tname):
            skipped[tname] += 1
            continue
        args = convert_args(tuple(node.args), values)
        kwargs = convert_args(dict(node.kwargs), values)
        tensor_ins = [a for a in flatten(list(args) + list(kwargs.values())) if isinstance(a, TArg)]
        dynamic = any(not a.is_static for a in tensor_ins)
        out_source = "act" if dynamic else "const"
        outs = outputs_from_value(node.meta.get("val"), out_source, node.name)
        if not any(o is not None for o in outs):
            skipped[tname] += 1          # scalar-valued helpers (sym sizes, item) are not compute nodes
            continue
        values[node.name] = outs[0] if len(outs) == 1 else outs
        path, cls = module_of(node)
        rec = NodeRecord(node.name, tname, path, cls, args, kwargs, outs,
                         used_outputs=None if len(outs) == 1 else [], owner=owner_of(node))
        records.append(rec)
        by_name[node.name] = rec
    for rec in records:                   # multi-output ops nobody unpacks: count the first result
        if rec.used_outputs == []:
            rec.used_outputs = [0]
    return Captured(method, records, skipped=dict(skipped))


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
