"""The counting rule of ``cimscope profile``: profiler events -> time per NonGEMM Bench class, per call.

Pure Python on :class:`ProfEvent` records (testable on hand-built events; :mod:`cimscope.profile.measure`
reads them from ``torch.profiler``). Classes are the exporter's (:func:`cimscope.workloads.taxonomy.classify`:
GEMM and NonGEMM Bench's NonGEMM classes).

Counting rule (nothing counted twice, nothing dropped)
------------------------------------------------------
1. The unit is an event's *self* time: its own time minus its children's, on the chosen **basis**:
   ``host`` (``self_cpu_time_total``, the CPU default), ``device`` (the kernels the event launched itself,
   ``self_device_time_total``) or ``host+device`` (both: NonGEMM Bench's ``cpu_time + cuda_time`` per
   operator, artifact ``torch_flow/eval.py``; the CUDA default). ``aten::linear``'s self time is only its
   dispatch overhead, the matrix multiply is ``aten::addmm``'s self time.
2. Non-operator events inside an operator (runtime calls, annotations) give their self time to the nearest
   operator above them. Time outside every operator (Python between calls) is reported as ``outside_s`` and
   is not part of the class shares, except:
3. **compiled kernels** (bases with device time): each kernel launched by a non-operator event outside every
   operator (a compiled graph's launcher: Triton kernels of torch.compile, extern cuBLAS calls) is a call of
   its own, named after the kernel, with the kernel's time (the launcher's host self time goes with its
   first kernel under ``host+device``); so is the event of a compiled CPU kernel (Inductor's C++ kernels
   under ``config.cpp.enable_kernel_profile``: ``graph_0_cpp_fused_add_relu_0``) with its host time. Both are
   classed by :func:`classify_kernel`: Inductor names a kernel after the ATen ops it
   fuses (``triton_poi_fused_add_gelu_3``, ``triton_red_fused_add_native_layer_norm_0``): GEMM if any fused op
   is a GEMM (matmul templates), else for a reduction kernel (``red``/``per``) the first fused op of a
   reduction class (normalization, logit_computation, pooling), else the first op name the taxonomy knows
   (``add_gelu`` -> arithmetic: the producer, as the fused GPU model owns a chain); vendor kernels by
   their library names (``*gemm*``, ``cutlass``, ``xmma``, ``flash``/``fmha`` attention -> GEMM,
   ``softmax`` -> logit_computation, ``layer_norm`` -> normalization); anything else is ``other`` and listed
   in ``unknown_ops``.
4. The class of an operator event's time is that of the outermost operator whose class the taxonomy knows
   (the call the model made, not a helper it dispatches to):
   - inside a known NonGEMM compute call, every nested operator is part of it (``aten::clamp_min_`` under
     ``aten::relu_`` is activation; ``aten::mean`` under ``aten::adaptive_avg_pool2d`` is pooling);
   - inside a GEMM call, helpers (memory ops, unknown ops) are part of it (``aten::t`` under
     ``aten::linear``), but a known NonGEMM compute step keeps its own class with its subtree
     (``aten::_softmax`` inside ``aten::_native_multi_head_attention`` is logit_computation, as the exporter
     splits attention into QK^T, softmax and AV);
   - outside any known compute call an operator counts under its own class (``aten::view`` is memory; an
     unknown helper inside a memory op is memory);
   - an unknown operator with no known operator above it counts under classify's fallback class and is
     listed in ``unknown_ops`` with its time.
5. Each top-level call is one :class:`OpRecord` with its subtree's time per class; ``work`` names the
   operator in its subtree with the largest self time (``aten::addmm`` for ``aten::linear``).

All times are per inference: the sum over the profiled runs divided by the number of runs.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional, Sequence

from cimscope.errors import UnknownNameError
from cimscope.ir import GEMM, OP_CLASSES

RUN_ANNOTATION = "cimscope.run"
MODULE_ANNOTATION = "cimscope.module:"
BASES = ("host", "device", "host+device")

#: Dispatcher namespaces whose events are operators (torchvision::nms / roi_align are roi-class operators).
OP_NAMESPACES = ("aten", "torchvision", "quantized", "prims", "prim")
OP_NAME = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)::[A-Za-z_]")
#: Kernels Inductor generates: Triton on CUDA (``triton_poi_fused_add_0``), C++ on CPU with kernel profiling
#: on (``graph_0_cpp_fused_add_relu_0``).
COMPILED_KERNEL = re.compile(r"^(?:graph_\d+_)?(?:triton_(?P<kind>poi|red|per|tem|for|mm|bmm)_|cpp_)"
                             r"(?:fused_)?(?P<ops>.*?)(?:_\d+)?$")
#: Classes whose operators are reductions: a reduction kernel (``red``/``per``) takes the first of these.
REDUCTION_CLASSES = ("normalization", "logit_computation", "pooling")
#: Vendor-library kernel names (cuBLAS/CUTLASS/cuDNN GEMMs and convolutions, flash attention) and the class
#: of each, checked in order on the lower-cased kernel name.
VENDOR_KERNELS = (
    (("gemm", "cutlass", "xmma", "cublas", "s16816", "h16816", "implicit_convolve", "conv2d", "convolve",
      "flash", "fmha", "attention"), GEMM),
    (("softmax",), "logit_computation"),
    (("layer_norm", "layernorm", "batch_norm", "batchnorm", "group_norm", "rms_norm"), "normalization"),
)

Classifier = Callable[[str], "tuple[str, bool]"]


def is_op_event(name: str) -> bool:
    """True for dispatcher operator events (``aten::addmm``), False for annotations and runtime calls."""
    m = OP_NAME.match(name)
    return bool(m) and m.group(1) in OP_NAMESPACES


def default_classify() -> Classifier:
    from cimscope.workloads.taxonomy import classify
    return classify


def classify_kernel(name: str, classify: Optional[Classifier] = None) -> tuple[str, bool]:
    """Class of a compiled or vendor kernel from its name (module doc, rule 3) and whether it is known."""
    classify = classify or default_classify()
    m = COMPILED_KERNEL.match(name)
    if m:
        tokens = [t for t in m.group("ops").split("_") if t]
        found: list[str] = []
        i = 0
        while i < len(tokens):                     # longest known op name starting at each token
            for j in range(len(tokens), i, -1):
                cls, known = classify("_".join(tokens[i:j]))
                if known:
                    found.append(cls)
                    i = j - 1
                    break
            i += 1
        if found:
            if GEMM in found:
                return GEMM, True
            if m.group("kind") in ("red", "per"):
                found = [c for c in found if c in REDUCTION_CLASSES] or found
            return found[0], True
        return "other", False
    low = name.lower()
    for keys, cls in VENDOR_KERNELS:
        if any(k in low for k in keys):
            return cls, True
    return "other", False


@dataclass
class ProfEvent:
    """One profiler event, reduced to what the counting rule needs. Times in microseconds (torch's unit)."""

    id: int
    name: str
    parent: Optional[int]            # id of the enclosing event on the same thread, None at top
    self_us: float                   # host self time: own time minus children's
    device_self_us: float = 0.0      # kernel time of the kernels this event launched itself
    input_shapes: list = field(default_factory=list)
    kernels: list[tuple[str, float]] = field(default_factory=list)   # (name, us) of the kernels it launched


@dataclass
class OpRecord:
    """One top-level call as measured (per inference, averaged over the profiled runs)."""

    name: str                        # the call the model made, e.g. "aten::linear" (or a compiled kernel)
    work: str                        # operator in its subtree with the largest self time, e.g. "aten::addmm"
    chain: list[str]                 # distinct operator names in its subtree, outermost first
    module: str                      # innermost nn.Module path ("" at the model's top level)
    input_shapes: list
    op_class: str                    # class that got most of its time
    time_s: float                    # its subtree's attributed time
    class_time_s: dict[str, float]
    occurrence: int = 0              # k-th call with the same (module, name, shapes) within one run
    spine: list[str] = field(default_factory=list)   # dispatch path through the heaviest child operator

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Grouping:
    """Result of applying the counting rule to the events of ``runs`` profiled runs (per-inference times)."""

    class_time_s: dict[str, float]
    ops: list[OpRecord]
    unknown_ops: dict[str, float]    # name -> seconds counted under a fallback class
    outside_s: float                 # time outside every operator (Python, annotations)
    runs: int

    @property
    def total_s(self) -> float:
        return sum(self.class_time_s.values())


@dataclass
class _Ctx:
    """What a walked event inherits from the events above it."""

    module: str = ""
    rec: Optional[dict] = None       # the top-level call it belongs to
    captor: Optional[str] = None     # class of the outermost known compute call above
    nearest_known: Optional[str] = None
    owner: Optional[str] = None      # class that non-operator events take


class _Walk:
    """One pass of the counting rule over the event forest (see module doc)."""

    def __init__(self, events: Sequence[ProfEvent], basis: str, classify: Classifier) -> None:
        self.by_id = {e.id: e for e in events}
        self.children: dict[Optional[int], list[ProfEvent]] = {}
        for e in events:
            self.children.setdefault(e.parent if e.parent in self.by_id else None, []).append(e)
        self.basis, self.classify = basis, classify
        self.cache: dict[str, tuple[str, bool]] = {}
        self.inclusive: dict[int, float] = {}
        self.class_us = {c: 0.0 for c in OP_CLASSES}
        self.unknown_us: dict[str, float] = {}
        self.outside_us = 0.0

    def t(self, e: ProfEvent) -> float:
        if self.basis == "host":
            return float(e.self_us)
        if self.basis == "device":
            return float(e.device_self_us)
        return float(e.self_us) + float(e.device_self_us)

    def cls_of(self, name: str, kernel: bool = False) -> tuple[str, bool]:
        key = ("k:" if kernel else "") + name
        if key not in self.cache:
            c, known = classify_kernel(name, self.classify) if kernel else self.classify(name)
            if c not in OP_CLASSES:
                raise ValueError(f"classify({name!r}) returned {c!r}, not one of {', '.join(OP_CLASSES)}")
            self.cache[key] = (c, bool(known))
        return self.cache[key]

    def incl(self, e: ProfEvent) -> float:
        if e.id not in self.inclusive:
            self.inclusive[e.id] = self.t(e) + sum(self.incl(c) for c in self.children.get(e.id, []))
        return self.inclusive[e.id]

    def spine(self, e: ProfEvent) -> list[str]:
        """Dispatch path: down through the heaviest operator child while it outweighs the self time."""
        path = [e.name]
        while True:
            ops = [c for c in self.children.get(e.id, []) if is_op_event(c.name)]
            if not ops:
                return path
            heaviest = max(ops, key=self.incl)
            if self.incl(heaviest) < self.t(e):
                return path
            e = heaviest
            path.append(e.name)

    def add(self, rec: dict, name: Optional[str], cls: str, us: float) -> None:
        if name is not None:
            if name not in rec["chain"]:
                rec["chain"].append(name)
            rec["self_by_op"][name] = rec["self_by_op"].get(name, 0.0) + us
        rec["class_us"][cls] = rec["class_us"].get(cls, 0.0) + us
        self.class_us[cls] += us

    def new_record(self, e: ProfEvent, module: str, records: list[dict]) -> dict:
        rec = {"name": e.name, "module": module, "input_shapes": plain_shapes(e.input_shapes), "chain": [],
               "self_by_op": {}, "class_us": {}, "spine": self.spine(e)}
        records.append(rec)
        return rec

    def op_event(self, e: ProfEvent, ctx: _Ctx, records: list[dict]) -> _Ctx:
        own, known = self.cls_of(e.name)
        captor = ctx.captor
        if captor is not None:
            if captor == GEMM and known and own not in (GEMM, "memory"):
                assigned = captor = own              # a NonGEMM step of a composite GEMM call
            else:
                assigned = captor                    # part of the enclosing call
        elif known:
            assigned = own
        elif ctx.nearest_known is not None:
            assigned = ctx.nearest_known             # unknown helper inside a known (memory) operator
        else:
            assigned = own                           # classify's fallback; listed as unknown
            self.unknown_us[e.name] = self.unknown_us.get(e.name, 0.0) + self.t(e)
        rec = ctx.rec if ctx.rec is not None else self.new_record(e, ctx.module, records)
        self.add(rec, e.name, assigned, self.t(e))
        if captor is None and known and own != "memory":
            captor = own
        return _Ctx(ctx.module, rec, captor, assigned if known else ctx.nearest_known, assigned)

    def other_event(self, e: ProfEvent, ctx: _Ctx, records: list[dict]) -> _Ctx:
        module = e.name[len(MODULE_ANNOTATION):] if e.name.startswith(MODULE_ANNOTATION) else ctx.module
        if ctx.rec is not None:                      # runtime call / annotation inside a call
            self.add(ctx.rec, None, ctx.owner, self.t(e))
            return _Ctx(module, ctx.rec, ctx.captor, ctx.nearest_known, ctx.owner)
        if e.kernels and self.basis != "host":       # a compiled graph's kernel launches (rule 3)
            host = 0.0 if self.basis == "device" else float(e.self_us)
            rec = None
            for name, us in e.kernels:
                cls, known = self.cls_of(name, kernel=True)
                t = float(us) + host
                host = 0.0                           # the launcher's host time goes with its first kernel
                if not known:
                    self.unknown_us[name] = self.unknown_us.get(name, 0.0) + t
                rec = self.new_record(ProfEvent(e.id, name, e.parent, 0.0), module, records)
                self.add(rec, name, cls, t)
            return _Ctx(module, rec, cls, cls, cls)
        if COMPILED_KERNEL.match(e.name):            # a compiled CPU kernel's own event (rule 3)
            cls, known = self.cls_of(e.name, kernel=True)
            if not known:
                self.unknown_us[e.name] = self.unknown_us.get(e.name, 0.0) + self.t(e)
            rec = self.new_record(e, module, records)
            self.add(rec, e.name, cls, self.t(e))
            return _Ctx(module, rec, cls, cls, cls)
        self.outside_us += self.t(e)                 # Python between calls, the annotations themselves
        return _Ctx(module, None, ctx.captor, ctx.nearest_known, ctx.owner)

    def run(self, roots: list[ProfEvent]) -> list[dict]:
        records: list[dict] = []
        stack = [(r, _Ctx()) for r in reversed(roots)]
        while stack:
            e, ctx = stack.pop()
            handler = self.op_event if is_op_event(e.name) else self.other_event
            child = handler(e, ctx, records)
            for c in reversed(self.children.get(e.id, [])):
                stack.append((c, child))
        return records


def group_events(events: Sequence[ProfEvent], *, use_device: bool = False, basis: Optional[str] = None,
                 classify: Optional[Classifier] = None) -> Grouping:
    """Apply the counting rule of this module's docstring to ``events``.

    Runs are the subtrees of ``cimscope.run`` annotations; if there is none, all events form one run.
    ``basis``: one of :data:`BASES` (default ``device`` if ``use_device`` else ``host``).
    """
    basis = basis or ("device" if use_device else "host")
    if basis not in BASES:
        raise UnknownNameError("time basis", basis, BASES)
    walk = _Walk(events, basis, classify or default_classify())
    run_roots = [e for e in events if e.name == RUN_ANNOTATION]
    runs = [[r] for r in run_roots] if run_roots else [walk.children.get(None, [])]
    n_runs = max(1, len(runs))
    per_run = [walk.run(roots) for roots in runs]
    return Grouping(
        class_time_s={c: v / n_runs * 1e-6 for c, v in walk.class_us.items()},
        ops=merge_runs(per_run, n_runs),
        unknown_ops={k: v / n_runs * 1e-6 for k, v in sorted(walk.unknown_us.items(), key=lambda kv: -kv[1])},
        outside_s=walk.outside_us / n_runs * 1e-6,
        runs=n_runs,
    )


def plain_shapes(shapes: Any) -> list:
    out = []
    for s in shapes or []:
        if isinstance(s, (list, tuple)):
            out.append([plain_shapes(x) if isinstance(x, (list, tuple)) else int(x) for x in s])
        else:
            out.append(s)
    return out


def merge_runs(per_run: list[list[dict]], n_runs: int) -> list[OpRecord]:
    """Average the top-level calls of all runs: the k-th call with the same (module, name, shapes) in each
    run is the same call. Order is the first run's call order."""
    merged: dict[tuple, dict] = {}
    order: list[tuple] = []
    for records in per_run:
        seen: dict[tuple, int] = {}
        for r in records:
            base = (r["module"], r["name"], repr(r["input_shapes"]))
            k = seen.get(base, 0)
            seen[base] = k + 1
            m = merged.get(base + (k,))
            if m is None:
                m = merged[base + (k,)] = {"name": r["name"], "module": r["module"],
                                           "input_shapes": r["input_shapes"], "chain": [], "self_by_op": {},
                                           "class_us": {}, "occurrence": k, "spine": r["spine"]}
                order.append(base + (k,))
            m["chain"].extend(n for n in r["chain"] if n not in m["chain"])
            for d_src, d_dst in ((r["self_by_op"], m["self_by_op"]), (r["class_us"], m["class_us"])):
                for n, v in d_src.items():
                    d_dst[n] = d_dst.get(n, 0.0) + v
    out = []
    for key in order:
        m = merged[key]
        class_s = {c: v / n_runs * 1e-6 for c, v in m["class_us"].items()}
        work = max(m["self_by_op"], key=lambda n: (m["self_by_op"][n], -m["chain"].index(n))) \
            if m["self_by_op"] else m["name"]
        op_class = max(class_s, key=class_s.get) if class_s else "other"
        out.append(OpRecord(name=m["name"], work=work, chain=m["chain"], module=m["module"],
                            input_shapes=m["input_shapes"], op_class=op_class, time_s=sum(class_s.values()),
                            class_time_s=class_s, occurrence=m["occurrence"], spine=m["spine"]))
    return out
