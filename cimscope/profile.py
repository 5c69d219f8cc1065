"""Measured GEMM/NonGEMM breakdown of a PyTorch model on the hardware at hand (``cimscope profile``).

NonGEMM Bench (R. Karami et al., arXiv 2404.11788; see ../shared/reference/README.md) measured that NonGEMM
operators take 11.3-73.6% of end-to-end inference latency on GPUs. This module measures the same split on
whatever device the user has (CPU, or a CUDA GPU), with the operator classes of the exporter
(:func:`cimscope.workloads.taxonomy.classify`), so the figures can be set side by side with what cimscope's
own model predicts (:mod:`cimscope.profile_join`).

How time is measured
--------------------
``torch.profiler`` records every dispatcher operator call (``aten::conv2d``, ``aten::addmm`` ...) as an event
with its children (``aten::linear`` calls ``aten::t`` and ``aten::addmm``). The model runs ``warmup`` times
unprofiled, ``runs`` times unprofiled (the wall-clock latency, ``perf_counter``; on CUDA after
``torch.cuda.synchronize()``), then ``runs`` times under the profiler, each run inside a ``cimscope.run``
annotation and each ``nn.Module`` call inside a ``cimscope.module:<path>`` annotation (forward hooks), all
under ``torch.inference_mode()``.

Counting rule (nothing counted twice, nothing dropped)
------------------------------------------------------
1. The unit is an operator event's *self* time: its own time minus its children's. On CPU that is host time
   (``self_cpu_time_total``); on CUDA it is device time, the kernels the event launched itself
   (``self_device_time_total``). Each microsecond is therefore counted once: ``aten::linear``'s self time is
   only its dispatch overhead, the matrix multiply is ``aten::addmm``'s self time.
2. Non-operator events inside an operator (runtime calls, annotations) give their self time to the nearest
   operator above them. Time outside every operator (Python between calls) is reported as ``outside_s`` and
   is not part of the class shares.
3. The class of an operator event's time is decided with the exporter's ``classify(name)`` (its taxonomy
   also knows the fused eager kernels torch.export never shows: ``aten::_native_multi_head_attention`` is
   GEMM, ``aten::_masked_softmax`` logit_computation), by the outermost operator whose class it knows, i.e.
   the call the model made, not a helper it dispatches to:
   - inside a known NonGEMM compute call, every nested operator is part of it: ``aten::clamp_min_`` under
     ``aten::relu_`` is activation (the taxonomy alone would call clamp_min arithmetic); ``aten::mean`` under
     ``aten::adaptive_avg_pool2d`` is pooling; ``aten::index_select`` under ``aten::embedding`` is embedding;
   - inside a GEMM call, helpers (memory ops, ops the taxonomy does not know) are part of it: ``aten::t`` and
     ``aten::addmm`` under ``aten::linear``, ``aten::empty``/``aten::copy_``/``aten::mkldnn_convolution``
     under ``aten::conv2d`` are GEMM; but a known NonGEMM compute step keeps its own class, with its subtree:
     ``aten::_softmax`` inside attention (``aten::_native_multi_head_attention``, the math path of
     ``scaled_dot_product_attention``) is logit_computation, as the exporter splits attention into
     QK^T (GEMM), softmax (logit_computation) and AV (GEMM);
   - outside any known compute call, an operator counts under its own class: ``aten::view``/``aten::permute``/
     ``aten::cat`` called by the model are ``memory``; an unknown helper inside a memory op is memory;
   - an operator the taxonomy does not know, with no known operator above it, counts under classify's
     fallback class and is listed in ``unknown_ops`` with its time, so nothing is silently re-labelled.
   The op that does the work is still the one whose self time is counted (``aten::addmm``, not
   ``aten::linear``); the class is that of the call the model made, as in the exporter's graph.
4. Each top-level operator call (one not nested in another operator) is one measured operator
   (:class:`OpRecord`) with its subtree's time per class; ``work`` names the operator in its subtree with the
   largest self time (``aten::addmm`` for ``aten::linear``), the op that does the work.

All times are per inference: the sum over the profiled runs divided by the number of runs.
"""
from __future__ import annotations

import contextlib
import math
import os
import platform
import re
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable, Optional, Sequence

from cimscope.errors import InputError, UnknownNameError
from cimscope.ir import GEMM, NONGEMM_CLASSES, OP_CLASSES

RUN_ANNOTATION = "cimscope.run"
MODULE_ANNOTATION = "cimscope.module:"
DEVICES = ("cpu", "cuda")
DTYPES = ("fp32", "fp16", "bf16")

#: Dispatcher namespaces whose events are operators (torchvision::nms / roi_align are roi-class operators).
OP_NAMESPACES = ("aten", "torchvision", "quantized", "prims", "prim")
_OP_NAME = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)::[A-Za-z_]")

Classifier = Callable[[str], "tuple[str, bool]"]

def is_op_event(name: str) -> bool:
    """True for dispatcher operator events (``aten::addmm``), False for annotations and runtime calls."""
    m = _OP_NAME.match(name)
    return bool(m) and m.group(1) in OP_NAMESPACES


def _default_classify() -> Classifier:
    from cimscope.workloads.taxonomy import classify
    return classify


# ---------------------------------------------------------------------------------------------------------
# Events and grouping (pure Python: testable on hand-built events)
# ---------------------------------------------------------------------------------------------------------

@dataclass
class ProfEvent:
    """One profiler event, reduced to what the counting rule needs. Times in microseconds (torch's unit)."""

    id: int
    name: str
    parent: Optional[int]            # id of the enclosing event on the same thread, None at top
    self_us: float                   # host self time: own time minus children's
    device_self_us: float = 0.0      # kernel time of the kernels this event launched itself
    input_shapes: list = field(default_factory=list)


@dataclass
class OpRecord:
    """One top-level operator call as measured (per inference, averaged over the profiled runs)."""

    name: str                        # the call the model made, e.g. "aten::linear"
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
    unknown_ops: dict[str, float]    # op name -> seconds counted under classify's fallback class
    outside_s: float                 # time outside every operator (Python, annotations)
    runs: int

    @property
    def total_s(self) -> float:
        return sum(self.class_time_s.values())


def group_events(events: Sequence[ProfEvent], *, use_device: bool = False,
                 classify: Optional[Classifier] = None) -> Grouping:
    """Apply the counting rule of this module's docstring to ``events``.

    Runs are the subtrees of ``cimscope.run`` annotations; if there is none, all events form one run. With
    ``use_device`` the time of an event is its kernel (device) self time, else its host self time.
    """
    classify = classify or _default_classify()
    by_id = {e.id: e for e in events}
    children: dict[Optional[int], list[ProfEvent]] = {}
    for e in events:
        parent = e.parent if e.parent in by_id else None
        children.setdefault(parent, []).append(e)

    run_roots = [e for e in events if e.name == RUN_ANNOTATION]
    if run_roots:
        runs = [[r] for r in run_roots]
    else:
        runs = [children.get(None, [])]
    n_runs = max(1, len(runs))

    cache: dict[str, tuple[str, bool]] = {}

    def cls_of(name: str) -> tuple[str, bool]:
        if name not in cache:
            c, known = classify(name)
            if c not in OP_CLASSES:
                raise ValueError(f"classify({name!r}) returned {c!r}, not one of {', '.join(OP_CLASSES)}")
            cache[name] = (c, bool(known))
        return cache[name]

    class_us = {c: 0.0 for c in OP_CLASSES}
    unknown_us: dict[str, float] = {}
    outside_us = 0.0
    # per run: list of (record dict) in call order
    per_run_records: list[list[dict]] = []

    def t(e: ProfEvent) -> float:
        return float(e.device_self_us if use_device else e.self_us)

    inclusive: dict[int, float] = {}

    def incl(e: ProfEvent) -> float:
        if e.id not in inclusive:
            inclusive[e.id] = t(e) + sum(incl(c) for c in children.get(e.id, []))
        return inclusive[e.id]

    def spine(e: ProfEvent) -> list[str]:
        """The call's dispatch path: from the call down through the heaviest operator child at each level,
        while that child takes more time than the operator's own self time (aten::conv2d ->
        aten::convolution -> aten::_convolution -> aten::mkldnn_convolution; aten::linear -> aten::addmm)."""
        path = [e.name]
        while True:
            ops = [c for c in children.get(e.id, []) if is_op_event(c.name)]
            if not ops:
                return path
            heaviest = max(ops, key=incl)
            if incl(heaviest) < t(e):
                return path
            e = heaviest
            path.append(e.name)

    for roots in runs:
        records: list[dict] = []
        # stack items: (event, module path, top-level record, captor class, nearest known class, owner class)
        stack: list[tuple] = [(r, "", None, None, None, None) for r in reversed(roots)]
        while stack:
            e, module, rec, captor, nearest_known, owner = stack.pop()
            if is_op_event(e.name):
                own, known = cls_of(e.name)
                if captor is not None:
                    if captor == GEMM and known and own not in (GEMM, "memory"):
                        assigned = own               # a NonGEMM step of a composite GEMM call (softmax
                        captor = own                 # inside attention): its own class, and its subtree's
                    else:
                        assigned = captor            # part of the enclosing call
                elif known:
                    assigned = own
                elif nearest_known is not None:
                    assigned = nearest_known         # unknown helper inside a known (memory) operator
                else:
                    assigned = own                   # classify's fallback; listed as unknown
                    unknown_us[e.name] = unknown_us.get(e.name, 0.0) + t(e)
                if rec is None:                      # a top-level operator call
                    rec = {"name": e.name, "module": module, "input_shapes": _plain_shapes(e.input_shapes),
                           "chain": [], "self_by_op": {}, "class_us": {}, "spine": spine(e)}
                    records.append(rec)
                if e.name not in rec["chain"]:
                    rec["chain"].append(e.name)
                rec["self_by_op"][e.name] = rec["self_by_op"].get(e.name, 0.0) + t(e)
                rec["class_us"][assigned] = rec["class_us"].get(assigned, 0.0) + t(e)
                class_us[assigned] += t(e)
                if captor is None and known and own != "memory":
                    captor = own
                child = (module, rec, captor, assigned if known else nearest_known, assigned)
            else:
                if rec is not None:                  # runtime call / annotation inside an operator
                    rec["class_us"][owner] = rec["class_us"].get(owner, 0.0) + t(e)
                    class_us[owner] += t(e)
                else:                                # Python between operators, the annotations themselves
                    outside_us += t(e)
                if e.name.startswith(MODULE_ANNOTATION):
                    module = e.name[len(MODULE_ANNOTATION):]
                child = (module, rec, captor, nearest_known, owner)
            for c in reversed(children.get(e.id, [])):
                stack.append((c,) + child)
        per_run_records.append(records)

    ops = _merge_runs(per_run_records, n_runs)
    return Grouping(
        class_time_s={c: v / n_runs * 1e-6 for c, v in class_us.items()},
        ops=ops,
        unknown_ops={k: v / n_runs * 1e-6 for k, v in sorted(unknown_us.items(), key=lambda kv: -kv[1])},
        outside_s=outside_us / n_runs * 1e-6,
        runs=n_runs,
    )


def _plain_shapes(shapes: Any) -> list:
    out = []
    for s in shapes or []:
        if isinstance(s, (list, tuple)):
            out.append([_plain_shapes(x) if isinstance(x, (list, tuple)) else int(x) for x in s])
        else:
            out.append(s)
    return out


def _merge_runs(per_run: list[list[dict]], n_runs: int) -> list[OpRecord]:
    """Average the top-level calls of all runs: the k-th call with the same (module, name, shapes) in each
    run is the same operator. Order is the first run's call order."""
    merged: dict[tuple, dict] = {}
    order: list[tuple] = []
    for records in per_run:
        seen: dict[tuple, int] = {}
        for r in records:
            base = (r["module"], r["name"], repr(r["input_shapes"]))
            k = seen.get(base, 0)
            seen[base] = k + 1
            key = base + (k,)
            m = merged.get(key)
            if m is None:
                m = merged[key] = {"name": r["name"], "module": r["module"], "input_shapes": r["input_shapes"],
                                   "chain": [], "self_by_op": {}, "class_us": {}, "occurrence": k,
                                   "spine": r["spine"]}
                order.append(key)
            for n in r["chain"]:
                if n not in m["chain"]:
                    m["chain"].append(n)
            for d_src, d_dst in ((r["self_by_op"], m["self_by_op"]), (r["class_us"], m["class_us"])):
                for n, v in d_src.items():
                    d_dst[n] = d_dst.get(n, 0.0) + v
    out = []
    for key in order:
        m = merged[key]
        class_s = {c: v / n_runs * 1e-6 for c, v in m["class_us"].items()}
        work = max(m["self_by_op"], key=lambda n: (m["self_by_op"][n], -m["chain"].index(n)))
        op_class = max(class_s, key=class_s.get) if class_s else "other"
        out.append(OpRecord(name=m["name"], work=work, chain=m["chain"], module=m["module"],
                            input_shapes=m["input_shapes"], op_class=op_class,
                            time_s=sum(class_s.values()), class_time_s=class_s, occurrence=m["occurrence"],
                            spine=m["spine"]))
    return out


def events_from_torch(function_events: Iterable[Any]) -> tuple[list[ProfEvent], float]:
    """Reduce torch.profiler ``FunctionEvent``s to :class:`ProfEvent`s (host-side events, with the device
    time of the kernels each launched). Returns the events and the total device kernel time in us (all
    kernels, attributed to an operator or not), used to report how much of the device time was attributed."""
    events: list[ProfEvent] = []
    kernel_total_us = 0.0
    for fe in function_events:
        annotation = bool(getattr(fe, "is_user_annotation", False)) or fe.name.startswith("cimscope.")
        dtype = str(getattr(fe, "device_type", "DeviceType.CPU"))
        if not dtype.endswith("CPU"):
            # device-side activity: kernels, copies; the GPU mirror of an annotation spans kernels, skip it
            if not annotation:
                kernel_total_us += float(getattr(fe, "device_time_total", 0.0) or 0.0)
            continue
        if getattr(fe, "is_async", False):
            continue
        parent = fe.cpu_parent.id if getattr(fe, "cpu_parent", None) is not None else None
        dev = 0.0
        if not annotation:                       # an annotation launches no kernel of its own
            try:
                dev = float(fe.self_device_time_total or 0.0)
            except Exception:                    # events without a device (CPU-only profiles)
                dev = 0.0
        events.append(ProfEvent(id=fe.id, name=fe.name, parent=parent, self_us=float(fe.self_cpu_time_total),
                                device_self_us=dev, input_shapes=list(fe.input_shapes or [])))
    return events, kernel_total_us


# ---------------------------------------------------------------------------------------------------------
# Measured profile of one model
# ---------------------------------------------------------------------------------------------------------

@dataclass
class ModelProfile:
    """Measured per-class latency of one model on one device (seconds per inference)."""

    model: str
    device: str                      # "cpu" | "cuda"
    device_name: str
    dtype: str
    batch: int
    runs: int
    warmup: int
    threads: int
    time_basis: str                  # "host self time" (cpu) | "device kernel self time" (cuda)
    class_time_s: dict[str, float]
    wall_s: list[float]              # unprofiled end-to-end latency of each timed run
    profiled_wall_s: list[float]     # the same, under the profiler (includes its overhead)
    outside_s: float
    ops: list[OpRecord]
    unknown_ops: dict[str, float]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def total_s(self) -> float:
        return sum(self.class_time_s.values())

    def share_pct(self, op_class: str) -> float:
        total = self.total_s
        return 100.0 * self.class_time_s.get(op_class, 0.0) / total if total > 0 else 0.0

    @property
    def gemm_share_pct(self) -> float:
        return self.share_pct(GEMM)

    @property
    def nongemm_share_pct(self) -> float:
        return sum(self.share_pct(c) for c in NONGEMM_CLASSES)

    @property
    def wall_median_s(self) -> float:
        return statistics.median(self.wall_s) if self.wall_s else math.nan

    def to_dict(self) -> dict:
        d = asdict(self)
        d["total_s"] = self.total_s
        d["share_pct"] = {c: self.share_pct(c) for c in OP_CLASSES}
        d["gemm_share_pct"] = self.gemm_share_pct
        d["nongemm_share_pct"] = self.nongemm_share_pct
        d["wall_median_s"] = self.wall_median_s
        return d


def _torch_dtype(dtype: str):
    import torch
    table = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
    if dtype not in table:
        raise UnknownNameError("dtype", dtype, DTYPES)
    return table[dtype]


def check_options(*, device: str = "cpu", dtype: str = "fp32", runs: int = 1, warmup: int = 0,
                  threads: Optional[int] = None, batch: int = 1, image_size: int = 1, seq_len: int = 1) -> None:
    """Raise :class:`InputError`/:class:`UnknownNameError` naming the first bad option (as its CLI flag)."""
    if dtype not in DTYPES:
        raise UnknownNameError("dtype", dtype, DTYPES)
    for flag, value, least in (("--batch", batch, 1), ("--runs", runs, 1), ("--warmup", warmup, 0),
                               ("--image-size", image_size, 1), ("--seq-len", seq_len, 1)):
        if value < least:
            raise InputError(f"{flag} must be at least {least}, got {value}")
    if threads is not None and threads < 1:
        raise InputError(f"--threads must be at least 1, got {threads}")
    check_device(device)


def check_device(device: str) -> None:
    """Raise :class:`InputError` when ``device`` is unknown or is ``cuda`` with no usable GPU."""
    if device not in DEVICES:
        raise UnknownNameError("device", device, DEVICES)
    if device == "cuda":
        import torch
        if not torch.cuda.is_available():
            built = torch.version.cuda or "none (CPU-only build)"
            raise InputError(
                f"--device cuda: no CUDA GPU is available on this machine (torch.cuda.is_available() is "
                f"False; torch {torch.__version__}, CUDA {built}); run with --device cpu, or on a machine "
                f"with an NVIDIA GPU and a CUDA build of torch")


def _device_name(device: str) -> str:
    if device == "cuda":
        import torch
        return torch.cuda.get_device_name(0)
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _split_inputs(example_inputs: Any) -> tuple[tuple, dict]:
    if isinstance(example_inputs, dict):
        return (), dict(example_inputs)
    if isinstance(example_inputs, (tuple, list)):
        if len(example_inputs) == 2 and isinstance(example_inputs[0], (tuple, list)) \
                and isinstance(example_inputs[1], dict):
            return tuple(example_inputs[0]), dict(example_inputs[1])
        return tuple(example_inputs), {}
    return (example_inputs,), {}


def _to(x: Any, device, dtype):
    import torch
    if isinstance(x, torch.Tensor):
        return x.to(device=device, dtype=dtype) if x.is_floating_point() else x.to(device=device)
    if isinstance(x, (list, tuple)):
        return type(x)(_to(v, device, dtype) for v in x)
    if isinstance(x, dict):
        return {k: _to(v, device, dtype) for k, v in x.items()}
    return x


@contextlib.contextmanager
def _quiet_native_stderr():
    """Silence the profiler library's own start/stop lines (kineto writes them to file descriptor 2, and an
    "ERROR ... gpuGetDeviceCount" line on machines without a GPU); Python exceptions still propagate."""
    os.environ.setdefault("KINETO_LOG_LEVEL", "5")
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):           # no real stderr (embedded use): nothing to silence
        yield
        return
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


class _ModuleAnnotations:
    """Forward hooks that wrap every nn.Module call in a ``cimscope.module:<path>`` profiler annotation."""

    def __init__(self, module) -> None:
        self.module = module
        self.handles: list = []
        self.open: list = []

    def __enter__(self):
        from torch.autograd.profiler import record_function

        for path, sub in self.module.named_modules():
            if not path:
                continue

            def pre(mod, args, _path=path):
                rf = record_function(MODULE_ANNOTATION + _path)
                rf.__enter__()
                self.open.append(rf)

            def post(mod, args, out):
                if self.open:
                    self.open.pop().__exit__(None, None, None)

            self.handles.append(sub.register_forward_pre_hook(pre))
            self.handles.append(sub.register_forward_hook(post))
        return self

    def __exit__(self, *exc) -> None:
        while self.open:
            self.open.pop().__exit__(None, None, None)
        for h in self.handles:
            h.remove()


def profile_module(module, example_inputs: Any, *, model: str, device: str = "cpu", dtype: str = "fp32",
                   runs: int = 5, warmup: int = 2, threads: Optional[int] = None, batch: int = 1,
                   meta: Optional[dict] = None, classify: Optional[Classifier] = None,
                   progress: Optional[Callable[[str], None]] = None) -> ModelProfile:
    """Measure ``module(*example_inputs)`` on ``device`` (see the module docstring for the procedure)."""
    import torch
    from torch.profiler import ProfilerActivity, profile, record_function

    check_options(device=device, dtype=dtype, runs=runs, warmup=warmup, threads=threads, batch=batch)
    tdtype = _torch_dtype(dtype)
    tick = progress or (lambda _stage: None)

    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        dev = torch.device(device)
        try:
            module = module.to(device=dev, dtype=tdtype).eval()
        except (RuntimeError, TypeError) as exc:
            raise InputError(f"{model}: cannot convert the model to {dtype} on {device}: "
                             f"{str(exc).splitlines()[0]}") from None
        args, kwargs = _split_inputs(example_inputs)
        args, kwargs = _to(args, dev, tdtype), _to(kwargs, dev, tdtype)

        def sync() -> None:
            if device == "cuda":
                torch.cuda.synchronize()

        def once() -> float:
            sync()
            t0 = time.perf_counter()
            module(*args, **kwargs)
            sync()
            return time.perf_counter() - t0

        wall: list[float] = []
        profiled_wall: list[float] = []
        with torch.inference_mode():
            for i in range(warmup + runs):
                try:
                    dt = once()
                except RuntimeError as exc:
                    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                    if dtype != "fp32" and ("Half" in first or "BFloat16" in first or "dtype" in first.lower()):
                        raise InputError(f"{model}: dtype {dtype} is not supported on {device} by torch "
                                         f"{torch.__version__}: {first}; use --dtype fp32") from None
                    raise
                if i >= warmup:
                    wall.append(dt)
                tick("warmup" if i < warmup else "timed")
            activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device == "cuda" else [])
            prof = profile(activities=activities, record_shapes=True)
            with _ModuleAnnotations(module):
                with _quiet_native_stderr():
                    prof.__enter__()
                try:
                    for _ in range(runs):
                        sync()
                        t0 = time.perf_counter()
                        with record_function(RUN_ANNOTATION):
                            module(*args, **kwargs)
                            sync()
                        profiled_wall.append(time.perf_counter() - t0)
                        tick("profiled")
                finally:
                    with _quiet_native_stderr():
                        prof.__exit__(None, None, None)
        events, kernel_total_us = events_from_torch(prof.events())
        grouping = group_events(events, use_device=(device == "cuda"), classify=classify)
        used_threads = torch.get_num_threads()
    finally:
        torch.set_num_threads(old_threads)

    info = dict(meta or {})
    info.update({"torch": torch.__version__, "cpu_count": os.cpu_count(),
                 "profiled_runs_found": grouping.runs})
    if device == "cuda":
        info["device_kernel_total_s"] = kernel_total_us / max(1, grouping.runs) * 1e-6
    return ModelProfile(
        model=model, device=device, device_name=_device_name(device), dtype=dtype, batch=batch, runs=runs,
        warmup=warmup, threads=used_threads,
        time_basis="device kernel self time" if device == "cuda" else "host self time",
        class_time_s=grouping.class_time_s, wall_s=wall, profiled_wall_s=profiled_wall,
        outside_s=grouping.outside_s, ops=grouping.ops, unknown_ops=grouping.unknown_ops, meta=info)


def profile_model(name: str, *, device: str = "cpu", batch: int = 1, dtype: str = "fp32", runs: int = 5,
                  warmup: int = 2, threads: Optional[int] = None, image_size: int = 224, seq_len: int = 128,
                  progress: Optional[Callable[[str], None]] = None) -> ModelProfile:
    """Build ``name`` with :func:`cimscope.workloads.build_model` (the module the exporter traces) and
    measure it with :func:`profile_module`."""
    check_options(device=device, dtype=dtype, runs=runs, warmup=warmup, threads=threads, batch=batch,
                  image_size=image_size, seq_len=seq_len)
    from cimscope import workloads

    module, example_inputs = workloads.build_model(name, batch=batch, image_size=image_size, seq_len=seq_len)
    return profile_module(module, example_inputs, model=name, device=device, dtype=dtype, runs=runs,
                          warmup=warmup, threads=threads, batch=batch,
                          meta={"image_size": image_size, "seq_len": seq_len}, progress=progress)
