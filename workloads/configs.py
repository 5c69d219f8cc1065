"""Published configurations of the Hugging Face models cimscope exports by name (no download: each model is
built from its config on the meta device, parameters are shapes, not memory).

Every figure is the model's published ``config.json`` on the Hugging Face Hub (repository named in ``source``),
which for the LLMs also matches the model card / paper table cited there. A config field not listed takes the
transformers default of its config class (e.g. ``rms_norm_eps``), which does not change any operator shape.

The NonGEMM Bench suite (Karami et al., ISPASS 2025; artifact UCI-ISA-Lab/NonGEMM-Bench-ISPASS25,
torch_flow/run.py and eval scripts) runs these models at: LLMs seq 2048 (Llama-2, Mixtral), GPT2-XL 512,
GPT2/-large 256, BERT 128; SegFormer at 512 x 512; COCO images for DETR / MaskFormer / R-CNNs.

The named LLMs (llama-2-7b, llama-3-8b, mistral-7b, mixtral-8x7b, gpt2-large, gpt2-xl) include their LM head
(``*ForCausalLM`` / ``GPT2LMHeadModel``, as NonGEMM Bench loads them with AutoModelForCausalLM: logits for
every position). ``gpt2``, ``bert-base-uncased`` and ``llama-tiny`` stay the bare models (``GPT2Model`` ...),
as before (their exports are unchanged).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Kinds of model input: token ids [batch, seq] (encoder: no decode phase) or an image [batch, 3, H, W].
KINDS = ("decoder", "encoder", "image")


@dataclass(frozen=True)
class HFSpec:
    """A transformers config + model class with the published values of its fields."""

    config_cls: str
    model_cls: str
    overrides: tuple[tuple[str, Any], ...] = ()
    kind: str = "decoder"
    source: str = ""
    image_size: int = 224          # default input size of image models (px)
    sub_configs: tuple[tuple[str, str, tuple[tuple[str, Any], ...]], ...] = ()   # (field, config class, values)


_LLAMA2_7B = (("hidden_size", 4096), ("intermediate_size", 11008), ("num_hidden_layers", 32),
              ("num_attention_heads", 32), ("num_key_value_heads", 32), ("vocab_size", 32000),
              ("max_position_embeddings", 4096), ("rms_norm_eps", 1e-5), ("hidden_act", "silu"))
_LLAMA3_8B = (("hidden_size", 4096), ("intermediate_size", 14336), ("num_hidden_layers", 32),
              ("num_attention_heads", 32), ("num_key_value_heads", 8), ("vocab_size", 128256),
              ("max_position_embeddings", 8192), ("rms_norm_eps", 1e-5), ("rope_theta", 500000.0),
              ("hidden_act", "silu"))
_MISTRAL_7B = (("hidden_size", 4096), ("intermediate_size", 14336), ("num_hidden_layers", 32),
               ("num_attention_heads", 32), ("num_key_value_heads", 8), ("vocab_size", 32000),
               ("max_position_embeddings", 32768), ("sliding_window", 4096), ("rms_norm_eps", 1e-5),
               ("hidden_act", "silu"))
_MIXTRAL_8X7B = (("hidden_size", 4096), ("intermediate_size", 14336), ("num_hidden_layers", 32),
                 ("num_attention_heads", 32), ("num_key_value_heads", 8), ("vocab_size", 32000),
                 ("max_position_embeddings", 32768), ("num_local_experts", 8), ("num_experts_per_tok", 2),
                 ("rms_norm_eps", 1e-5), ("rope_theta", 1e6), ("hidden_act", "silu"))

# SegFormer encoders (Xie et al., NeurIPS 2021, Table 6; nvidia/mit-bX): hidden sizes per stage and depths;
# decoder head width 256 (B0/B1) or 768 (B2-B5); ADE20K heads: 150 labels.
_SEGFORMER = {
    "b0": ((32, 64, 160, 256), (2, 2, 2, 2), (1, 2, 5, 8), 256),
    "b1": ((64, 128, 320, 512), (2, 2, 2, 2), (1, 2, 5, 8), 256),
    "b3": ((64, 128, 320, 512), (3, 4, 18, 3), (1, 2, 5, 8), 768),
    "b5": ((64, 128, 320, 512), (3, 6, 40, 3), (1, 2, 5, 8), 768),
}


def _segformer(b: str) -> HFSpec:
    hidden, depths, heads, dec = _SEGFORMER[b]
    return HFSpec("SegformerConfig", "SegformerForSemanticSegmentation",
                  (("hidden_sizes", list(hidden)), ("depths", list(depths)), ("num_attention_heads", list(heads)),
                   ("decoder_hidden_size", dec), ("num_labels", 150)),
                  kind="image", image_size=512, source=f"nvidia/segformer-{b}-finetuned-ade-512-512 config.json")


HF_MODELS: dict[str, HFSpec] = {
    # BertConfig() defaults are bert-base-uncased: 12 layers, hidden 768, 12 heads, FFN 3072, vocab 30522.
    "bert-base-uncased": HFSpec("BertConfig", "BertModel", kind="encoder",
                                source="google-bert/bert-base-uncased config.json (BertConfig defaults)"),
    # GPT2Config() defaults are gpt2 (124M): 12 layers, n_embd 768, 12 heads, vocab 50257, n_positions 1024.
    "gpt2": HFSpec("GPT2Config", "GPT2Model", source="openai-community/gpt2 config.json (GPT2Config defaults)"),
    "gpt2-large": HFSpec("GPT2Config", "GPT2LMHeadModel", (("n_embd", 1280), ("n_layer", 36), ("n_head", 20)),
                         source="openai-community/gpt2-large config.json; Radford et al. 2019, Table 2"),
    "gpt2-xl": HFSpec("GPT2Config", "GPT2LMHeadModel", (("n_embd", 1600), ("n_layer", 48), ("n_head", 25)),
                      source="openai-community/gpt2-xl config.json; Radford et al. 2019, Table 2"),
    # A small Llama-style decoder (RMSNorm, rotary embeddings, SwiGLU MLP, grouped-query attention).
    "llama-tiny": HFSpec("LlamaConfig", "LlamaModel", (
        ("hidden_size", 256), ("intermediate_size", 688), ("num_hidden_layers", 2),
        ("num_attention_heads", 4), ("num_key_value_heads", 2), ("vocab_size", 32000),
        ("max_position_embeddings", 2048)), source="cimscope test model (not published)"),
    "llama-2-7b": HFSpec("LlamaConfig", "LlamaForCausalLM", _LLAMA2_7B,
                         source="meta-llama/Llama-2-7b-hf config.json; Touvron et al. 2023, Table 1"),
    "llama-3-8b": HFSpec("LlamaConfig", "LlamaForCausalLM", _LLAMA3_8B,
                         source="meta-llama/Meta-Llama-3-8B config.json"),
    "mistral-7b": HFSpec("MistralConfig", "MistralForCausalLM", _MISTRAL_7B,
                         source="mistralai/Mistral-7B-v0.1 config.json; Jiang et al. 2023, Table 1"),
    "mixtral-8x7b": HFSpec("MixtralConfig", "MixtralForCausalLM", _MIXTRAL_8X7B,
                           source="mistralai/Mixtral-8x7B-v0.1 config.json; Jiang et al. 2024, Table 1"),
    "mixtral-tiny": HFSpec("MixtralConfig", "MixtralModel", (
        ("hidden_size", 64), ("intermediate_size", 128), ("num_hidden_layers", 2), ("num_attention_heads", 4),
        ("num_key_value_heads", 2), ("vocab_size", 1000), ("max_position_embeddings", 512),
        ("num_local_experts", 4), ("num_experts_per_tok", 2)), source="cimscope test model (not published)"),
    "segformer-b0": _segformer("b0"),
    "segformer-b1": _segformer("b1"),
    "segformer-b3": _segformer("b3"),
    "segformer-b5": _segformer("b5"),
    # DETR-R50 (Carion et al. 2020): ResNet-50 backbone (transformers' ResNet, not timm), 6+6 layers, d_model 256,
    # 8 heads, FFN 2048, 100 queries, 91 COCO classes: facebook/detr-resnet-50 config.json.
    "detr-resnet-50": HFSpec("DetrConfig", "DetrForObjectDetection", (
        ("use_timm_backbone", False), ("use_pretrained_backbone", False), ("num_queries", 100),
        ("d_model", 256), ("encoder_layers", 6), ("decoder_layers", 6), ("encoder_attention_heads", 8),
        ("decoder_attention_heads", 8), ("encoder_ffn_dim", 2048), ("decoder_ffn_dim", 2048),
        ("num_labels", 91)), kind="image", image_size=800,
        sub_configs=(("backbone_config", "ResNetConfig", (
            ("embedding_size", 64), ("hidden_sizes", [256, 512, 1024, 2048]), ("depths", [3, 4, 6, 3]),
            ("layer_type", "bottleneck"), ("out_features", ["stage4"]))),),
        source="facebook/detr-resnet-50 config.json; Carion et al. 2020, Table 1"),
    # MaskFormer with a Swin-B backbone (Cheng et al. 2021): embed 128, depths 2-2-18-2, heads 4-8-16-32,
    # window 12; COCO panoptic (133 labels): facebook/maskformer-swin-base-coco config.json.
    "maskformer-swin-base": HFSpec("MaskFormerConfig", "MaskFormerForInstanceSegmentation", (
        ("num_labels", 133),), kind="image", image_size=512,
        sub_configs=(("backbone_config", "SwinConfig", (
            ("embed_dim", 128), ("depths", [2, 2, 18, 2]), ("num_heads", [4, 8, 16, 32]), ("window_size", 12),
            ("image_size", 384), ("out_features", ["stage1", "stage2", "stage3", "stage4"]))),),
        source="facebook/maskformer-swin-base-coco config.json; Cheng et al. 2021"),
}
