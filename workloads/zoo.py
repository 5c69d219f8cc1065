"""Model registry: build an ``nn.Module`` and its example inputs from a name, with no download.

Three kinds of MODEL:

* a torchvision classification model name (``resnet18``, ``vit_b_16`` ...), built with ``weights=None``;
* a Hugging Face architecture built from its published configuration (configs.HF_MODELS: ``bert-base-uncased``,
  ``gpt2``/``-large``/``-xl``, ``llama-2-7b``, ``llama-3-8b``, ``mistral-7b``, ``mixtral-8x7b``, ``segformer-b0``
  ... ``-b5``, ``detr-resnet-50``, ``maskformer-swin-base``; ``llama-tiny``/``mixtral-tiny`` for tests);
* a torchvision detection model (``maskrcnn_resnet50_fpn``, ``fasterrcnn_resnet50_fpn``, see detection.py);
* ``path/to/file.py:factory``: ``factory(batch=..., image_size=..., seq_len=...)`` (it may take any subset of
  these keywords, or none) returns an ``nn.Module`` (fed an image batch ``[batch, 3, S, S]``) or a tuple
  ``(module, example_inputs)``.

Weights are random: exports need shapes, never trained values.
"""
from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any, Callable, NamedTuple, Optional

from cimscope.errors import ExportError, InputError, UnknownNameError
from cimscope.validation import BATCH_RANGE, IMAGE_SIZE_RANGE, SEQ_LEN_RANGE, in_range
from cimscope.workloads.contain import DEFAULT_TIMEOUT_S, check_timeout, contained
from cimscope.workloads.configs import HF_MODELS, HFSpec  # noqa: F401  (HFSpec: re-exported)
from cimscope.workloads.detection import DETECTION_MODELS

#: torchvision classification models exposed by name (weights=None). Extra torchvision names also work.
TORCHVISION_MODELS = (
    "alexnet", "vgg11", "vgg16", "vgg19", "resnet18", "resnet34", "resnet50", "resnet101", "mobilenet_v2",
    "mobilenet_v3_small", "mobilenet_v3_large", "efficientnet_b0", "squeezenet1_0", "densenet121",
    "googlenet", "shufflenet_v2_x1_0", "regnet_y_400mf", "convnext_tiny", "vit_b_16", "vit_b_32", "swin_t",
    # NonGEMM Bench's Swin-T/S/B and ViT-B/L/H (torchvision's definitions of the published models)
    "swin_s", "swin_b", "vit_l_16", "vit_h_14",
)


class Built(NamedTuple):
    """A model ready to capture: the module, its example inputs, and notes on assumptions made building it."""

    module: Any
    inputs: tuple
    notes: list


def known_models() -> list[str]:
    """Every model name ``build_model``/``export_model`` accept (besides ``file.py:factory``)."""
    return sorted(set(TORCHVISION_MODELS) | set(HF_MODELS) | set(DETECTION_MODELS))


def is_factory_spec(name: str) -> bool:
    return ".py:" in name or name.endswith(".py")


def check_model_name(name: str) -> None:
    """Raise :class:`UnknownNameError` (listing the known names) unless ``name`` is a known model, another
    torchvision classification model, or a ``file.py:factory`` spec (whose file is checked when built)."""
    if is_factory_spec(name) or name in known_models() or _torchvision_has(name):
        return
    raise UnknownNameError("model", name, known_models(),
                           hint="Or give path/to/file.py:factory returning an nn.Module "
                                "or (module, example_inputs)")


def model_fingerprint(name: str) -> str:
    """A string that changes when the model definition changes (the factory file's content for file models)."""
    if is_factory_spec(name):
        path, _ = _split_factory(name)
        try:
            return hashlib.sha1(Path(path).read_bytes()).hexdigest()
        except OSError:
            return "missing"
    return name


def build_model(name: str, *, batch: int = 1, image_size: Optional[int] = None, seq_len: int = 128,
                device: str | None = None, phase: str = "prefill", kv_len: Optional[int] = None,
                timeout_s: Optional[float] = DEFAULT_TIMEOUT_S) -> tuple["torch.nn.Module", tuple]:  # noqa: F821
    """Build ``(module, example_inputs)`` for ``name`` in eval mode, with random weights and no download
    (see :func:`build` for the options; ``device=None`` gives real weights, as eager profiling needs)."""
    built = build(name, batch=batch, image_size=image_size, seq_len=seq_len, device=device, phase=phase,
                  kv_len=kv_len, timeout_s=timeout_s)
    return built.module, built.inputs


def build(name: str, *, batch: int = 1, image_size: Optional[int] = None, seq_len: int = 128,
          device: str | None = None, phase: str = "prefill", kv_len: Optional[int] = None,
          timeout_s: Optional[float] = DEFAULT_TIMEOUT_S, layers: Optional[int] = None) -> Built:
    """Build ``name`` in eval mode with random weights and no download, with its example inputs and notes.

    ``device="meta"``: parameters and inputs are shapes only, no memory (what torch.export needs; Llama-2-7B
    is captured in < 1 GB). ``device="uninitialized"``: torchvision models in uninitialised CPU memory (the
    fx fallback runs the module). ``device=None``: real random weights (eager profiling). ``image_size``
    None is the model's own default (224 px; SegFormer 512, DETR 800 ...). ``phase``/``kv_len``: decoder
    LLMs, see :mod:`cimscope.workloads.hf`; ``layers``: a Hugging Face decoder built with that many layers
    (:mod:`cimscope.workloads.replicate`). A factory file runs contained (:mod:`cimscope.workloads.contain`:
    its stdout to stderr, stopped after ``timeout_s`` seconds, sys.exit reported as an error).

    Raises :class:`UnknownNameError` (listing the known names) for an unknown name, :class:`InputError` for
    bad sizes, and :class:`ExportError` when a factory file cannot be loaded or returns something else.
    """
    check_sizes(batch=batch, image_size=image_size, seq_len=seq_len, kv_len=kv_len)
    check_timeout(timeout_s)
    check_model_name(name)
    check_phase(name, phase, kv_len)
    import torch

    notes: list = []
    if is_factory_spec(name):
        with contained(name, timeout_s):
            module, inputs = _build_factory(name, batch=batch, image_size=image_size or 224, seq_len=seq_len)
    elif name in HF_MODELS:
        from cimscope.workloads.hf import build_hf
        module, inputs, notes = build_hf(name, batch=batch, seq_len=seq_len, image_size=image_size, phase=phase,
                                         kv_len=kv_len, device="meta" if device == "meta" else None,
                                         layers=layers)
    elif name in DETECTION_MODELS:
        from cimscope.workloads.detection import build_detection
        module, inputs, notes = build_detection(name, batch=batch, image_size=image_size,
                                                device="meta" if device == "meta" else None)
    else:                                 # a torchvision classification model (check_model_name passed)
        size = image_size or 224
        if device == "uninitialized":
            with torch.device("meta"):
                module, _ = _build_torchvision(name, batch=batch, image_size=size)
            module = module.to_empty(device="cpu")
            inputs = (torch.randn(batch, 3, size, size),)
        elif device is not None:
            with torch.device(device):
                module, inputs = _build_torchvision(name, batch=batch, image_size=size)
        else:
            module, inputs = _build_torchvision(name, batch=batch, image_size=size)
    module.eval()
    torch.manual_seed(0)
    return Built(module, tuple(inputs), list(notes))


def check_sizes(*, batch: Any, image_size: Any, seq_len: Any, kv_len: Any = None) -> None:
    """The input-shape options checked against the ranges of :mod:`cimscope.validation` (the same ones
    evaluate/compare/profile use); one-line :class:`InputError` naming the option and its range otherwise.
    Light: no torch import, nothing built (every door calls it first)."""
    in_range(batch, "--batch", *BATCH_RANGE)
    if image_size is not None:
        in_range(image_size, "--image-size", *IMAGE_SIZE_RANGE, " (pixels)")
    in_range(seq_len, "--seq", *SEQ_LEN_RANGE, " (tokens)")
    if kv_len is not None:
        in_range(kv_len, "--kv-len", 0, SEQ_LEN_RANGE[1], " (tokens)")


def default_image_size(name: str) -> int:
    """The input size (px) a model is exported at when none is given: its published evaluation size."""
    if name in HF_MODELS:
        return HF_MODELS[name].image_size
    if name in DETECTION_MODELS:
        from cimscope.workloads.detection import IMAGE_SIZE
        return IMAGE_SIZE
    return 224


def config_source(name: str) -> str:
    """Where the model's definition comes from (published config, torchvision builder, factory file)."""
    if name in HF_MODELS:
        return HF_MODELS[name].source
    if name in DETECTION_MODELS or not is_factory_spec(name):
        return f"torchvision.models.{name} (weights=None)"
    return f"factory {name}"


def check_phase(name: str, phase: str, kv_len: Optional[int]) -> None:
    """Raise :class:`InputError` unless ``phase``/``kv_len`` fit model ``name`` (decode: decoder LLMs only)."""
    from cimscope.workloads.hf import PHASES
    if phase not in PHASES:
        raise InputError(f"unknown phase {phase!r}; valid phases: {', '.join(PHASES)}")
    if kv_len is not None and phase != "decode":
        raise InputError("--kv-len applies to --phase decode only (one decoding step with a KV cache)")
    if kv_len is not None and kv_len < 0:
        raise InputError(f"--kv-len must be >= 0, got {kv_len}")
    if phase == "decode" and name not in llm_names():
        what = f"an {HF_MODELS[name].kind} model" if name in HF_MODELS else "not a language model"
        raise InputError(f"--phase decode needs a decoder language model; {name} is {what} "
                         f"(decoders: {', '.join(llm_names())})")


def llm_names() -> list[str]:
    """The names taking ``phase``/``kv_len`` (decoder language models)."""
    return sorted(n for n, s in HF_MODELS.items() if s.kind == "decoder")


def _torchvision_has(name: str) -> bool:
    try:
        import torchvision
        return name in torchvision.models.list_models(module=torchvision.models)
    except Exception:  # pragma: no cover - torchvision missing or API change
        return False


def _build_torchvision(name: str, *, batch: int, image_size: int):
    import torch
    import torchvision

    torch.manual_seed(0)
    kwargs: dict[str, Any] = {"weights": None}
    if name.startswith("vit_") and image_size != 224:
        kwargs["image_size"] = image_size   # ViT's position embedding is sized for its image size
    model = torchvision.models.get_model(name, **kwargs)
    return model, (torch.randn(batch, 3, image_size, image_size),)


def _split_factory(spec: str) -> tuple[str, str]:
    if ".py:" in spec:
        path, func = spec.rsplit(":", 1)
    else:
        path, func = spec, ""
    return path, func


def _one_line(exc: BaseException, limit: int = 300) -> str:
    """An exception's message on one line (an error is one line on stderr)."""
    return " ".join(str(exc).split())[:limit]


def _build_factory(spec: str, *, batch: int, image_size: int, seq_len: int):
    import torch

    path, func_name = _split_factory(spec)
    file = Path(path)
    if not file.is_file():
        raise InputError(f"model factory file {path!r} does not exist (MODEL is a known name or "
                         f"path/to/file.py:factory); known names: {', '.join(known_models())}")
    if not func_name:
        raise InputError(f"model {spec!r}: name the factory function, as {path}:factory")
    mod_name = "cimscope_user_model_" + hashlib.sha1(str(file.resolve()).encode()).hexdigest()[:10]
    loader_spec = importlib.util.spec_from_file_location(mod_name, file)
    if loader_spec is None or loader_spec.loader is None:
        raise InputError(f"cannot load {path!r} as a Python module")
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[mod_name] = module
    try:
        loader_spec.loader.exec_module(module)
    except Exception as exc:
        raise ExportError(f"loading {path}: {type(exc).__name__}: {_one_line(exc)}") from exc
    factory: Callable | None = getattr(module, func_name, None)
    if not callable(factory):
        names = [n for n, v in vars(module).items() if inspect.isfunction(v) and not n.startswith("_")
                 and getattr(v, "__module__", None) == mod_name]
        raise UnknownNameError("factory", func_name, names, hint=f"functions defined in {path}")
    wanted = {"batch": batch, "image_size": image_size, "seq_len": seq_len}
    try:
        params = inspect.signature(factory).parameters
        accepts_kw = any(p.kind == p.VAR_KEYWORD for p in params.values())
        kwargs = {k: v for k, v in wanted.items() if accepts_kw or k in params}
    except (TypeError, ValueError):
        kwargs = {}
    try:
        out = factory(**kwargs)
    except Exception as exc:
        raise ExportError(f"{spec}: the factory raised {type(exc).__name__}: {_one_line(exc)}") from exc
    if isinstance(out, torch.nn.Module):
        return out, (torch.randn(batch, 3, image_size, image_size),)
    if isinstance(out, (tuple, list)) and len(out) == 2 and isinstance(out[0], torch.nn.Module):
        inputs = out[1]
        if isinstance(inputs, torch.Tensor):
            inputs = (inputs,)
        elif isinstance(inputs, dict):
            raise ExportError(f"{spec}: pass example inputs as a tuple of tensors, not a dict")
        elif not isinstance(inputs, (tuple, list)):
            raise ExportError(f"{spec}: the factory's example inputs are {type(inputs).__name__}; give a tensor "
                              f"or a tuple of tensors, e.g. (module, (torch.randn(1, 3, 224, 224),))")
        if not any(isinstance(t, torch.Tensor) for t in inputs):
            raise ExportError(f"{spec}: the factory's example inputs hold no tensor ({len(inputs)} item(s)); "
                              f"give a tensor or a tuple of tensors with the shapes the model is run on")
        if batch != 1 and "batch" not in kwargs:
            # the inputs were made without the requested batch: the workload would be labelled batch N while
            # costing another (per-inference figures such as throughput would be off by that factor)
            raise InputError(f"{spec}: --batch {batch} cannot be applied: the factory takes no 'batch' "
                             f"argument and made its own example inputs; add a batch=1 parameter to it, "
                             f"or leave the batch at 1")
        return out[0], tuple(inputs)
    raise ExportError(f"{spec}: the factory returned {type(out).__name__}; it must return an nn.Module "
                      f"or (nn.Module, example_inputs)")
