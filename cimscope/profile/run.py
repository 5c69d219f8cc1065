"""The ``cimscope profile`` study: measure each model, model it, join the two, into one JSON document.

:func:`profile_models` is the one call the CLI makes: every option and model name is checked first, then
each model is measured (:mod:`cimscope.profile.measure`), modelled (:mod:`cimscope.profile.modelled`:
``a100_like`` and the GPU execution model eager and fused) and joined per class and per call
(:mod:`cimscope.profile.join`). Writers for the result: :mod:`cimscope.profile.report`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable, Optional

from cimscope.errors import CimscopeError, InputError
from cimscope.validation import FACTORY_TIMEOUT_S
from cimscope.profile.join import ClassJoin, OpJoin, join_classes, join_ops, match_summary
from cimscope.profile.measure import ModelProfile, check_options, profile_model
from cimscope.profile.modelled import DEFAULT_ARCH, DEFAULT_PLACEMENT, Modelled, model_network


@dataclass(frozen=True)
class ProfileOptions:
    """What to measure and how (the CLI's options)."""

    device: str = "cpu"
    batch: int = 1
    dtype: str = "fp32"
    runs: int = 5
    warmup: int = 2
    threads: Optional[int] = None
    image_size: int = 224
    seq_len: int = 128
    compile: bool = False
    no_model: bool = False
    timeout_s: Optional[float] = FACTORY_TIMEOUT_S      # file.py:factory models (workloads/contain.py)

    def check(self) -> None:
        check_options(device=self.device, dtype=self.dtype, runs=self.runs, warmup=self.warmup,
                      threads=self.threads, batch=self.batch, image_size=self.image_size, seq_len=self.seq_len)
        from cimscope.workloads.contain import check_timeout
        check_timeout(self.timeout_s)

    @property
    def steps(self) -> int:
        """Progress steps per model: warm-up, timed and profiled runs, and the modelled side."""
        warm = max(self.warmup, 1) if self.compile else self.warmup
        return warm + 2 * self.runs + (0 if self.no_model else 1)


@dataclass
class ModelRun:
    """One model: its measurement, its modelled side (None with ``no_model`` or when that failed), the joins."""

    profile: ModelProfile
    modelled: Optional[Modelled]
    modelled_error: Optional[str]
    classes: list[ClassJoin]
    ops: list[OpJoin]


def gpu_labels(modelled: Modelled) -> dict[str, str]:
    """Column label of each GPU execution model side (``"eager fp16"``, ``"fused fp16"``)."""
    return {ex: f"{ex} {modelled.gpu_dtype}" for ex in modelled.gpu_class_s}


def split_models(spec: str) -> list[str]:
    models = [m.strip() for m in spec.split(",") if m.strip()]
    if not models:
        raise InputError("no model given; name one or more models separated by commas, e.g. resnet50,vit_b_16")
    return models


def profile_one(name: str, options: ProfileOptions, stage: Callable[[str], None],
                warn: Callable[[str], None]) -> ModelRun:
    """Measure, model and join one model (``stage`` is called per progress step, ``warn`` with a message
    when the modelled side fails: the measurement stands on its own)."""
    o = options
    prof = profile_model(name, device=o.device, batch=o.batch, dtype=o.dtype, runs=o.runs, warmup=o.warmup,
                         threads=o.threads, image_size=o.image_size, seq_len=o.seq_len, compile=o.compile,
                         progress=stage, timeout_s=o.timeout_s)
    modelled, error = None, None
    if not o.no_model:
        try:
            modelled = model_network(name, batch=o.batch, image_size=o.image_size, seq_len=o.seq_len,
                                     dtype=o.dtype, timeout_s=o.timeout_s)
        except Exception as exc:                  # report, keep going
            error = f"{'' if isinstance(exc, CimscopeError) else type(exc).__name__ + ': '}{exc}"
            warn(f"{name}: no modelled side: {error}")
        stage("modelled")
    extra = None if modelled is None else {gpu_labels(modelled)[ex]: ct for ex, ct in modelled.gpu_class_s.items()}
    classes = join_classes(prof.class_time_s, None if modelled is None else modelled.class_latency_s, extra=extra)
    ops = join_ops(prof.ops, [] if modelled is None else modelled.workload.ops,
                   None if modelled is None else modelled.ops)
    return ModelRun(profile=prof, modelled=modelled, modelled_error=error, classes=classes, ops=ops)


def profile_models(models: list[str], options: ProfileOptions, *,
                   stage: Optional[Callable[[str, str], None]] = None,
                   warn: Optional[Callable[[str], None]] = None) -> list[ModelRun]:
    """Check everything, then :func:`profile_one` each model. ``stage(model, step)`` reports progress."""
    from cimscope.workloads.zoo import check_model_name

    options.check()
    for name in models:
        check_model_name(name)
    out = []
    for name in models:
        out.append(profile_one(name, options, lambda s, _n=name: (stage or (lambda *_: None))(_n, s),
                               warn or (lambda _m: None)))
    return out


def profile_document(runs: list[ModelRun], options: ProfileOptions) -> dict[str, Any]:
    """The ``--json`` document: options, units and, per model, measured, joined and modelled figures."""
    doc: dict[str, Any] = {
        **{k: v for k, v in asdict(options).items() if k != "no_model"},
        "modelled_arch": None if options.no_model else DEFAULT_ARCH,
        "modelled_placement": None if options.no_model else DEFAULT_PLACEMENT,
        "units": {"time": "s", "share": "% of operator time", "diff_pp": "percentage points (modelled - measured)",
                  "share_ratio": "modelled share / measured share",
                  "extra_share_pct": "% of the GPU execution model's time (cimscope.gpu.execution)"},
        "models": [],
    }
    for run in runs:
        prof, mod = run.profile, run.modelled
        measured = prof.to_dict()
        measured.pop("ops", None)                 # the per-call figures are in "ops" (with the join)
        doc["models"].append({
            "model": prof.model,
            "measured": measured,
            "classes": [r.to_dict() for r in run.classes],
            "ops": [r.to_dict() for r in run.ops],
            "modelled": None if mod is None else {
                "arch": mod.arch, "placement": mod.placement, "primitive": mod.primitive, "engine": mod.engine,
                "total_s": mod.total_s, "class_latency_s": mod.class_latency_s,
                "gpu_execution": {"dtype": mod.gpu_dtype, "class_s": mod.gpu_class_s},
                "op_match": match_summary(run.ops, mod.workload.ops)},
            "modelled_error": run.modelled_error,
        })
    return doc
