"""Measure the GEMM/NonGEMM breakdown of a PyTorch model on the hardware at hand (``cimscope profile``).

NonGEMM Bench (R. Karami et al., arXiv 2404.11788; see ../shared/reference/README.md) measured that NonGEMM
operators take 11.3-73.6% of end-to-end inference latency on GPUs (15-48% after fusion). This module measures
the same split on whatever device the user has (CPU, or a CUDA GPU), eager or compiled (``torch.compile``),
and hands the profiler's events to the counting rule of :mod:`cimscope.profile.classes`.

How time is measured
--------------------
``torch.profiler`` records every dispatcher operator call (``aten::conv2d``, ``aten::addmm`` ...) as an event
with its children (``aten::linear`` calls ``aten::t`` and ``aten::addmm``) and, on CUDA, the kernels each
launched. The model runs ``warmup`` times unprofiled (with ``compile``, the first of them compiles), ``runs``
times unprofiled (the wall-clock latency, ``perf_counter``; on CUDA after ``torch.cuda.synchronize()``), then
``runs`` times under the profiler, each run inside a ``cimscope.run`` annotation and each ``nn.Module`` call
inside a ``cimscope.module:<path>`` annotation (forward hooks; eager only, a compiled graph runs no hooks),
all under ``torch.inference_mode()``. Time basis: host self time on CPU; host + device self time on CUDA
(NonGEMM Bench's ``cpu_time + cuda_time`` per operator).
"""
from __future__ import annotations

import contextlib
import math
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Annotated, Any, Callable, Iterable, Optional

from pydantic import Field

from cimscope.errors import InputError, UnknownNameError
from cimscope.ir import GEMM, NONGEMM_CLASSES, OP_CLASSES
from cimscope.profile.classes import (MODULE_ANNOTATION, RUN_ANNOTATION, Classifier, OpRecord, ProfEvent,
                                      group_events)
from cimscope.validation import (BATCH_RANGE, FACTORY_TIMEOUT_S, IMAGE_SIZE_RANGE, SEQ_LEN_RANGE, NonNegInt,
                                 PositiveInt, describe_range, validate)

DEVICES = ("cpu", "cuda")
DTYPES = ("fp32", "fp16", "bf16")
#: How each time basis of the counting rule is reported.
TIME_BASIS = {"host": "host self time", "device": "device kernel self time",
              "host+device": "host + device self time"}


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
        dev, kernels = 0.0, []
        if not annotation:                       # an annotation launches no kernel of its own
            try:
                dev = float(fe.self_device_time_total or 0.0)
            except Exception:                    # events without a device (CPU-only profiles)
                dev = 0.0
            kernels = [(str(getattr(k, "name", k)), float(getattr(k, "duration", 0.0) or 0.0))
                       for k in (getattr(fe, "kernels", None) or [])]
        events.append(ProfEvent(id=fe.id, name=fe.name, parent=parent, self_us=float(fe.self_cpu_time_total),
                                device_self_us=dev, input_shapes=list(fe.input_shapes or []), kernels=kernels))
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
    time_basis: str                  # TIME_BASIS: "host self time" (cpu) | "host + device self time" (cuda)
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


def max_threads() -> int:
    """The most ``--threads`` that make sense here: the CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):             # not Linux
        return max(1, os.cpu_count() or 1)


def _ranged(flag: str, value: Any, low: int, high: Optional[int] = None, why: str = "") -> None:
    tp = Annotated[NonNegInt if low == 0 else PositiveInt, Field(ge=low, le=high)]
    validate(tp, value, flag, describe_range(low, high, integer=True) + why)


def check_options(*, device: str = "cpu", dtype: str = "fp32", runs: int = 1, warmup: int = 0,
                  threads: Optional[int] = None, batch: int = 1, image_size: Optional[int] = None,
                  seq_len: Optional[int] = None) -> None:
    """Raise :class:`InputError`/:class:`UnknownNameError` naming the first bad option (as its CLI flag) and
    its valid values, before anything imports torch (except ``--device cuda``, which asks torch for a GPU).
    ``image_size``/``seq_len`` None: not used (a module measured as given)."""
    if dtype not in DTYPES:
        raise UnknownNameError("dtype", dtype, DTYPES)
    _ranged("--batch", batch, *BATCH_RANGE)
    _ranged("--runs", runs, 1)
    _ranged("--warmup", warmup, 0)
    if image_size is not None:
        _ranged("--image-size", image_size, *IMAGE_SIZE_RANGE, " (pixels)")
    if seq_len is not None:
        _ranged("--seq-len", seq_len, *SEQ_LEN_RANGE, " (tokens)")
    if threads is not None:
        _ranged("--threads", threads, 1, max_threads(), " (the CPUs this process may use)")
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
def quiet_native_stderr():
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


class ModuleAnnotations:
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


def _run_guarded(once: Callable[[], float], *, model: str, dtype: str, device: str) -> float:
    """One timed run; a dtype the device cannot run becomes a one-line InputError."""
    import torch
    try:
        return once()
    except RuntimeError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if dtype != "fp32" and ("Half" in first or "BFloat16" in first or "dtype" in first.lower()):
            raise InputError(f"{model}: dtype {dtype} is not supported on {device} by torch "
                             f"{torch.__version__}: {first}; use --dtype fp32") from None
        raise


def _profiled_runs(module, call: Callable[[], None], sync: Callable[[], None], runs: int, device: str,
                   annotate: bool, tick: Callable[[str], None]) -> tuple[Any, list[float]]:
    """``runs`` runs under torch.profiler, each in a ``cimscope.run`` annotation; returns the profiler's
    events and the wall time of each run."""
    from torch.profiler import ProfilerActivity, profile, record_function

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device == "cuda" else [])
    prof = profile(activities=activities, record_shapes=True)
    walls: list[float] = []
    with (ModuleAnnotations(module) if annotate else contextlib.nullcontext()):
        with quiet_native_stderr():
            prof.__enter__()
        try:
            for _ in range(runs):
                sync()
                t0 = time.perf_counter()
                with record_function(RUN_ANNOTATION):
                    call()
                    sync()
                walls.append(time.perf_counter() - t0)
                tick("profiled")
        finally:
            with quiet_native_stderr():
                prof.__exit__(None, None, None)
    return prof.events(), walls


def profile_module(module, example_inputs: Any, *, model: str, device: str = "cpu", dtype: str = "fp32",
                   runs: int = 5, warmup: int = 2, threads: Optional[int] = None, batch: int = 1,
                   compile: bool = False, meta: Optional[dict] = None, classify: Optional[Classifier] = None,
                   progress: Optional[Callable[[str], None]] = None) -> ModelProfile:
    """Measure ``module(*example_inputs)`` on ``device`` (see the module docstring for the procedure);
    ``compile``: run ``torch.compile(module)`` (its first warm-up run compiles; at least one is made)."""
    import torch

    check_options(device=device, dtype=dtype, runs=runs, warmup=warmup, threads=threads, batch=batch)
    tdtype = _torch_dtype(dtype)
    tick = progress or (lambda _stage: None)
    warmup = max(warmup, 1) if compile else warmup
    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    stack = contextlib.ExitStack()
    try:
        dev = torch.device(device)
        try:
            module = module.to(device=dev, dtype=tdtype).eval()
        except (RuntimeError, TypeError) as exc:
            raise InputError(f"{model}: cannot convert the model to {dtype} on {device}: "
                             f"{str(exc).splitlines()[0]}") from None
        args, kwargs = _split_inputs(example_inputs)
        args, kwargs = _to(args, dev, tdtype), _to(kwargs, dev, tdtype)
        runner = torch.compile(module) if compile else module
        if compile and device == "cpu":          # name every generated C++ kernel in the profile
            import torch._inductor.config as inductor_config
            stack.enter_context(inductor_config.patch({"cpp.enable_kernel_profile": True}))

        def sync() -> None:
            if device == "cuda":
                torch.cuda.synchronize()

        def once() -> float:
            sync()
            t0 = time.perf_counter()
            runner(*args, **kwargs)
            sync()
            return time.perf_counter() - t0

        wall: list[float] = []
        with torch.inference_mode():
            for i in range(warmup + runs):
                dt = _run_guarded(once, model=model, dtype=dtype, device=device)
                if i >= warmup:
                    wall.append(dt)
                tick("warmup" if i < warmup else "timed")
            raw, profiled_wall = _profiled_runs(module, lambda: runner(*args, **kwargs), sync, runs, device,
                                                not compile, tick)
        events, kernel_total_us = events_from_torch(raw)
        basis = "host+device" if device == "cuda" else "host"
        grouping = group_events(events, basis=basis, classify=classify)
        used_threads = torch.get_num_threads()
    finally:
        stack.close()
        torch.set_num_threads(old_threads)

    info = dict(meta or {})
    info.update({"torch": torch.__version__, "cpu_count": os.cpu_count(), "profiled_runs_found": grouping.runs,
                 "execution": "compiled (torch.compile)" if compile else "eager"})
    if device == "cuda":
        info["device_kernel_total_s"] = kernel_total_us / max(1, grouping.runs) * 1e-6
    return ModelProfile(
        model=model, device=device, device_name=_device_name(device), dtype=dtype, batch=batch, runs=runs,
        warmup=warmup, threads=used_threads, time_basis=TIME_BASIS[basis],
        class_time_s=grouping.class_time_s, wall_s=wall, profiled_wall_s=profiled_wall,
        outside_s=grouping.outside_s, ops=grouping.ops, unknown_ops=grouping.unknown_ops, meta=info)


def profile_model(name: str, *, device: str = "cpu", batch: int = 1, dtype: str = "fp32", runs: int = 5,
                  warmup: int = 2, threads: Optional[int] = None, image_size: int = 224, seq_len: int = 128,
                  compile: bool = False, progress: Optional[Callable[[str], None]] = None,
                  timeout_s: Optional[float] = FACTORY_TIMEOUT_S) -> ModelProfile:
    """Build ``name`` with :func:`cimscope.workloads.build_model` (the module the exporter traces; a
    file.py:factory stopped after ``timeout_s`` seconds) and measure it with :func:`profile_module`."""
    check_options(device=device, dtype=dtype, runs=runs, warmup=warmup, threads=threads, batch=batch,
                  image_size=image_size, seq_len=seq_len)
    from cimscope import workloads

    module, example_inputs = workloads.build_model(name, batch=batch, image_size=image_size, seq_len=seq_len,
                                                   timeout_s=timeout_s)
    return profile_module(module, example_inputs, model=name, device=device, dtype=dtype, runs=runs,
                          warmup=warmup, threads=threads, batch=batch, compile=compile,
                          meta={"image_size": image_size, "seq_len": seq_len}, progress=progress)
