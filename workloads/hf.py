"""Build a Hugging Face model from its published config (configs.HF_MODELS) on the meta device: no download, no
weight in memory (a 47-billion-parameter Mixtral is shapes only), and its example inputs for one phase.

* ``phase="prefill"``: the model on ``[batch, seq]`` token ids (images: ``[batch, 3, H, W]``).
* ``phase="decode"``: one decoding step of a decoder: ``[batch, 1]`` token ids with a KV cache holding
  ``kv_len`` tokens per layer (a :class:`DecodeStep` wraps the model: the cache is built from plain tensors
  inside the captured forward, so torch.export sees the cache's update, the concatenation, as the eager model
  runs it).
* A text model asked for more tokens than its position table holds gets a longer table (config
  ``max_position_embeddings`` / ``n_positions`` raised), with a :class:`PositionLimitWarning`; rotary models
  compute positions on the fly and only get the warning.
"""
from __future__ import annotations

import contextlib
import functools
import warnings
from typing import Any, Optional

from cimscope.errors import InputError
from cimscope.workloads.configs import HF_MODELS, HFSpec

PHASES = ("prefill", "decode")
#: model types whose positions are a learned table (its size is the limit); the others are rotary (computed)
LEARNED_POSITIONS = ("bert", "gpt2", "roberta", "opt", "distilbert")


class PositionLimitWarning(UserWarning):
    """A sequence longer than the model's published position limit: the table was extended by config."""


def make_config(spec: HFSpec):
    """The transformers config of ``spec`` (derived fields such as Llama's head_dim computed by the class)."""
    import transformers

    kwargs = dict(spec.overrides)
    for field_name, cls_name, values in spec.sub_configs:
        kwargs[field_name] = getattr(transformers, cls_name)(**dict(values))
    config = getattr(transformers, spec.config_cls)(**kwargs)
    if spec.kind != "image" and hasattr(config, "use_cache"):
        config.use_cache = False
    # SDPA keeps attention one recognisable scaled_dot_product_attention node (QK^T, softmax, AV); the vision
    # models here (SegFormer, DETR, MaskFormer/Swin) have no SDPA path: their own (eager) attention is kept
    if spec.kind != "image":
        try:
            config._attn_implementation = "sdpa"
        except Exception:  # pragma: no cover - a config without attention choice
            pass
    return config


@contextlib.contextmanager
def _inference_only(spec: HFSpec):
    """MaskFormer builds its training loss (Hungarian matching, which needs scipy) in ``__init__``; inference
    never calls it. Without scipy, the loss is built as a module that refuses to run, naming why."""
    import importlib.util
    if spec.model_cls != "MaskFormerForInstanceSegmentation" or importlib.util.find_spec("scipy") is not None:
        yield
        return
    import torch
    from transformers.models.maskformer import modeling_maskformer as mm

    class TrainingLossUnavailable(torch.nn.Module):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__()

        def forward(self, *args, **kwargs):
            raise RuntimeError("MaskFormer's training loss needs scipy (Hungarian matching); cimscope builds the "
                               "model for inference only")

    saved = mm.MaskFormerLoss
    mm.MaskFormerLoss = TrainingLossUnavailable
    try:
        yield
    finally:
        mm.MaskFormerLoss = saved


def position_limit(config) -> Optional[int]:
    for name in ("max_position_embeddings", "n_positions"):
        v = getattr(config, name, None)
        if isinstance(v, int):
            return v
    return None


def _extend_positions(name: str, config, total: int) -> list[str]:
    """Raise the position limit of ``config`` to ``total`` tokens (warning); the notes say what was done."""
    limit = position_limit(config)
    if limit is None or total <= limit:
        return []
    learned = getattr(config, "model_type", "") in LEARNED_POSITIONS
    for field_name in ("max_position_embeddings", "n_positions"):
        if isinstance(getattr(config, field_name, None), int):
            setattr(config, field_name, total)
    how = "its learned position table extended by config" if learned else "rotary positions computed past it"
    note = (f"{name}: {total} tokens exceed its published {limit} positions; {how} (shapes as a model trained "
            f"at that length; the published model was not)")
    warnings.warn(note, PositionLimitWarning, stacklevel=3)
    return [note]


def depth_field(config) -> Optional[str]:
    """The config field holding the number of decoder layers (``num_hidden_layers``, GPT-2's ``n_layer``)."""
    return next((f for f in ("num_hidden_layers", "n_layer") if isinstance(getattr(config, f, None), int)), None)


def build_hf(name: str, *, batch: int, seq_len: int, image_size: Optional[int], phase: str = "prefill",
             kv_len: Optional[int] = None, device: Optional[str] = "meta",
             layers: Optional[int] = None) -> tuple[Any, tuple, list[str]]:
    """``(module, example_inputs, notes)`` for the Hugging Face model ``name``, on the meta device (shapes
    only) or, with ``device=None``, with random CPU weights (eager profiling). ``layers``: build the stack with
    this many layers instead of the published depth (:mod:`cimscope.workloads.replicate`)."""
    import torch
    import transformers

    spec = HF_MODELS[name]
    if phase not in PHASES:
        raise InputError(f"unknown phase {phase!r}; valid phases: {', '.join(PHASES)}")
    if phase == "decode" and spec.kind != "decoder":
        raise InputError(f"--phase decode needs a decoder model; {name} is an {spec.kind} model "
                         f"(valid: --phase prefill)")
    if kv_len is not None and phase != "decode":
        raise InputError("--kv-len applies to --phase decode only (one decoding step with a KV cache)")
    config = make_config(spec)
    if layers is not None and depth_field(config):
        setattr(config, depth_field(config), int(layers))
    dev = device or "cpu"
    torch.manual_seed(0)
    notes: list[str] = []
    if spec.kind == "image":
        size = image_size or spec.image_size
        with torch.device(dev), _inference_only(spec):
            model = getattr(transformers, spec.model_cls)(config).eval()
        return model, (torch.randn(batch, 3, size, size, device=dev),), notes
    kv = (kv_len if kv_len is not None else seq_len) if phase == "decode" else 0
    if kv < 0:
        raise InputError(f"--kv-len must be >= 0, got {kv}")
    notes += _extend_positions(name, config, kv + (1 if phase == "decode" else seq_len))
    with torch.device(dev):
        model = getattr(transformers, spec.model_cls)(config).eval()
    vocab = int(getattr(config, "vocab_size", 2))
    ids = lambda n: torch.randint(0, vocab, (batch, n), device=dev)  # noqa: E731
    if phase == "prefill":
        return model, (ids(seq_len),), notes
    step = _decode_step_class()(model, config)
    shape = tuple(kv_cache_shape(name, batch, kv, layers=layers))
    past = torch.randn(shape, device=dev)
    notes.append(f"decode: one token per sequence with a KV cache of {kv} tokens per layer")
    return step, (ids(1), past, torch.randn_like(past)), notes


def kv_cache_shape(name: str, batch: int, kv_len: int, layers: Optional[int] = None) -> list[int]:
    """Shape of the K (or V) cache input of a decode step: [layers, batch, kv_heads, kv_len, head_dim]
    (``layers`` None: the published depth)."""
    config = make_config(HF_MODELS[name])
    if layers is not None and depth_field(config):
        setattr(config, depth_field(config), int(layers))
    heads = getattr(config, "num_attention_heads", None) or config.n_head
    hidden = getattr(config, "hidden_size", None) or config.n_embd
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    head_dim = getattr(config, "head_dim", None) or hidden // heads
    layers = getattr(config, "num_hidden_layers", None) or config.n_layer
    return [layers, batch, kv_heads, kv_len, head_dim]


@functools.lru_cache(maxsize=1)
def _decode_step_class():
    import torch

    class CacheFill(torch.nn.Module):
        """Layer ``i``'s K and V cache entries from the stacked cache inputs (one module per layer, so that
        its operators carry the layer's module path ``cache_fill.i``, like the decoder layer's own)."""

        def forward(self, cache, past_k, past_v, i: int):
            cache.update(past_k[i], past_v[i], i)

    class DecodeStep(torch.nn.Module):
        """One decoding step: ``model(ids [B, 1], past_key_values=cache of kv_len tokens)``. The cache is
        filled from ``past_k``/``past_v`` ``[layers, B, kv_heads, kv_len, head_dim]`` inside forward."""

        def __init__(self, model, config) -> None:
            super().__init__()
            self.model = model
            n = getattr(config, depth_field(config) or "num_hidden_layers")
            self.cache_fill = torch.nn.ModuleList(CacheFill() for _ in range(n))
            heads = getattr(config, "num_attention_heads", None) or config.n_head
            hidden = getattr(config, "hidden_size", None) or config.n_embd
            self.kv_heads = getattr(config, "num_key_value_heads", None) or heads
            self.head_dim = getattr(config, "head_dim", None) or hidden // heads
            self.config = config

        def forward(self, input_ids, past_k, past_v):
            from transformers import DynamicCache

            cache = DynamicCache(config=self.config)
            for i, fill in enumerate(self.cache_fill):
                fill(cache, past_k, past_v, i)
            kv = past_k.shape[3]
            pos = torch.arange(kv, kv + input_ids.shape[1], device=input_ids.device)
            out = self.model(input_ids=input_ids, past_key_values=cache, use_cache=True, cache_position=pos,
                             position_ids=pos.unsqueeze(0).expand(input_ids.shape[0], -1))
            return out.logits if getattr(out, "logits", None) is not None else out.last_hidden_state

    return DecodeStep


def __getattr__(name: str):            # DecodeStep is defined on first use (torch is a deferred import)
    if name == "DecodeStep":
        return _decode_step_class()
    raise AttributeError(name)
