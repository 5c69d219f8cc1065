"""`cimscope profile`: measured GEMM/NonGEMM breakdown on this machine, next to the modelled a100_like one.

Measurement: :mod:`cimscope.profile` (torch.profiler, self time of ATen operators grouped by the exporter's
classes). Modelled side and the error per class: :mod:`cimscope.profile_join`.
"""
from __future__ import annotations

import csv
import io
import json
import statistics
import sys
from pathlib import Path
from typing import Any, Optional

import typer

PNG_NAME = "breakdown.png"
CLASSES_CSV = "breakdown.csv"
OPS_CSV = "ops.csv"
JSON_NAME = "profile.json"


def _split_models(spec: str) -> list[str]:
    models = [m.strip() for m in spec.split(",") if m.strip()]
    if not models:
        from cimscope.errors import InputError
        raise InputError("no model given; name one or more models separated by commas, e.g. resnet50,vit_b_16")
    return models


def _fmt(x: Optional[float], spec: str) -> str:
    return "-" if x is None else format(x, spec)


def _class_table(console, title: str, rows, modelled: bool, arch: str) -> None:
    from rich.table import Table

    console.print(title, highlight=False, soft_wrap=True)
    table = Table(show_lines=False)
    table.add_column("class")
    table.add_column("measured (ms)", justify="right")
    table.add_column("measured (%)", justify="right")
    if modelled:
        table.add_column(f"modelled {arch} (us)", justify="right")
        table.add_column("modelled (%)", justify="right")
        table.add_column("error (pp)", justify="right")
        table.add_column("ratio", justify="right")
    for r in rows:
        style = "bold" if r.op_class.endswith("total") else None
        cells = [r.op_class, _fmt(r.measured_s * 1e3, ".3f"), _fmt(r.measured_share_pct, ".1f")]
        if modelled:
            cells += [_fmt(None if r.modelled_s is None else r.modelled_s * 1e6, ".3f"),
                      _fmt(r.modelled_share_pct, ".1f"), _fmt(r.diff_pp, "+.1f"), _fmt(r.share_ratio, ".2f")]
        table.add_row(*cells, style=style)
    console.print(table)


def _stacked_png(results: list[dict], path: Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cimscope import atomic
    from cimscope.ir import GEMM, OP_CLASSES

    bars: list[tuple[str, dict[str, float]]] = []
    for res in results:
        prof = res["profile"]
        label = _short(prof.model)
        bars.append((f"{label}\nmeasured {prof.device}", {c: prof.share_pct(c) for c in OP_CLASSES}))
        mod = res.get("modelled")
        if mod is not None:
            total = mod.total_s
            bars.append((f"{label}\nmodelled {mod.arch}",
                         {c: (100.0 * v / total if total > 0 else 0.0) for c, v in mod.class_latency_s.items()}))
    classes = [c for c in OP_CLASSES if any(b[1].get(c, 0.0) > 0 for b in bars)]
    tab10 = plt.get_cmap("tab10")
    colours = {c: tab10(i) if i < 10 else ("#e7ba52" if i == 10 else "#393b79") for i, c in enumerate(OP_CLASSES)}
    fig, ax = plt.subplots(figsize=(max(4.0, 1.3 * len(bars) + 2.5), 4.8))
    x = list(range(len(bars)))
    bottom = [0.0] * len(bars)
    for c in classes:
        vals = [b[1].get(c, 0.0) for b in bars]
        patches = ax.bar(x, vals, bottom=bottom, label=c, color=colours[c], width=0.7, edgecolor="white",
                         linewidth=0.4)
        for patch, b in zip(patches, bars):
            if "\nmodelled" in b[0]:
                patch.set_hatch("//")
        bottom = [b + v for b, v in zip(bottom, vals)]
    for xi, b in zip(x, bars):
        ng = sum(v for c, v in b[1].items() if c != GEMM)
        ax.text(xi, 101, f"NonGEMM\n{ng:.1f}%", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x)
    ax.set_xticklabels([b[0] for b in bars], fontsize=8)
    ax.set_ylabel("share of operator latency (%)")
    ax.set_ylim(0, 112)
    ax.set_yticks(range(0, 101, 20))
    ax.set_title("GEMM / NonGEMM breakdown (cimscope profile)", fontsize=10)
    ax.legend(fontsize=7, bbox_to_anchor=(1.01, 1.0), loc="upper left")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    plt.close(fig)
    return atomic.write_bytes(path, buf.getvalue())


def _short(model: str) -> str:
    """Bar label: a factory spec path/to/file.py:factory is shown as file.py:factory."""
    return Path(model).name if ".py" in model else model


def _csv_text(header: list[str], rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def _write_files(out: Path, results: list[dict], doc: dict) -> dict[str, str]:
    from cimscope import atomic

    class_rows, op_rows = [], []
    for res in results:
        p = res["profile"]
        for r in res["classes"]:
            class_rows.append([p.model, p.device, p.dtype, p.batch, r.op_class, r.measured_s,
                               r.measured_share_pct, r.modelled_s, r.modelled_share_pct, r.diff_pp,
                               r.share_ratio])
        for r in res["ops"]:
            op_rows.append([p.model, r.index, r.module, r.name, r.work, r.op_class, json.dumps(r.input_shapes),
                            r.measured_s, r.measured_share_pct, " ".join(r.modelled_ops), r.modelled_target,
                            r.modelled_class, r.modelled_s, r.modelled_share_pct, r.match])
    files = {
        "classes_csv": atomic.write_text(out / CLASSES_CSV, _csv_text(
            ["model", "device", "dtype", "batch", "op_class", "measured_s", "measured_share_pct", "modelled_s",
             "modelled_share_pct", "diff_pp", "share_ratio"], class_rows)),
        "ops_csv": atomic.write_text(out / OPS_CSV, _csv_text(
            ["model", "index", "module", "name", "work", "op_class", "input_shapes", "measured_s",
             "measured_share_pct", "modelled_ops", "modelled_target", "modelled_class", "modelled_s",
             "modelled_share_pct", "match"], op_rows)),
        "png": _stacked_png(results, out / PNG_NAME),
    }
    files_str = {k: str(v) for k, v in files.items()}
    files_str["json"] = str(out / JSON_NAME)
    atomic.write_json(out / JSON_NAME, {**doc, "files": files_str})
    return files_str


def run_profile(models: list[str], *, device: str, batch: int, dtype: str, runs: int, warmup: int,
                threads: Optional[int], image_size: int, seq_len: int, no_model: bool,
                out: Optional[Path], console) -> dict:
    """Profile each model (and model it unless ``no_model``); returns the JSON document."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from cimscope.cli.export import ensure_writable_dir
    from cimscope.errors import CimscopeError
    from cimscope.profile import check_options, profile_model
    from cimscope.profile_join import (DEFAULT_ARCH, DEFAULT_PLACEMENT, join_classes, join_ops, match_summary,
                                       model_network)
    from cimscope.workloads.zoo import check_model_name

    # every option and name is checked before the first measurement, and the output folder too
    check_options(device=device, dtype=dtype, runs=runs, warmup=warmup, threads=threads, batch=batch,
                  image_size=image_size, seq_len=seq_len)
    for name in models:
        check_model_name(name)
    if out is not None:
        ensure_writable_dir(out, "--out")

    results: list[dict] = []
    steps = warmup + 2 * runs + (0 if no_model else 1)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        for name in models:
            task = progress.add_task(f"{name}: building", total=steps)

            def tick(stage: str, _task=task, _name=name) -> None:
                progress.update(_task, advance=1, description=f"{_name}: {stage} runs on {device}")

            prof = profile_model(name, device=device, batch=batch, dtype=dtype, runs=runs, warmup=warmup,
                                 threads=threads, image_size=image_size, seq_len=seq_len, progress=tick)
            modelled, modelled_error = None, None
            if not no_model:
                progress.update(task, description=f"{name}: export + evaluate on {DEFAULT_ARCH}")
                try:
                    modelled = model_network(name, batch=batch, image_size=image_size, seq_len=seq_len)
                except Exception as exc:       # the measurement stands on its own: report, keep going
                    what = "" if isinstance(exc, CimscopeError) else f"{type(exc).__name__}: "
                    modelled_error = f"{what}{exc}"
                    console.print(f"[yellow]cimscope profile: {name}: no modelled side: {modelled_error}"
                                  f"[/yellow]", highlight=False)
                progress.update(task, advance=1)
            classes = join_classes(prof.class_time_s, None if modelled is None else modelled.class_latency_s)
            ops = join_ops(prof.ops, [] if modelled is None else modelled.workload.ops,
                           None if modelled is None else modelled.ops)
            results.append({"profile": prof, "modelled": modelled, "modelled_error": modelled_error,
                            "classes": classes, "ops": ops})
            progress.remove_task(task)

    doc = {
        "device": device,
        "dtype": dtype,
        "batch": batch,
        "runs": runs,
        "warmup": warmup,
        "modelled_arch": None if no_model else DEFAULT_ARCH,
        "modelled_placement": None if no_model else DEFAULT_PLACEMENT,
        "units": {"time": "s", "share": "% of operator time", "diff_pp": "percentage points (modelled - measured)",
                  "share_ratio": "modelled share / measured share"},
        "models": [],
    }
    for res in results:
        prof, mod = res["profile"], res["modelled"]
        entry = {
            "model": prof.model,
            "measured": prof.to_dict(),
            "classes": [r.to_dict() for r in res["classes"]],
            "ops": [r.to_dict() for r in res["ops"]],
            "modelled": None if mod is None else {
                "arch": mod.arch, "placement": mod.placement, "primitive": mod.primitive, "engine": mod.engine,
                "total_s": mod.total_s, "class_latency_s": mod.class_latency_s,
                "op_match": match_summary(res["ops"], mod.workload.ops)},
            "modelled_error": res["modelled_error"],
        }
        entry["measured"].pop("ops", None)        # the per-call figures are in "ops" (with the join)
        doc["models"].append(entry)

    for res in results:
        prof, mod = res["profile"], res["modelled"]
        title = (f"\n[bold]{prof.model}[/bold]: {prof.device_name} ({prof.device}, {prof.dtype}, batch "
                 f"{prof.batch}, {prof.threads} thread{'s' if prof.threads != 1 else ''}), {prof.runs} profiled "
                 f"run{'s' if prof.runs != 1 else ''} after {prof.warmup} warm-up\n"
                 f"  wall {prof.wall_median_s * 1e3:.2f} ms/inference (median of {len(prof.wall_s)} unprofiled "
                 f"runs; {statistics.fmean(prof.profiled_wall_s) * 1e3:.2f} ms mean profiled); operator "
                 f"{prof.time_basis} {prof.total_s * 1e3:.2f} ms/inference, outside operators "
                 f"{prof.outside_s * 1e3:.2f} ms")
        if mod is not None:
            title += (f"\n  modelled {mod.arch} (placement {mod.placement}, engine {mod.engine}): "
                      f"{mod.total_s * 1e6:.3f} us/inference")
        _class_table(console, title, res["classes"], mod is not None, DEFAULT_ARCH)
        if mod is not None:
            s = match_summary(res["ops"], mod.workload.ops)
            console.print(f"  operator join: {s['matched_calls']}/{s['calls']} measured calls "
                          f"({s['matched_time_pct']:.1f}% of measured time) matched to "
                          f"{s['exported_ops_matched']}/{s['exported_ops']} exported operators"
                          + (f"; {s['composite_calls']} composite calls" if s["composite_calls"] else ""),
                          highlight=False)
        top = sorted(res["ops"], key=lambda r: -r.measured_s)[:5]
        if top:
            console.print("  slowest calls: " + "; ".join(
                f"{r.module or '(top)'} {r.name} {r.measured_s * 1e3:.3f} ms ({r.measured_share_pct:.1f}%"
                + (f", modelled {r.modelled_share_pct:.1f}%" if r.modelled_share_pct is not None else "") + ")"
                for r in top), highlight=False)
        if prof.unknown_ops:
            top = ", ".join(f"{k} {v * 1e3:.3f} ms" for k, v in list(prof.unknown_ops.items())[:5])
            console.print(f"  not in the taxonomy (counted as 'other'): {top}")

    if out is not None:
        doc["files"] = _write_files(out, results, doc)
        console.print(f"wrote {', '.join(doc['files'].values())}")
    return doc


def register(app: typer.Typer) -> None:
    @app.command("profile")
    def profile_cmd(
        models: str = typer.Argument(..., metavar="MODEL[,MODEL...]", help="MODEL[,MODEL...]: known names (cimscope export --help) or "
                                               "path/to/file.py:factory"),
        device: str = typer.Option("cpu", "--device", help="cpu or cuda"),
        batch: int = typer.Option(1, "--batch", help="batch size"),
        dtype: str = typer.Option("fp32", "--dtype", help="fp32, fp16 or bf16"),
        runs: int = typer.Option(5, "--runs", help="profiled runs (and as many timed unprofiled runs)"),
        warmup: int = typer.Option(2, "--warmup", help="unprofiled warm-up runs"),
        threads: Optional[int] = typer.Option(None, "--threads", help="torch intra-op threads (CPU)"),
        image_size: int = typer.Option(224, "--image-size", help="image side for vision models (pixels)"),
        seq_len: int = typer.Option(128, "--seq-len", "--seq", help="sequence length for language models (tokens)"),
        out: Optional[Path] = typer.Option(None, "--out", help="write breakdown.csv, ops.csv, profile.json and "
                                                               "breakdown.png here"),
        json_out: bool = typer.Option(False, "--json", help="print one JSON document on stdout"),
        no_model: bool = typer.Option(False, "--no-model", help="skip the modelled a100_like side"),
    ) -> None:
        """Measure the GEMM/NonGEMM latency breakdown of models with torch.profiler (ATen operator self time,
        grouped by the exporter's classes) and set it beside cimscope's modelled a100_like breakdown."""
        from rich.console import Console

        from cimscope.cli._common import print_json

        # not a terminal (a log file, a pipe): wide enough for the side-by-side table on one line per class
        console = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 160)
        doc = run_profile(_split_models(models), device=device, batch=batch, dtype=dtype, runs=runs,
                          warmup=warmup, threads=threads, image_size=image_size, seq_len=seq_len,
                          no_model=no_model, out=out, console=console)
        if json_out:
            print_json(doc)
        sys.stderr.flush()
