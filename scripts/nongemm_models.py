"""NonGEMM Bench's model suite through cimscope's exporter: one row per model of the paper's list, whether it
exports, its operator count, GEMM GMAC against a published figure or a closed form, operators of class
`other` not in the taxonomy, and the export's CPU time.

    .venv/bin/python scripts/nongemm_models.py [NAME ...] [--json FILE]

Sizes are NonGEMM Bench's (artifact UCI-ISA-Lab/NonGEMM-Bench-ISPASS25, torch_flow: LLM sequence lengths
llama2 / mixtral 2048, gpt2-xl 512, gpt2 / gpt2-large 256, bert 128; SegFormer 512 px; others at the
exporter's default input size). Published figures: torchvision's model documentation ("GFLOPS" column, which
counts multiply-accumulates) at 224 px; SegFormer: Xie et al. 2021, Table 1 (ADE20K, 512 x 512, "GFLOPs"
counted as multiply-accumulates by mmcv; B5 at 640 x 640 as published, the others at 512) and torchvision's
fasterrcnn_resnet50_fpn (134.38, 800 px). Closed form for the decoders (batch 1, T tokens, L layers, hidden h,
query width q = heads x head_dim, key/value width v = kv_heads x head_dim, FFN f, vocab V, top-k k of E experts):
``T*L*(h*q + 2*h*v + q*h + G*h*f*k + h*E) + 2*L*T*T*q + T*h*V`` (G = 3 gated projections for SwiGLU, 2 for
GPT-2's MLP; router h*E for MoE only; attention QK^T and AV over the full T x T square, as the exporter
costs SDPA).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings

#: (NonGEMM Bench name, cimscope model, export options, published GEMM GMAC or None)
MODELS = [
    ("swin-tiny", "swin_t", {}, 4.49), ("swin-small", "swin_s", {}, 8.74), ("swin-base", "swin_b", {}, 15.43),
    ("vit-base", "vit_b_16", {}, 17.56), ("vit-large", "vit_l_16", {}, 61.55), ("vit-huge", "vit_h_14", {}, None),
    ("detr", "detr-resnet-50", {}, None), ("maskformer-base", "maskformer-swin-base", {}, None),
    ("segformer", "segformer-b0", {}, 8.4), ("segformer-b1", "segformer-b1", {}, 15.9),
    ("segformer-b3", "segformer-b3", {}, 79.0), ("segformer-b5", "segformer-b5", {"image_size": 640}, 183.3),
    ("bert", "bert-base-uncased", {"seq_len": 128}, None), ("gpt2", "gpt2", {"seq_len": 256}, None),
    ("gpt2-large", "gpt2-large", {"seq_len": 256}, None), ("gpt2-xl", "gpt2-xl", {"seq_len": 512}, None),
    ("llama2", "llama-2-7b", {"seq_len": 2048}, None), ("llama3", "llama-3-8b", {"seq_len": 2048}, None),
    ("mistral_MoE", "mixtral-8x7b", {"seq_len": 2048}, None),
    ("maskrcnn", "maskrcnn_resnet50_fpn", {}, None), ("fasterrcnn", "fasterrcnn_resnet50_fpn", {}, 134.38),
]


def closed_form_gmac(model: str, seq: int) -> float | None:
    """The decoder closed form of the module notes from the published config (None for other models)."""
    from cimscope.workloads.configs import HF_MODELS
    from cimscope.workloads.hf import make_config
    spec = HF_MODELS.get(model)
    if spec is None or spec.kind != "decoder":
        return None
    c = make_config(spec)
    h, layers, vocab = c.hidden_size, c.num_hidden_layers, c.vocab_size
    heads = c.num_attention_heads
    hd = getattr(c, "head_dim", None) or h // heads
    q, v = heads * hd, (getattr(c, "num_key_value_heads", None) or heads) * hd
    if c.model_type == "gpt2":
        ffn, gates, experts, top_k = 4 * h, 2, 0, 1
    else:
        ffn, gates = c.intermediate_size, 3
        experts, top_k = getattr(c, "num_local_experts", 0), getattr(c, "num_experts_per_tok", 1)
    per_token = h * q + 2 * h * v + q * h + gates * h * ffn * top_k + h * experts
    head = seq * h * vocab if "LMHead" in spec.model_cls or "CausalLM" in spec.model_cls else 0
    return (seq * layers * per_token + 2 * layers * seq * seq * q + head) / 1e9


def row(paper: str, model: str, opts: dict, published: float | None) -> dict:
    from cimscope.ir import GEMM
    from cimscope.workloads import export_model
    from cimscope.workloads.taxonomy import classify
    t0 = time.process_time()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wl = export_model(model, **opts)
    except Exception as exc:                                  # reported per row, the suite goes on
        return {"paper": paper, "model": model, "exported": False, "error": f"{type(exc).__name__}: {exc}"[:200]}
    gmac = sum(o.macs for o in wl.ops if o.op_class == GEMM) / 1e9
    ref = published if published is not None else closed_form_gmac(model, opts.get("seq_len", 128))
    unknown = sorted({o.target for o in wl.ops if o.op_class == "other" and not classify(o.target)[1]})
    return {"paper": paper, "model": model, "exported": True, "operators": len(wl.ops), "gemm_gmac": gmac,
            "reference_gmac": ref, "reference": "published" if published is not None else
            ("closed form" if ref is not None else ""), "unknown_ops": unknown,
            "classes": sorted({o.op_class for o in wl.ops}), "cpu_s": time.process_time() - t0,
            "assumptions": wl.meta.get("assumptions", [])}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="NonGEMM Bench or cimscope names (default: all)")
    ap.add_argument("--json", help="also write the rows to this JSON file")
    args = ap.parse_args()
    rows = []
    print(f"{'NonGEMM Bench':16s} {'cimscope':24s} {'exp':>3s} {'ops':>5s} {'GEMM GMAC':>10s} {'ref GMAC':>10s} "
          f"{'ratio':>6s} {'ref':12s} {'CPU s':>6s} unknown")
    for paper, model, opts, published in MODELS:
        if args.names and paper not in args.names and model not in args.names:
            continue
        r = row(paper, model, opts, published)
        rows.append(r)
        if not r["exported"]:
            print(f"{paper:16s} {model:24s}  no {r['error']}", flush=True)
            continue
        ref = r["reference_gmac"]
        print(f"{paper:16s} {model:24s} yes {r['operators']:5d} {r['gemm_gmac']:10.2f} "
              f"{ref if ref is not None else float('nan'):10.2f} "
              f"{r['gemm_gmac'] / ref if ref else float('nan'):6.3f} {r['reference']:12s} {r['cpu_s']:6.1f} "
              f"{', '.join(r['unknown_ops']) or '-'}", flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(rows, f, indent=1)
    return 0 if all(r["exported"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
