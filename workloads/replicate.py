"""Decoder stacks captured at a few layers and replicated to full depth.

The layers of the named LLMs (Llama, Mistral, Mixtral: ``configs.HF_MODELS`` of model types
:data:`REPLICABLE_TYPES`) are identical by config: same class, same shapes, one after the other in the graph.
torch.export spends its time per layer (about 0.75 s of CPU per Llama-2-7B layer on meta tensors), so such a
model is captured with :data:`CAPTURE_LAYERS` layers and its per-layer operators are replicated to the
published depth, with their module paths renamed (``model.layers.2.mlp`` -> ``model.layers.17.mlp``) and their
node names numbered as torch.export numbers a full-depth graph (``linear_16`` in the layer after ``linear_9``
when a layer holds 7 ``linear`` nodes). The operators after the stack keep their order, their names shifted
by the layers added.

A *stack* is a module list whose indices are exactly ``0 .. CAPTURE_LAYERS - 1`` in the captured records
(the decoder layers ``model.layers.i``; in a decode step also ``cache_fill.i``, the per-layer KV-cache inputs).
The capture is replicated only when every check holds, else the model is captured at full depth:

* each stack's records form contiguous runs, one per layer, in layer order;
* the runs are the same operators (target, module path up to the index, module class, owner, argument and
  result shapes and dtypes, non-tensor arguments);
* every node name advances by one step per layer (``linear_9`` -> ``linear_16``), the same for each record
  of the name between the last two captured layers (the first layer may trace one-time nodes);
* an operator after a stack whose name no operator of the layers has (torch.export numbers nodes as it
  traces, including nodes it later removes, so the graph cannot tell how many a layer adds, e.g. a decode
  step's cache fill adds dead ``add`` nodes): a capture one layer shallower is made, and each operator's
  number moves by the difference between the two captures per layer added; each operator must have its
  counterpart there.

The skipped nodes (sizes, asserts) of a layer added are those between the first operators of the last two
captured layers. A decode step's stacked cache inputs ``past_k``/``past_v`` ``[layers, ...]`` get the full
depth as their first size.

Equality with a full-depth capture, operator for operator (names, module paths, shapes, costs, skipped-node
counts), is tested on 4-layer configs of each replicable type (tests/test_replicate.py).
"""
from __future__ import annotations

import operator
import re
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any, Callable, Optional

from cimscope.workloads.capture_records import Captured, NodeRecord, TArg

#: model types (transformers ``config.model_type``) whose decoder stacks are replicated
REPLICABLE_TYPES = ("llama", "mistral", "mixtral")
#: layers captured (3: two periods to compare, so a first layer that differs from the others is caught)
CAPTURE_LAYERS = 3

_INDEXED = re.compile(r"^(?P<stack>.*?)\.(?P<idx>\d+)(?=\.|$)")
_NUMBERED = re.compile(r"^(?P<base>.*)_(?P<n>\d+)$")


class NotReplicable(Exception):
    """The capture is not a stack of identical layers (the reason); the caller captures at full depth."""


def full_depth(model: str) -> Optional[int]:
    """The published depth of named model ``model`` when its stack is replicated, else None."""
    from cimscope.workloads.configs import HF_MODELS
    from cimscope.workloads.hf import depth_field, make_config
    spec = HF_MODELS.get(model)
    if spec is None or spec.kind != "decoder":
        return None
    config = make_config(spec)
    field = depth_field(config)
    if getattr(config, "model_type", "") not in REPLICABLE_TYPES or field is None:
        return None
    n = int(getattr(config, field))
    return n if n > CAPTURE_LAYERS else None


def split_name(name: str) -> tuple[str, int]:
    """torch.fx's numbering: ``linear_16`` -> (``linear``, 16), ``linear`` -> (``linear``, 0)."""
    m = _NUMBERED.match(name)
    return (m["base"], int(m["n"])) if m else (name, 0)


def join_name(base: str, n: int) -> str:
    return base if n == 0 else f"{base}_{n}"


def skipped_key(node) -> Optional[str]:
    """The key under which :func:`cimscope.workloads.capture.records_from_graph` counts a node it skips."""
    if node.op in ("placeholder", "output"):
        return None
    if node.op == "get_attr":
        return "get_attr"
    return "getitem" if node.target is operator.getitem else str(node.target)


@dataclass
class Stack:
    """One replicated module list: where its layers are in the records, and what one layer adds."""

    path: str                        # "model.layers"
    runs: list[tuple[int, int]]      # record index range of each captured layer
    indexed: dict[int, list[int]]    # record offset -> integer arguments that are the layer index
    names: Counter                   # name number step per layer, by name (the names its records have)
    skipped: Counter                 # skipped nodes per layer, by key


@dataclass
class Plan:
    captured: int                    # layers captured
    depth: int                       # layers wanted
    stacks: list[Stack]
    shifts: list[int]                # per captured record: how far each layer added moves its name number
    stacked_inputs: frozenset = frozenset()


def _layer_of(module: str) -> Optional[tuple[str, int]]:
    m = _INDEXED.match(module or "")
    return (m["stack"], int(m["idx"])) if m else None


def _leaves(x: Any) -> list:
    """The leaves of a record argument tree, depth first (lists, tuples and dict values descended)."""
    if isinstance(x, (list, tuple)):
        return [leaf for y in x for leaf in _leaves(y)]
    if isinstance(x, dict):
        return [leaf for k in sorted(x) for leaf in _leaves(x[k])]
    return [x]


def _shape(x: Any) -> Any:
    """A record argument's structure and non-integer leaves (tensors as shape, dtype and source)."""
    if isinstance(x, TArg):
        return ("T", tuple(x.shape), x.dtype, x.source)
    if isinstance(x, (list, tuple)):
        return (type(x).__name__,) + tuple(_shape(y) for y in x)
    if isinstance(x, dict):
        return tuple((k, _shape(x[k])) for k in sorted(x))
    return "int" if isinstance(x, int) and not isinstance(x, bool) else repr(x)


def _ints(rec: NodeRecord) -> list[int]:
    return [v for v in _leaves([rec.args, rec.kwargs]) if isinstance(v, int) and not isinstance(v, bool)]


def _signature(rec: NodeRecord, path: str, i: int) -> tuple:
    def strip(m: str) -> str:
        return m.replace(f"{path}.{i}", f"{path}.#", 1)
    owner = None if rec.owner is None else (rec.owner[0], rec.owner[1], strip(rec.owner[2]))
    return (rec.target, strip(rec.module), rec.module_class, owner, _shape(rec.args), _shape(rec.kwargs),
            _shape(rec.outputs), split_name(rec.name)[0])


def _layer_ints(recs: list[NodeRecord], rr: list[tuple[int, int]], path: str) -> dict[int, list[int]]:
    """Record offset in a layer -> positions of its integer arguments that are the layer's index (a decode
    step's ``select(past_k, 0, i)``); every other integer argument is the same in every layer."""
    out: dict[int, list[int]] = {}
    for off in range(rr[0][1] - rr[0][0]):
        per_layer = [_ints(recs[a + off]) for a, _ in rr]
        for p, vals in enumerate(zip(*per_layer)):
            if list(vals) == list(range(len(rr))):
                out.setdefault(off, []).append(p)
            elif len(set(vals)) != 1:
                raise NotReplicable(f"operator {recs[rr[-1][0] + off].name} of {path} has arguments that differ "
                                    f"between layers")
    return out


def _set_ints(x: Any, positions: set[int], value: int, counter: list[int]) -> Any:
    """``x`` with its integer leaves at ``positions`` (their order among the integer leaves) set to ``value``."""
    if isinstance(x, (list, tuple)):
        return type(x)(_set_ints(y, positions, value, counter) for y in x)
    if isinstance(x, dict):
        vals = {k: _set_ints(x[k], positions, value, counter) for k in sorted(x)}
        return {k: vals[k] for k in x}
    if isinstance(x, int) and not isinstance(x, bool):
        counter[0] += 1
        return value if counter[0] - 1 in positions else x
    return x


def _runs(records: list[NodeRecord], k: int) -> dict[str, list[tuple[int, int]]]:
    """Stack path -> record ranges of its layers 0..k-1 (contiguous, in order); paths whose indices are not
    exactly 0..k-1 are not stacks."""
    seen: dict[str, list[tuple[int, int]]] = {}       # path -> [(idx, record index)]
    for j, r in enumerate(records):
        hit = _layer_of(r.module)
        if hit:
            seen.setdefault(hit[0], []).append((hit[1], j))
    out = {}
    for path, hits in seen.items():
        if {i for i, _ in hits} != set(range(k)):
            continue
        runs = []
        for i in range(k):
            idx = [j for ii, j in hits if ii == i]
            if idx != list(range(idx[0], idx[-1] + 1)):
                raise NotReplicable(f"layer {path}.{i} is not one contiguous run of operators")
            runs.append((idx[0], idx[-1] + 1))
        if any(runs[i][1] != runs[i + 1][0] for i in range(k - 1)):
            raise NotReplicable(f"operators outside {path} between its layers")
        out[path] = runs
    return out


def _name_steps(recs: list[NodeRecord], rr: list[tuple[int, int]], path: str) -> Counter:
    """How far one layer advances the number of each node name (``linear_9`` -> ``linear_16``: 7), from the
    records of the last two captured layers (the first layer may trace one-time nodes, e.g. a size computed
    once; torch.export numbers nodes as it traces, dead ones included, so the graph's nodes do not tell it);
    the same step for every record of a name."""
    steps: dict[str, int] = {}
    for j0, j1 in zip(range(*rr[-2]), range(*rr[-1])):
        (b0, n0), (_, n1) = split_name(recs[j0].name), split_name(recs[j1].name)
        if steps.setdefault(b0, n1 - n0) != n1 - n0:
            raise NotReplicable(f"node {recs[j1].name} of {path} is not numbered one layer after {recs[j0].name}")
    return Counter(steps)


def plan(cap: Captured, graph, captured: int, depth: int, stacked_inputs: tuple[str, ...] = (),
         shallower: Optional[Callable[[], Captured]] = None) -> Plan:
    """Check that ``cap`` (``captured`` layers, from ``graph``) is a stack of identical layers and measure one
    layer's period; raises :class:`NotReplicable` naming the first check that fails. ``stacked_inputs``: model
    inputs whose first dimension is the layer count (a decode step's ``past_k``/``past_v``); ``shallower``:
    the same model's records one layer shallower, captured when the names alone cannot tell how far each
    added layer moves a name's number."""
    recs = cap.records
    runs = _runs(recs, captured)
    if not runs:
        raise NotReplicable(f"no module list with layers 0..{captured - 1}")
    nodes = list(graph.nodes)
    pos = {n.name: p for p, n in enumerate(nodes)}
    record_names = {r.name for r in recs}
    stacks = []
    for path, rr in runs.items():
        sigs = [[_signature(recs[j], path, i) for j in range(a, b)] for i, (a, b) in enumerate(rr)]
        if any(s != sigs[0] for s in sigs[1:]):
            raise NotReplicable(f"the layers of {path} differ")
        # skipped nodes (sizes, asserts) per layer: those between the first operators of the last two captured
        # layers (the first layer may hold one-time nodes, e.g. a size computed once and reused)
        window = nodes[pos[recs[rr[-2][0]].name]:pos[recs[rr[-1][0]].name]]
        skipped = Counter(k for n in window if n.name not in record_names and (k := skipped_key(n)))
        names = _name_steps(recs, rr, path)
        indexed = _layer_ints(recs, rr, path)
        stacks.append(Stack(path, rr, indexed, names, skipped))
    stacks.sort(key=lambda s: s.runs[0][0])
    shifts = _shifts_from_steps(recs, stacks)
    if shifts is None:
        if shallower is None:
            raise NotReplicable("operators after a stack have names its layers lack; no shallower capture given")
        shifts = _shifts_from_shallower(recs, stacks, shallower())
    return Plan(captured, depth, stacks, shifts, frozenset(stacked_inputs))


def _shifts_from_steps(recs: list[NodeRecord], stacks: list[Stack]) -> Optional[list[int]]:
    """Per record, the sum of the name steps of the stacks before it; None when a stack before a record has
    no operator of the record's name (then dead nodes of that name may be in its layers)."""
    out = []
    for j, r in enumerate(recs):
        base, d = split_name(r.name)[0], 0
        for s in stacks:
            if s.runs[-1][1] <= j:
                if base not in s.names:
                    return None
                d += s.names[base]
        out.append(d)
    return out


def _shifts_from_shallower(recs: list[NodeRecord], stacks: list[Stack], cap2: Captured) -> list[int]:
    """Per record, how far its name number moved between a capture one layer shallower (``cap2``) and this
    one: the record's counterpart there is at the same offset from the end of the stack before it (or from
    the start), a layer's at the same offset in the same layer (the last captured layer: the one before)."""
    recs2 = cap2.records
    runs2 = _runs(recs2, len(stacks[0].runs) - 1)
    if set(runs2) != {s.path for s in stacks}:
        raise NotReplicable("the shallower capture has other stacks")
    out: list[int] = []
    for j, r in enumerate(recs):
        j2, same_as = j, None
        for s in stacks:
            rr, rr2 = s.runs, runs2[s.path]
            if j >= rr[-1][1]:
                j2 = rr2[-1][1] + (j - rr[-1][1])           # after the stack: from its end
            elif j >= rr[0][0]:
                i = next(i for i, (a, b) in enumerate(rr) if a <= j < b)
                if i < len(rr2):
                    j2 = rr2[i][0] + (j - rr[i][0])
                else:                                       # the last layer: shifted as the one before
                    same_as = rr[i - 1][0] + (j - rr[i][0])
                break
            else:
                break
        if same_as is not None:
            out.append(out[same_as])
            continue
        if j2 >= len(recs2) or recs2[j2].target != r.target or \
                split_name(recs2[j2].name)[0] != split_name(r.name)[0]:
            raise NotReplicable(f"operator {r.name} has no counterpart in the shallower capture")
        out.append(split_name(r.name)[1] - split_name(recs2[j2].name)[1])
    return out


def _deepened(x: Any, names: frozenset, depth: int) -> Any:
    """``x`` with the tensors of the stacked inputs ``names`` at ``depth`` layers (their first size)."""
    if isinstance(x, TArg):
        return replace(x, shape=(depth,) + tuple(x.shape[1:])) if x.source == "input" and x.name in names else x
    if isinstance(x, (list, tuple)):
        return type(x)(_deepened(y, names, depth) for y in x)
    if isinstance(x, dict):
        return {k: _deepened(v, names, depth) for k, v in x.items()}
    return x


def _renamed(rec: NodeRecord, number: int, path: str = "", old: int = 0, new: int = 0,
             ints: Optional[list[int]] = None) -> NodeRecord:
    name = join_name(split_name(rec.name)[0], number)
    if not path:
        return rec if name == rec.name else replace(rec, name=name)
    src, dst = f"{path}.{old}", f"{path}.{new}"

    def move(m: str) -> str:
        return dst + m[len(src):] if m == src or m.startswith(src + ".") else m
    owner = None if rec.owner is None else (rec.owner[0], rec.owner[1], move(rec.owner[2]))
    args, kwargs = rec.args, rec.kwargs
    if ints:
        args, kwargs = _set_ints([args, kwargs], set(ints), new, [0])
    return replace(rec, name=name, module=move(rec.module), owner=owner, args=args, kwargs=kwargs)


def replicate(cap: Captured, p: Plan) -> Captured:
    """``cap`` (``p.captured`` layers) at ``p.depth`` layers: the last captured layer of each stack repeated,
    names and module paths as a full-depth capture gives them (module notes)."""
    extra = p.depth - p.captured
    recs = cap.records
    ends = {s.runs[-1][1]: s for s in p.stacks}
    out: list[NodeRecord] = []
    skipped = Counter(cap.skipped)
    number = [split_name(r.name)[1] + extra * d for r, d in zip(recs, p.shifts)]
    for j, rec in enumerate(recs + [None]):
        s = ends.get(j)
        if s is not None:
            (a, b), (a1, _) = s.runs[-1], s.runs[-2]
            last = p.captured - 1
            for r in range(1, extra + 1):
                out += [_renamed(recs[i], number[i] + r * (number[i] - number[a1 + i - a]), s.path, last,
                                 last + r, s.indexed.get(i - a)) for i in range(a, b)]
            for k, v in s.skipped.items():
                skipped[k] += v * extra
        if rec is not None:
            out.append(_renamed(rec, number[j]))
    if p.stacked_inputs:
        out = [replace(r, args=_deepened(r.args, p.stacked_inputs, p.depth),
                       kwargs=_deepened(r.kwargs, p.stacked_inputs, p.depth)) for r in out]
    notes = cap.notes + [f"decoder stack{'s' if len(p.stacks) > 1 else ''} "
                         f"{', '.join(s.path for s in p.stacks)} captured at {p.captured} layers and replicated "
                         f"to {p.depth} (identical layers; cimscope.workloads.replicate)"]
    return Captured(cap.method, out, notes=notes, skipped=dict(skipped))
