"""NonGEMM Bench's model list through cimscope: export, GEMM MACs, modelled NonGEMM shares eager and fused.

For every model NonGEMM Bench profiles (Karami et al., arXiv 2404.11788, ISPASS 2025) this script calls the
public :func:`cimscope.workloads.export_model` (in a child process each, so that one model running out of
memory cannot take the table down) with NonGEMM Bench's inputs (artifact UCI-ISA-Lab/NonGEMM-Bench-ISPASS25,
``torch_flow/run_*.sh`` and ``run.py``: batch 1; 224x224 images for Swin/ViT, 512x512 for SegFormer;
sequence 128 for BERT, 256 for GPT-2 and GPT-2-large, 512 for GPT2-XL and Llama-3-8B, 2048 for Llama-2-7B
and Mixtral; COCO images for DETR, MaskFormer and the R-CNNs, here 800x800) and 16-bit tensors (fp16, as
NonGEMM Bench runs them on GPU), and models it with :mod:`cimscope.gpu.execution` (A100, fp16, eager and
fused). A model that does not export prints ``not exported: <reason>``.

    .venv/bin/python scripts/nongemm_table.py                       # markdown table on stdout
    .venv/bin/python scripts/nongemm_table.py --only gpt2,swin_b --json
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Optional

#: Short class labels for the per-class cells.
SHORT = {"activation": "act", "logit_computation": "logit", "normalization": "norm", "arithmetic": "arith",
         "pooling": "pool", "interpolation": "interp", "embedding": "emb", "memory": "mem", "roi": "roi",
         "other": "other", "qdq": "qdq"}

#: GEMM MACs published in the torchvision model documentation ("GFLOPS" column, which counts MACs; batch 1,
#: 224x224; vit_h_14 is its 224-pixel SWAG_LINEAR weights).
TORCHVISION_GMACS = {"swin_t": 4.49, "swin_s": 8.74, "swin_b": 15.43, "vit_b_16": 17.56, "vit_l_16": 61.55,
                     "vit_h_14": 167.29}


def transformer_gmacs(layers: int, d: int, ffn: int, seq: int, extra: float = 0.0) -> float:
    """Closed form of a GPT-2/BERT encoder or decoder stack: per layer QKV + output projections (4 d^2 s),
    the MLP (2 d ffn s) and attention (QK^T and AV: 2 s^2 d); ``extra`` MACs added (a pooler)."""
    return (layers * (4 * d * d * seq + 2 * d * ffn * seq + 2 * seq * seq * d) + extra) / 1e9


@dataclass
class Row:
    label: str
    names: tuple[str, ...]              # export names tried in order (the first known one is used)
    kwargs: dict = field(default_factory=dict)
    paper: str = ""                     # NonGEMM Bench's figure for it, where the paper gives one
    reference_gmacs: Optional[float] = None
    reference_source: str = ""


def rows() -> list[Row]:
    v224, lm = {"image_size": 224}, lambda s: {"seq_len": s}
    tv = "torchvision docs"
    cf = "closed form"
    return [
        Row("Swin-T", ("swin_t",), v224, reference_gmacs=TORCHVISION_GMACS["swin_t"], reference_source=tv),
        Row("Swin-S", ("swin_s",), v224, reference_gmacs=TORCHVISION_GMACS["swin_s"], reference_source=tv),
        Row("Swin-B", ("swin_b",), v224, paper="58 % (GPU, Fig. 1)", reference_gmacs=TORCHVISION_GMACS["swin_b"],
            reference_source=tv),
        Row("ViT-B", ("vit_b_16",), v224, reference_gmacs=TORCHVISION_GMACS["vit_b_16"], reference_source=tv),
        Row("ViT-L", ("vit_l_16",), v224, reference_gmacs=TORCHVISION_GMACS["vit_l_16"], reference_source=tv),
        Row("ViT-H", ("vit_h_14",), v224, reference_gmacs=TORCHVISION_GMACS["vit_h_14"], reference_source=tv),
        Row("DETR-R50", ("detr-resnet-50", "detr_resnet50", "detr"), {"image_size": 800}),
        Row("MaskFormer-Swin-B", ("maskformer-swin-base", "maskformer-swin-base-coco", "maskformer"),
            {"image_size": 800}),
        Row("SegFormer-B0", ("segformer-b0",), {"image_size": 512}),
        Row("SegFormer-B1", ("segformer-b1",), {"image_size": 512}),
        Row("SegFormer-B3", ("segformer-b3",), {"image_size": 512}),
        Row("SegFormer-B5", ("segformer-b5",), {"image_size": 512}),
        Row("BERT-base", ("bert-base-uncased",), lm(128),
            reference_gmacs=transformer_gmacs(12, 768, 3072, 128, extra=768 * 768), reference_source=cf),
        Row("GPT-2", ("gpt2",), lm(256), reference_gmacs=transformer_gmacs(12, 768, 3072, 256),
            reference_source=cf),
        Row("GPT-2-large", ("gpt2-large",), lm(256), reference_gmacs=transformer_gmacs(36, 1280, 5120, 256),
            reference_source=cf),
        Row("GPT2-XL", ("gpt2-xl",), lm(512), paper="47 % (GPU, Fig. 1)",
            reference_gmacs=transformer_gmacs(48, 1600, 6400, 512), reference_source=cf),
        Row("Llama-2-7B", ("llama-2-7b", "llama2-7b"), lm(2048)),
        Row("Llama-3-8B", ("llama-3-8b", "llama3-8b"), lm(512)),
        Row("Mixtral-8x7B", ("mixtral-8x7b",), lm(2048)),
        Row("Mask R-CNN", ("maskrcnn_resnet50_fpn",), {"image_size": 800}),
        Row("Faster R-CNN", ("fasterrcnn_resnet50_fpn",), {"image_size": 800}),
    ]


def measure_one(name: str, kwargs: dict) -> dict:
    """Export ``name`` and model it (run in the child process)."""
    from cimscope.gpu.execution import summary
    from cimscope.workloads import export_model

    t0 = time.perf_counter()
    wl = export_model(name, batch=1, weight_bits=16, act_bits=16, **kwargs)
    t1 = time.perf_counter()
    s = summary(wl, "fp16")
    return {"operators": len(wl.ops), "gemm_gmacs": sum(o.macs * o.count for o in wl.ops if o.is_gemm) / 1e9,
            "export_s": round(t1 - t0, 1), "eager": s["eager"], "fused": s["fused"], "roofline": s["roofline"],
            "params": s["params"]}


def first_known(names: tuple[str, ...]) -> tuple[Optional[str], str]:
    from cimscope.errors import UnknownNameError
    from cimscope.workloads.zoo import check_model_name

    for n in names:
        try:
            check_model_name(n)
            return n, ""
        except UnknownNameError:
            continue
    return None, f"unknown model (tried {', '.join(names)})"


def run_row(row: Row, timeout_s: float) -> dict:
    out = {"label": row.label, "paper": row.paper, "reference_gmacs": row.reference_gmacs,
           "reference_source": row.reference_source, "inputs": row.kwargs}
    name, reason = first_known(row.names)
    out["name"] = name
    if name is None:
        return {**out, "exported": False, "reason": reason}
    cmd = [sys.executable, __file__, "--child", name, json.dumps(row.kwargs)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {**out, "exported": False, "reason": f"export took over {timeout_s:.0f} s"}
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        why = lines[-1] if lines else f"exit status {proc.returncode}"
        if proc.returncode < 0:
            why = f"killed by signal {-proc.returncode} (out of memory?)"
        return {**out, "exported": False, "reason": why[:200]}
    return {**out, "exported": True, **json.loads(proc.stdout.strip().splitlines()[-1])}


def class_cell(shares: dict) -> str:
    items = sorted(((SHORT[c], v) for c, v in shares.items() if c in SHORT and v >= 0.5), key=lambda kv: -kv[1])
    return ", ".join(f"{k} {v:.1f}" for k, v in items) or "-"


def markdown(results: list[dict]) -> str:
    head = ("| model | exported | operators | GEMM GMAC (reference) | eager fp16 NonGEMM % | eager per class % "
            "| fused NonGEMM % | fused per class % | paper |")
    lines = [head, "|" + " --- |" * 9]
    for r in results:
        if not r["exported"]:
            lines.append(f"| {r['label']} | no: {r['reason']} | - | - | - | - | - | - | {r['paper'] or '-'} |")
            continue
        ref = (f" ({r['reference_gmacs']:.2f}, {r['reference_source']})" if r["reference_gmacs"] else "")
        e, f = r["eager"]["shares_pct"], r["fused"]["shares_pct"]
        lines.append(f"| {r['label']} (`{r['name']}`) | yes | {r['operators']} | {r['gemm_gmacs']:.2f}{ref} | "
                     f"{e['NonGEMM']:.1f} | {class_cell(e)} | {f['NonGEMM']:.1f} | {class_cell(f)} | "
                     f"{r['paper'] or '-'} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        print(json.dumps(measure_one(argv[1], json.loads(argv[2]))))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="comma-separated labels or export names to run")
    ap.add_argument("--json", action="store_true", help="print the results as JSON instead of markdown")
    ap.add_argument("--timeout-s", type=float, default=900.0, help="per-model export limit (seconds)")
    args = ap.parse_args(argv)
    wanted = {w.strip().lower() for w in args.only.split(",") if w.strip()}
    selected = [r for r in rows() if not wanted or r.label.lower() in wanted or wanted & set(r.names)]
    if wanted and not selected:
        print(f"--only: no row matches {sorted(wanted)}; labels are {', '.join(r.label for r in rows())}",
              file=sys.stderr)
        return 2
    results = []
    for row in selected:
        res = run_row(row, args.timeout_s)
        results.append(res)
        state = (f"{res['operators']} ops, eager {res['eager']['shares_pct']['NonGEMM']:.1f} % NonGEMM"
                 if res["exported"] else f"not exported: {res['reason']}")
        print(f"{row.label}: {state}", file=sys.stderr, flush=True)
    print(json.dumps(results, indent=1) if args.json else markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
