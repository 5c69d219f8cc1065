"""Export time per model: `export_model` (torch.export + lowering), torch.fx capture as the baseline measured in
the same run, and a cache hit. Prints a table with units (s, GMAC) and the ratio of GEMM MACs to the published
figures of /work/shared/reference/model_macs.yaml (copied in workloads/data/reference_model_macs.yaml).

    .venv/bin/python benchmarks/bench_export.py [MODEL ...] [--repeat N]
"""
from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import yaml

DEFAULT = ["alexnet", "vgg16", "resnet18", "resnet50", "mobilenet_v2", "vit_b_16", "swin_t",
           "bert-base-uncased", "gpt2", "llama-tiny"]
FX_BASELINE = {"alexnet", "vgg16", "resnet18", "resnet50", "mobilenet_v2", "vit_b_16"}
REF = Path(__file__).resolve().parents[1] / "workloads" / "data" / "reference_model_macs.yaml"


def timed(fn, repeat):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", default=DEFAULT)
    ap.add_argument("--repeat", type=int, default=1, help="runs per measurement (median)")
    args = ap.parse_args()

    import torch
    from rich.console import Console
    from rich.table import Table
    from tqdm import tqdm

    from cimscope.workloads import export_model

    warnings.simplefilter("ignore")
    torch.set_num_threads(max(1, torch.get_num_threads()))
    ref = yaml.safe_load(REF.read_text())["gmacs"]
    export_model("resnet18")                       # warm-up: imports, first torch.export call
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        for name in tqdm(args.models, desc="export", file=sys.stderr):
            t_auto, wl = timed(lambda: export_model(name), args.repeat)
            secs = wl.meta["export_seconds"]
            t_fx = None
            if name in FX_BASELINE:
                t_fx, _ = timed(lambda: export_model(name, capture="fx"), args.repeat)
            export_model(name, cache_dir=cache)
            t_hit, _ = timed(lambda: export_model(name, cache_dir=cache), max(1, args.repeat))
            gmacs = sum(o.macs for o in wl.gemm_ops()) / 1e9
            rows.append((name, t_auto, secs, t_fx, t_hit, len(wl.ops),
                         len({o.shape_key() for o in wl.ops}), gmacs, ref.get(name)))

    table = Table(title=f"cimscope export, batch 1, 224x224 / 128 tokens; torch {torch.__version__}, "
                        f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads")
    for col in ("model", "export (s)", "build (s)", "capture (s)", "lower (s)", "fx baseline (s)",
                "export/fx", "cache hit (s)", "ops", "unique shapes", "GEMM GMAC", "vs published"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for name, t, secs, t_fx, t_hit, nops, nshapes, gmacs, r in rows:
        table.add_row(name, f"{t:.2f}", f"{secs['build']:.2f}", f"{secs['capture']:.2f}", f"{secs['lower']:.3f}",
                      f"{t_fx:.2f}" if t_fx else "-", f"{t / t_fx:.1f}x" if t_fx else "-", f"{t_hit:.3f}",
                      str(nops), str(nshapes), f"{gmacs:.3f}", f"{gmacs / r:.4f}" if r else "-")
    Console(width=200).print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
