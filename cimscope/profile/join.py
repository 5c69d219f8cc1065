"""Measured next to modelled: join a :class:`cimscope.profile.measure.ModelProfile` with cimscope's own
prediction (:mod:`cimscope.profile.modelled`: ``cimscope evaluate`` on ``a100_like`` with no CiM, and the GPU
execution model eager and fused).

Class level (always): per class, the measured time and share of the measured total, the modelled latency
and share of the modelled total, and the error of the model's share against the measurement:

    diff_pp     = modelled_share_pct - measured_share_pct          (percentage points)
    share_ratio = modelled_share_pct / measured_share_pct          (None where the measured share is 0)

Shares are compared, not seconds: the measurement runs on the user's device, the model describes an
A100-like GPU, so absolute times differ by the hardware; the split between GEMM and NonGEMM is what both
describe (NonGEMM Bench, arXiv 2404.11788, reports it as a share of end-to-end latency).

Operator level (where possible): each exported call (one ``ir.Op``, or the parts of a split one such as
softmax's max / exp-sum / divide) is matched to one measured top-level call
(:class:`cimscope.profile.classes.OpRecord`). Both sides must come from the same nn.Module (the exporter's
``Op.module`` and the profiler annotation are both ``named_modules()`` paths); among that module's calls the
match prefers the ATen target name (the exported target's base name among the measured call's chain, e.g.
``convolution`` in ``aten::conv2d -> aten::convolution -> aten::mkldnn_convolution``), then the input
shapes recorded by the profiler (``record_shapes=True``) against the exported ``in_shape``/``weight_shape``,
then the class (``_native_batch_norm_legit_no_training`` vs ``aten::batch_norm``), then execution order, so
the k-th relu of a module matches its k-th measured relu. A shape disagreement rules out a class-only match.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Optional, Sequence

from cimscope.errors import InputError
from cimscope.ir import GEMM, NONGEMM_CLASSES, OP_CLASSES
from cimscope.profile.modelled import ModelledOp
from cimscope.workloads.taxonomy import base_name

# ---------------------------------------------------------------------------------------------------------
# Class-level join
# ---------------------------------------------------------------------------------------------------------

@dataclass
class ClassJoin:
    """One row of the side-by-side table. ``op_class`` is a class, or "GEMM total"/"NonGEMM total"."""

    op_class: str
    measured_s: float
    measured_share_pct: float
    modelled_s: Optional[float] = None
    modelled_share_pct: Optional[float] = None
    diff_pp: Optional[float] = None          # modelled share - measured share (percentage points)
    share_ratio: Optional[float] = None      # modelled share / measured share
    extra_share_pct: dict[str, float] = field(default_factory=dict)   # label -> share of further models

    def to_dict(self) -> dict:
        return asdict(self)


def _shares(times: dict[str, float]) -> dict[str, float]:
    total = sum(times.values())
    return {c: (100.0 * v / total if total > 0 else 0.0) for c, v in times.items()}


def join_classes(measured_s: dict[str, float], modelled_s: Optional[dict[str, float]] = None,
                 *, extra: Optional[dict[str, dict[str, float]]] = None,
                 keep_empty: bool = False) -> list[ClassJoin]:
    """Rows per class (GEMM first, then the NonGEMM classes in NonGEMM Bench's order), then the GEMM and
    NonGEMM totals. ``extra``: further modelled class times by label (the GPU execution model's eager and
    fused), whose shares go to each row's ``extra_share_pct``. Classes that are zero on every side are left
    out unless ``keep_empty``."""
    meas = {c: float(measured_s.get(c, 0.0)) for c in OP_CLASSES}
    unknown = set(measured_s) - set(OP_CLASSES)
    for side in [modelled_s] + list((extra or {}).values()):
        unknown |= set(side or {}) - set(OP_CLASSES)
    if unknown:
        raise InputError(f"unknown operator classes {sorted(unknown)}; classes are {', '.join(OP_CLASSES)}")
    mod = None if modelled_s is None else {c: float(modelled_s.get(c, 0.0)) for c in OP_CLASSES}
    meas_share = _shares(meas)
    mod_share = None if mod is None else _shares(mod)
    extra_share = {k: _shares({c: float(v.get(c, 0.0)) for c in OP_CLASSES}) for k, v in (extra or {}).items()}

    def row(name: str, classes: Sequence[str]) -> ClassJoin:
        m_s = sum(meas[c] for c in classes)
        m_p = sum(meas_share[c] for c in classes)
        r = ClassJoin(op_class=name, measured_s=m_s, measured_share_pct=m_p)
        if mod is not None and mod_share is not None:
            r.modelled_s = sum(mod[c] for c in classes)
            r.modelled_share_pct = sum(mod_share[c] for c in classes)
            r.diff_pp = r.modelled_share_pct - m_p
            r.share_ratio = r.modelled_share_pct / m_p if m_p > 0 else None
        r.extra_share_pct = {k: sum(sh[c] for c in classes) for k, sh in extra_share.items()}
        return r

    rows = []
    for c in OP_CLASSES:
        if keep_empty or meas[c] > 0 or (mod is not None and mod[c] > 0) \
                or any(sh[c] > 0 for sh in extra_share.values()):
            rows.append(row(c, [c]))
    rows.append(row("GEMM total", [GEMM]))
    rows.append(row("NonGEMM total", list(NONGEMM_CLASSES)))
    return rows


# ---------------------------------------------------------------------------------------------------------
# Operator-level join
# ---------------------------------------------------------------------------------------------------------

@dataclass
class OpJoin:
    """One measured call next to the exported operator it was matched to (modelled fields None if none)."""

    index: int                       # position among the measured top-level calls
    module: str
    name: str                        # measured call, e.g. "aten::linear"
    work: str                        # operator that did the work, e.g. "aten::addmm"
    op_class: str
    input_shapes: list
    measured_s: float
    measured_share_pct: float
    modelled_ops: list[str] = field(default_factory=list)   # exported Op names (parts of one call)
    modelled_target: Optional[str] = None
    modelled_class: Optional[str] = None
    modelled_s: Optional[float] = None
    modelled_share_pct: Optional[float] = None
    match: str = ""                  # what agreed: "module+target+shape", "module+class", ... ("" unmatched)

    def to_dict(self) -> dict:
        return asdict(self)


def _norm_module(path: str) -> str:
    """Module paths as ``named_modules()`` writes them (``layer1.0.conv1``); torch.export may write
    ``layer1[0].conv1`` or prefix ``L['self'].``/``self.``."""
    p = str(path or "")
    for prefix in ("L['self'].", "L__self__.", "self."):
        if p.startswith(prefix):
            p = p[len(prefix):]
    p = p.replace("[", ".").replace("]", "").replace("'", "").replace('"', "")
    return p.strip(".")


def op_input_shapes(op: Any) -> Optional[list[list[int]]]:
    """Input tensor shapes of an exported operator as the exporter records them in ``Op.attrs``:
    ``input_shapes`` (a list), else ``in_shape`` and ``weight_shape``; an elementwise operator with only
    ``out_shape`` has that shape as its input. None when the exporter recorded none."""
    attrs = getattr(op, "attrs", None) or {}
    if isinstance(attrs.get("input_shapes"), (list, tuple)):
        shapes = list(attrs["input_shapes"])
    else:
        shapes = [attrs[k] for k in ("in_shape", "weight_shape") if attrs.get(k) is not None]
        if not shapes and getattr(op, "kind", "") == "elementwise" and attrs.get("out_shape") is not None:
            shapes = [attrs["out_shape"]]
    out = []
    for s in shapes:
        if isinstance(s, (list, tuple)) and all(isinstance(x, (int, float)) for x in s):
            out.append([int(x) for x in s])
    return out or None


def _shapes_agree(measured: list, exported: Optional[list[list[int]]]) -> Optional[bool]:
    """True when every exported input shape occurs among the measured call's input shapes (ignoring
    leading batch-1 differences in how the two sides spell scalars); None when either side has none."""
    if not exported:
        return None
    meas = [list(s) for s in measured if isinstance(s, list) and s and all(isinstance(x, int) for x in s)]
    if not meas:
        return None
    return all(list(s) in meas for s in exported if s)


@dataclass
class ExportedNode:
    """One call of the exported graph: one ``ir.Op``, or the parts the exporter split it into, with
    ``attrs['part']`` (softmax: ``_softmax.max``/``.exp_sum``/``.divide``; attention:
    ``scaled_dot_product_attention.qk``/``.softmax.max``/.../``.av``)."""

    names: list[str]
    target: str
    module: str
    op_class: str
    input_shapes: Optional[list[list[int]]]


def exported_nodes(exported_ops: Sequence[Any]) -> list[ExportedNode]:
    """Group consecutive parts of one split operator (same target, module and node name before the first
    dot, each with ``attrs['part']``)."""
    nodes: list[ExportedNode] = []
    last_key = None
    for op in exported_ops:
        attrs = getattr(op, "attrs", None) or {}
        name = str(getattr(op, "name", ""))
        key = None
        if attrs.get("part") is not None:
            key = (getattr(op, "target", ""), getattr(op, "module", ""), name.split(".", 1)[0])
        if key is not None and key == last_key and nodes:
            nodes[-1].names.append(name)
        else:
            nodes.append(ExportedNode(names=[name], target=str(getattr(op, "target", "")),
                                      module=str(getattr(op, "module", "") or ""),
                                      op_class=str(getattr(op, "op_class", "")), input_shapes=op_input_shapes(op)))
        last_key = key
    return nodes


def join_ops(measured: Sequence[Any], exported_ops: Sequence[Any],
             modelled: Optional[Sequence[ModelledOp]] = None) -> list[OpJoin]:
    """Match measured top-level calls (``OpRecord``s) to exported operators (``ir.Op``s; their modelled rows
    are found by op name), as described in the module docstring, in two passes:

    1. one to one, within a module: the exported target's base name on the measured call's dispatch path
       (``OpRecord.spine``: ``aten::conv2d -> aten::convolution -> ...``), then agreeing input shapes, then
       the class, then execution order;
    2. exported operators left over are absorbed by a call of the same module that contains them: their
       target name anywhere in its chain, or, for a composite call (one whose time the counting rule split
       over several classes), time in their class (any memory node: memory helpers inside a composite count
       under its class). Eager PyTorch may run as one call what
       the exporter sees as many (``aten::_native_multi_head_attention`` is the whole attention block:
       projections, views, softmax, ...). Such rows say ``composite`` in ``match``.

    An exported operator split into parts is one call; a row's modelled latency is the sum over the exported
    operators it was given."""
    rows = [OpJoin(index=i, module=r.module, name=r.name, work=r.work, op_class=r.op_class,
                   input_shapes=r.input_shapes, measured_s=r.time_s, measured_share_pct=0.0)
            for i, r in enumerate(measured)]
    total_meas = sum(r.time_s for r in measured)
    for r in rows:
        r.measured_share_pct = 100.0 * r.measured_s / total_meas if total_meas > 0 else 0.0
    nodes = exported_nodes(exported_ops)
    assigned: list[list[ExportedNode]] = [[] for _ in measured]
    left = _match_one_to_one(measured, nodes, assigned, rows)
    _absorb_into_composites(measured, nodes, left, assigned, rows)
    _fill_modelled(rows, assigned, modelled)
    return rows


def _match_one_to_one(measured: Sequence[Any], nodes: list[ExportedNode], assigned: list[list[ExportedNode]],
                      rows: list[OpJoin]) -> list[tuple[int, ExportedNode]]:
    """Pass 1 of :func:`join_ops`; returns the nodes left over (with their index)."""
    spines = [{base_name(n) for n in (getattr(r, "spine", None) or r.chain)} for r in measured]
    modules = [_norm_module(r.module) for r in measured]
    cursor: dict[str, int] = {}      # per module: index after its last match (keeps execution order)
    left: list[tuple[int, ExportedNode]] = []
    for k, node in enumerate(nodes):
        tgt = base_name(node.target)
        mod = _norm_module(node.module)
        start = cursor.get(mod, 0)
        best, best_key = None, None
        for i in range(len(measured)):
            if assigned[i] or modules[i] != mod:
                continue
            name_ok = tgt in spines[i]
            class_ok = measured[i].op_class == node.op_class
            if not (name_ok or class_ok):
                continue
            shape_ok = _shapes_agree(measured[i].input_shapes, node.input_shapes)
            if shape_ok is False and not name_ok:
                continue
            # prefer: the target name, then agreeing shapes, then the class, then the next call in order
            key = (name_ok, shape_ok is True, class_ok, i >= start, -i)
            if best_key is None or key > best_key:
                best, best_key = i, key
        if best is None:
            left.append((k, node))
            continue
        assigned[best].append(node)
        cursor[mod] = best + 1
        name_ok, shape_ok = best_key[0], best_key[1]
        rows[best].match = "+".join((["module"] if mod else []) + (["target"] if name_ok else ["class"])
                                    + (["shape"] if shape_ok else []))
    return left


def _absorb_into_composites(measured: Sequence[Any], nodes: list[ExportedNode],
                            left: list[tuple[int, ExportedNode]], assigned: list[list[ExportedNode]],
                            rows: list[OpJoin]) -> None:
    """Pass 2 of :func:`join_ops`: composites absorb what is left."""
    chains = [{base_name(n) for n in r.chain} for r in measured]
    modules = [_norm_module(r.module) for r in measured]
    matched_at = {id(n): i for i, ns in enumerate(assigned) for n in ns}
    for k, node in left:
        tgt = base_name(node.target)
        mod = _norm_module(node.module)
        # where the exported neighbours went: the closest earlier matched node of this module
        anchor = next((matched_at[id(nodes[j])] for j in range(k - 1, -1, -1)
                       if id(nodes[j]) in matched_at and _norm_module(nodes[j].module) == mod), 0)
        best, best_key = None, None
        for i in range(len(measured)):
            if modules[i] != mod:
                continue
            name_ok = tgt in chains[i]
            # by class only into a composite: a call whose time the counting rule split over classes
            composite = sum(1 for v in measured[i].class_time_s.values() if v > 0) > 1
            # (memory ops inside a composite count under its class, so a memory node fits any composite)
            class_ok = composite and (node.op_class == "memory"
                                      or measured[i].class_time_s.get(node.op_class, 0.0) > 0)
            if not (name_ok or class_ok):
                continue
            key = (name_ok, class_ok, len(chains[i]), -abs(i - anchor))
            if best_key is None or key > best_key:
                best, best_key = i, key
        if best is None:
            continue
        assigned[best].append(node)
        matched_at[id(node)] = best
        if "composite" not in rows[best].match:
            rows[best].match = (rows[best].match + "+composite") if rows[best].match else \
                ("module+composite" if mod else "composite")


def _fill_modelled(rows: list[OpJoin], assigned: list[list[ExportedNode]],
                   modelled: Optional[Sequence[ModelledOp]]) -> None:
    by_name = {m.name: m for m in (modelled or [])}
    total_mod = sum(m.latency_s for m in (modelled or []))
    for r, ns in zip(rows, assigned):
        if not ns:
            continue
        r.modelled_ops = [n for node in ns for n in node.names]
        r.modelled_target = ns[0].target
        r.modelled_class = ns[0].op_class
        found = [by_name[n] for n in r.modelled_ops if n in by_name]
        if found:
            r.modelled_s = sum(m.latency_s for m in found)
            r.modelled_share_pct = 100.0 * r.modelled_s / total_mod if total_mod > 0 else 0.0


def match_summary(rows: Sequence[OpJoin], exported_ops: Optional[Sequence[Any]] = None) -> dict[str, Any]:
    """How much of the measured time (and, given the exported operators, of the exported operators) the
    operator join covers."""
    total = sum(r.measured_s for r in rows)
    matched = [r for r in rows if r.match]
    t = sum(r.measured_s for r in matched)
    out = {"calls": len(rows), "matched_calls": len(matched),
           "matched_time_pct": 100.0 * t / total if total > 0 else 0.0,
           "composite_calls": sum(1 for r in rows if "composite" in r.match)}
    if exported_ops is not None:
        names = {n for r in rows for n in r.modelled_ops}
        out["exported_ops"] = len(exported_ops)
        out["exported_ops_matched"] = sum(1 for o in exported_ops if getattr(o, "name", None) in names)
    return out

