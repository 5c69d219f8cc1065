"""cimscope.workloads: PyTorch models -> Workload[Op] (Einsums) -> Timeloop v0.4 problems.

Public API::

    export_model(model, *, batch=1, image_size=None, seq_len=128, weight_bits=8, act_bits=8,
                 cache_dir=None, capture="auto", phase="prefill", kv_len=None) -> Workload
    known_models() -> list[str]
    build_model(name, *, batch=1, image_size=None, seq_len=128, phase="prefill", kv_len=None)
        -> (nn.Module, example_inputs)
    save_workload(wl, path) / load_workload(path) -> Workload
    taxonomy.classify(target) -> (class, known)
    problem.op_to_problem(op) -> dict ; problem.write_problems(workload, out_dir) -> list[Path]
    summary.summarize(workload) -> dict
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import time
from pathlib import Path
from typing import Any, Optional

from cimscope import __version__
from cimscope.errors import InputError
from cimscope.ir import Workload
from cimscope.validation import in_range
from cimscope.workloads import symbolic
from cimscope.workloads.contain import DEFAULT_TIMEOUT_S, check_timeout, contained
from cimscope.workloads.zoo import (build, build_model, check_model_name, check_phase, check_sizes,
                                    config_source, default_image_size, is_factory_spec, known_models,
                                    model_fingerprint)

__all__ = ["export_model", "check_export_options", "known_models", "build_model", "save_workload",
           "load_workload", "cache_key", "EXPORT_FORMAT", "DEFAULT_TIMEOUT_S"]

#: Bit widths of weights and activations (the range of :data:`cimscope.validation.Bits`).
BITS_RANGE: tuple[int, int] = (1, 64)

#: Bumped whenever the lowering changes what an export produces (part of the cache key).
EXPORT_FORMAT = 2          # 2: meta-device builds, grouped_mm/roi lowerings, composite owners


def cache_key(model: str, *, batch: int, image_size: Optional[int], seq_len: int, weight_bits: int,
              act_bits: int, capture: str = "auto", phase: str = "prefill", kv_len: Optional[int] = None) -> str:
    """Key of the on-disk cache: every option, the model definition, torch/cimscope versions, format."""
    payload = {"model": model, "fingerprint": model_fingerprint(model), "batch": batch, "image_size": image_size,
               "seq_len": seq_len, "weight_bits": weight_bits, "act_bits": act_bits, "capture": capture,
               "phase": phase, "kv_len": kv_len, "cimscope": __version__, "format": EXPORT_FORMAT}
    # torch and the model libraries' versions (their definitions are part of what is cached), read from the
    # installed distributions' metadata: importing torch/transformers here cost seconds on every cached run
    for lib in ("torch", "torchvision", "transformers"):
        try:
            payload[lib] = importlib.metadata.version(lib)
        except importlib.metadata.PackageNotFoundError:  # pragma: no cover - not installed
            pass
    return hashlib.sha1(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def export_model(model: str, *, batch: int = 1, image_size: Optional[int] = None, seq_len: int = 128,
                 weight_bits: int = 8, act_bits: int = 8, cache_dir: Optional[str] = None,
                 capture: str = "auto", phase: str = "prefill", kv_len: Optional[int] = None,
                 timeout_s: Optional[float] = DEFAULT_TIMEOUT_S) -> Workload:
    """Export ``model`` (a known name, or ``path/to/file.py:factory``) to a :class:`Workload` of Einsum Ops in
    execution order.

    ``image_size`` None is the model's default (224 px; SegFormer 512, DETR and the R-CNNs 800). Language
    models: ``phase`` "prefill" (``seq_len`` tokens) or "decode" (one token with a KV cache of ``kv_len``
    tokens, default ``seq_len``); longer than the model's position limit: extended by config, with a warning.
    Named models are built on the meta device (no weight in memory).

    ``capture``: "auto" (torch.export, falling back to torch.fx), "export" or "fx". With ``cache_dir``, the
    result is cached on disk under a key of every option + torch version (atomic writes); a cached workload
    is returned as is. Every option is checked (:func:`check_export_options`) before torch is imported. A
    ``file.py:factory`` model runs contained (:mod:`cimscope.workloads.contain`): its stdout goes to stderr, it
    is stopped after ``timeout_s`` seconds (None: no limit) and sys.exit is an ExportError.
    Raises UnknownNameError (unknown model; lists the known ones), InputError (bad option)
    or ExportError (the model cannot be captured; names the construct and what to try).
    """
    check_export_options(model, batch=batch, image_size=image_size, seq_len=seq_len, weight_bits=weight_bits,
                         act_bits=act_bits, capture=capture, phase=phase, kv_len=kv_len, timeout_s=timeout_s)
    opts = dict(batch=batch, image_size=image_size, seq_len=seq_len, weight_bits=weight_bits, act_bits=act_bits,
                phase=phase, kv_len=kv_len)
    if image_size is None:
        opts["image_size"] = default_image_size(model)
    cache_file: Optional[Path] = None
    if cache_dir is not None:
        cache_file = Path(cache_dir) / f"{safe_name(model)}-{cache_key(model, capture=capture, **opts)}.json"
        if cache_file.is_file():
            try:
                return Workload.from_dict(json.loads(cache_file.read_text(encoding="utf-8")))
            except (ValueError, KeyError, TypeError):
                pass                                  # unreadable cache entry: export again and replace it
    if is_factory_spec(model):
        with contained(model, timeout_s):            # load, factory call and capture run the user's code
            wl = _export(model, capture=capture, timeout_s=timeout_s, **opts)
    else:
        wl = _export(model, capture=capture, timeout_s=timeout_s, **opts)
    if cache_file is not None:
        from cimscope.atomic import write_text
        try:
            write_text(cache_file, json.dumps(wl.to_dict(), default=str))
        except OSError as exc:
            raise InputError(f"cannot write the export cache {str(cache_file)!r} "
                             f"({exc.strerror or exc}); give a writable cache folder") from None
    return wl


def check_export_options(model: str, *, batch: Any = 1, image_size: Any = None, seq_len: Any = 128,
                         weight_bits: Any = 8, act_bits: Any = 8, capture: str = "auto", phase: str = "prefill",
                         kv_len: Any = None, timeout_s: Any = DEFAULT_TIMEOUT_S) -> None:
    """Every option of :func:`export_model` checked, with no torch import and nothing built or written (the
    CLI calls it before it makes a folder): sizes in the ranges of :mod:`cimscope.validation`, bit widths
    1-64, a known capture mode, phase and KV length, a known model name, the timeout. One-line
    :class:`InputError` (UnknownNameError for a model name) naming the option and its valid values."""
    check_sizes(batch=batch, image_size=image_size, seq_len=seq_len, kv_len=kv_len)
    in_range(weight_bits, "--weight-bits", *BITS_RANGE)
    in_range(act_bits, "--act-bits", *BITS_RANGE)
    from cimscope.workloads.capture import CAPTURE_MODES     # (no torch at import)
    if capture not in CAPTURE_MODES:
        raise InputError(f"unknown capture mode {capture!r}; valid capture modes: {', '.join(CAPTURE_MODES)}")
    check_timeout(timeout_s)
    check_model_name(model)
    check_phase(model, phase, kv_len)


def safe_name(name: str) -> str:
    """A file-name-safe stem for a model name (a factory spec gives its file's stem), at most 60 characters."""
    stem = Path(name.split(":")[0]).stem if is_factory_spec(name) else name
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)[:60]


def _export(model: str, *, batch: int, image_size: Optional[int], seq_len: int, weight_bits: int, act_bits: int,
            capture: str, phase: str, kv_len: Optional[int], timeout_s: Optional[float]) -> Workload:
    import torch
    from cimscope.workloads.capture import capture as do_capture
    from cimscope.workloads.lower import lower_captured

    t0 = time.perf_counter()
    reused = False
    if capture in ("export", "auto") and symbolic.eligible(model, seq_len=seq_len, phase=phase, kv_len=kv_len):
        # text models: one capture with a symbolic length serves every length (cached in this process)
        cap, notes, reused = symbolic.capture_text(model, batch=batch, seq_len=seq_len, phase=phase,
                                                   kv_len=kv_len, mode=capture)
        input_shapes = _text_input_shapes(model, batch, seq_len, phase, kv_len)
        t1, t2 = t0, time.perf_counter()              # the build is part of a (new) symbolic capture
    else:
        # torch.export reads shapes only: named models are built on the meta device (same graph as real
        # weights, measured on resnet18; Llama-2-7B in < 1 GB). torch.fx's ShapeProp runs the module.
        built = build(model, batch=batch, image_size=image_size, seq_len=seq_len, phase=phase, kv_len=kv_len,
                      device="meta" if capture in ("export", "auto") else None, timeout_s=timeout_s)
        notes, input_shapes = built.notes, [list(t.shape) for t in built.inputs if hasattr(t, "shape")]
        t1 = time.perf_counter()
        cap = do_capture(built.module, built.inputs, mode=capture, label=model)
        t2 = time.perf_counter()
    ops = lower_captured(cap, weight_bits=weight_bits, act_bits=act_bits)
    t3 = time.perf_counter()
    meta = {
        "capture": cap.method,
        "capture_notes": cap.notes,
        "assumptions": notes,
        "capture_reused": reused,
        "phase": phase,
        "kv_len": (kv_len if kv_len is not None else seq_len) if phase == "decode" else None,
        "config_source": config_source(model),
        "batch": batch,
        "image_size": image_size,
        "seq_len": seq_len,
        "weight_bits": weight_bits,
        "act_bits": act_bits,
        "input_shapes": input_shapes,
        "torch": torch.__version__,
        "skipped_nodes": cap.skipped,
        "export_seconds": {"build": round(t1 - t0, 3), "capture": round(t2 - t1, 3), "lower": round(t3 - t2, 3)},
    }
    return Workload(model=model, ops=ops, batch=batch, meta=meta)


def _text_input_shapes(model: str, batch: int, seq_len: int, phase: str, kv_len: Optional[int]) -> list:
    """Input shapes of a text model's export (ids; decode: ids and the K and V caches)."""
    if phase != "decode":
        return [[batch, seq_len]]
    from cimscope.workloads.hf import kv_cache_shape
    past = kv_cache_shape(model, batch, kv_len if kv_len is not None else seq_len)
    return [[batch, 1], past, past]


def save_workload(wl: Workload, path: str | os.PathLike) -> Path:
    """Write ``workload.yaml`` (atomic). Projections are written as nested lists."""
    import yaml
    from cimscope.atomic import write_text
    data = json.loads(json.dumps(wl.to_dict(), default=str))      # tuples -> lists, plain types only
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    text = yaml.dump(data, Dumper=dumper, sort_keys=False, default_flow_style=None, width=120)
    return write_text(path, text)


def load_workload(path: str | os.PathLike) -> Workload:
    """Read a ``workload.yaml`` written by :func:`save_workload` (JSON is accepted too)."""
    import yaml
    p = Path(path)
    if p.is_dir():
        p = p / "workload.yaml"
    if not p.is_file():
        raise InputError(f"workload file {str(p)!r} does not exist")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(p.read_text(encoding="utf-8"), Loader=loader)
    except yaml.YAMLError as exc:
        raise InputError(f"{p}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or "ops" not in data or "model" not in data:
        raise InputError(f"{p}: not a cimscope workload (needs 'model' and 'ops')")
    try:
        return Workload.from_dict(data)
    except (TypeError, ValueError, KeyError) as exc:
        raise InputError(f"{p}: invalid workload: {exc}") from exc
