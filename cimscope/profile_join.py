"""Measured next to modelled: join a :class:`cimscope.profile.ModelProfile` with cimscope's own prediction
(``cimscope evaluate`` on ``a100_like`` with no CiM, placement ``none``).

Class level (always): per class, the measured time and share of the measured total, the modelled latency
and share of the modelled total, and the error of the model's share against the measurement:

    diff_pp     = modelled_share_pct - measured_share_pct          (percentage points)
    share_ratio = modelled_share_pct / measured_share_pct          (None where the measured share is 0)

Shares are compared, not seconds: the measurement runs on the user's device, the model describes an
A100-like GPU, so absolute times differ by the hardware; the split between GEMM and NonGEMM is what both
describe (NonGEMM Bench, arXiv 2404.11788, reports it as a share of end-to-end latency).

Operator level (where possible): each exported call (one ``ir.Op``, or the parts of a split one such as
softmax's max / exp-sum / divide) is matched to one measured top-level call
(:class:`cimscope.profile.OpRecord`). Both sides must come from the same nn.Module (the exporter's
``Op.module`` and the profiler annotation are both ``named_modules()`` paths); among that module's calls the
match prefers the ATen target name (the exported target's base name among the measured call's chain, e.g.
``convolution`` in ``aten::conv2d -> aten::convolution -> aten::mkldnn_convolution``), then the input
shapes recorded by the profiler (``record_shapes=True``) against the exported ``in_shape``/``weight_shape``,
then the class (``_native_batch_norm_legit_no_training`` vs ``aten::batch_norm``), then execution order, so
the k-th relu of a module matches its k-th measured relu. A shape disagreement rules out a class-only match.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Optional, Sequence

from cimscope.errors import InputError
from cimscope.ir import GEMM, NONGEMM_CLASSES, OP_CLASSES

#: Reference point of the modelled side: the A100-like GPU with no CiM (``cimscope evaluate``).
DEFAULT_ARCH = "a100_like"
DEFAULT_PLACEMENT = "none"

#: Attribute names under which a NetworkResult-like object may hold its per-operator rows (ir.NetworkResult:
#: ``ops``).
_ROW_ATTRS = ("ops", "rows")


# ---------------------------------------------------------------------------------------------------------
# The modelled side, read from a NetworkResult (or anything with the same per-operator fields)
# ---------------------------------------------------------------------------------------------------------

@dataclass
class ModelledOp:
    """One operator of the modelled network: the per-op fields of ``cimscope.evaluate.NetworkResult``."""

    name: str
    target: str
    module: str
    op_class: str
    latency_s: float                 # for all of this record's occurrences (latency of one x count)
    energy_pJ: float = 0.0
    cycles: float = 0.0


def _get(row: Any, key: str, default: Any = None) -> Any:
    if isinstance(row, dict):
        return row.get(key, default)
    return getattr(row, key, default)


def modelled_ops(network_result: Any) -> list[ModelledOp]:
    """The per-operator rows of a :class:`cimscope.ir.NetworkResult` (``.ops``, each an
    :class:`cimscope.ir.OpEvaluation`), or of anything shaped like one (a list of rows; rows as objects or
    dicts with ``name``, ``target``, ``module``, ``op_class``, ``latency_s``, ``energy_pJ``, ``cycles`` and
    optionally ``count``). A row's figures are for one occurrence (as in OpEvaluation), so they are
    multiplied by ``count``."""
    rows = None
    if isinstance(network_result, (list, tuple)):
        rows = network_result
    else:
        for attr in _ROW_ATTRS:
            rows = _get(network_result, attr)
            if rows is not None:
                break
    if rows is None:
        raise InputError(f"modelled result {type(network_result).__name__} has no per-operator rows "
                         f"(looked for {', '.join(_ROW_ATTRS)})")
    if isinstance(rows, dict):
        rows = list(rows.values())
    out = []
    for row in rows:
        op_class = _get(row, "op_class")
        if op_class not in OP_CLASSES:
            raise InputError(f"modelled operator {_get(row, 'name')!r} has class {op_class!r}, not one of "
                             f"{', '.join(OP_CLASSES)}")
        latency = _get(row, "latency_s")
        if latency is None:
            raise InputError(f"modelled operator {_get(row, 'name')!r} has no latency_s")
        scale = int(_get(row, "count", 1) or 1)
        out.append(ModelledOp(name=str(_get(row, "name", "")), target=str(_get(row, "target", "")),
                              module=str(_get(row, "module", "") or ""), op_class=op_class,
                              latency_s=float(latency) * scale,
                              energy_pJ=float(_get(row, "energy_pJ", 0.0) or 0.0) * scale,
                              cycles=float(_get(row, "cycles", 0.0) or 0.0) * scale))
    return out


def class_latency(ops: Iterable[ModelledOp]) -> dict[str, float]:
    """Modelled latency per class (s): the sum over operators, every class present."""
    out = {c: 0.0 for c in OP_CLASSES}
    for o in ops:
        out[o.op_class] += o.latency_s
    return out


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

    def to_dict(self) -> dict:
        return asdict(self)


def _shares(times: dict[str, float]) -> dict[str, float]:
    total = sum(times.values())
    return {c: (100.0 * v / total if total > 0 else 0.0) for c, v in times.items()}


def join_classes(measured_s: dict[str, float], modelled_s: Optional[dict[str, float]] = None,
                 *, keep_empty: bool = False) -> list[ClassJoin]:
    """Rows per class (GEMM first, then the NonGEMM classes in NonGEMM Bench's order), then the GEMM and
    NonGEMM totals. Classes that are zero on both sides are left out unless ``keep_empty``."""
    meas = {c: float(measured_s.get(c, 0.0)) for c in OP_CLASSES}
    unknown = set(measured_s) - set(OP_CLASSES)
    if modelled_s is not None:
        unknown |= set(modelled_s) - set(OP_CLASSES)
    if unknown:
        raise InputError(f"unknown operator classes {sorted(unknown)}; classes are {', '.join(OP_CLASSES)}")
    mod = None if modelled_s is None else {c: float(modelled_s.get(c, 0.0)) for c in OP_CLASSES}
    meas_share = _shares(meas)
    mod_share = None if mod is None else _shares(mod)

    def row(name: str, classes: Sequence[str]) -> ClassJoin:
        m_s = sum(meas[c] for c in classes)
        m_p = sum(meas_share[c] for c in classes)
        r = ClassJoin(op_class=name, measured_s=m_s, measured_share_pct=m_p)
        if mod is not None and mod_share is not None:
            r.modelled_s = sum(mod[c] for c in classes)
            r.modelled_share_pct = sum(mod_share[c] for c in classes)
            r.diff_pp = r.modelled_share_pct - m_p
            r.share_ratio = r.modelled_share_pct / m_p if m_p > 0 else None
        return r

    rows = []
    for c in OP_CLASSES:
        if keep_empty or meas[c] > 0 or (mod is not None and mod[c] > 0):
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


def _base(name: str) -> str:
    from cimscope.workloads.taxonomy import base_name
    return base_name(name)


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
    by_name = {m.name: m for m in (modelled or [])}
    total_meas = sum(r.time_s for r in measured)
    total_mod = sum(m.latency_s for m in (modelled or []))
    rows = [OpJoin(index=i, module=r.module, name=r.name, work=r.work, op_class=r.op_class,
                   input_shapes=r.input_shapes, measured_s=r.time_s,
                   measured_share_pct=100.0 * r.time_s / total_meas if total_meas > 0 else 0.0)
            for i, r in enumerate(measured)]
    chains = [{_base(n) for n in r.chain} for r in measured]
    spines = [{_base(n) for n in (getattr(r, "spine", None) or r.chain)} for r in measured]
    modules = [_norm_module(r.module) for r in measured]
    assigned: list[list[ExportedNode]] = [[] for _ in measured]
    cursor: dict[str, int] = {}      # per module: index after its last match (keeps execution order)
    nodes = exported_nodes(exported_ops)
    left: list[tuple[int, ExportedNode]] = []

    for k, node in enumerate(nodes):                       # pass 1: one to one
        tgt = _base(node.target)
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
        name_ok, shape_ok, class_ok = best_key[0], best_key[1], best_key[2]
        rows[best].match = "+".join((["module"] if mod else []) + (["target"] if name_ok else ["class"])
                                    + (["shape"] if shape_ok else []))

    matched_at = {id(n): i for i, ns in enumerate(assigned) for n in ns}
    for k, node in left:                                   # pass 2: composites absorb what is left
        tgt = _base(node.target)
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
    return rows


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


# ---------------------------------------------------------------------------------------------------------
# Producing the modelled side
# ---------------------------------------------------------------------------------------------------------

@dataclass
class Modelled:
    """The modelled side of one model: its exported workload and the evaluated per-operator rows."""

    arch: str
    placement: str
    primitive: Optional[str]
    engine: str
    workload: Any                    # ir.Workload
    ops: list[ModelledOp]

    @property
    def class_latency_s(self) -> dict[str, float]:
        return class_latency(self.ops)

    @property
    def total_s(self) -> float:
        return sum(o.latency_s for o in self.ops)


def model_network(name: str, *, batch: int = 1, image_size: int = 224, seq_len: int = 128,
                  arch: str = DEFAULT_ARCH, placement: str = DEFAULT_PLACEMENT, primitive: Optional[str] = None,
                  engine: str = "builtin", cache: Any = None) -> Modelled:
    """Export ``name`` (:func:`cimscope.workloads.export_model`) and evaluate it with
    :func:`cimscope.evaluate.evaluate_network` (placement ``none``: the GPU baseline, GEMMs on the tensor
    cores with the engine's mapper, NonGEMMs on the SIMT lanes). ``cache``: a per-operator GEMM result cache
    (:class:`cimscope.sweep.ResultCache`), passed through."""
    from cimscope.workloads import export_model
    try:
        from cimscope.evaluate import evaluate_network
    except ImportError as exc:
        raise InputError(f"the modelled side needs cimscope.evaluate, which is not available here ({exc}); "
                         f"run with --no-model") from None
    workload = export_model(name, batch=batch, image_size=image_size, seq_len=seq_len)
    result = evaluate_network(workload, arch, placement, primitive, engine=engine, cache=cache)
    return Modelled(arch=arch, placement=placement, primitive=getattr(result, "primitive", primitive),
                    engine=engine, workload=workload, ops=modelled_ops(result))
