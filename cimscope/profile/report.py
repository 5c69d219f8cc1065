"""Writers for ``cimscope profile``: the side-by-side text tables, breakdown.csv, ops.csv, breakdown.png and
profile.json (atomic writes), each written once here."""
from __future__ import annotations

import csv
import io
import json
import statistics
from pathlib import Path
from typing import Any, Optional

from cimscope import atomic
from cimscope.ir import GEMM, OP_CLASSES
from cimscope.profile.modelled import DEFAULT_ARCH
from cimscope.profile.run import ModelRun, gpu_labels

PNG_NAME = "breakdown.png"
CLASSES_CSV = "breakdown.csv"
OPS_CSV = "ops.csv"
JSON_NAME = "profile.json"


def _fmt(x: Optional[float], spec: str) -> str:
    return "-" if x is None else format(x, spec)


def short_label(model: str) -> str:
    """Bar label: a factory spec path/to/file.py:factory is shown as file.py:factory."""
    return Path(model).name if ".py" in model else model


def run_title(run: ModelRun) -> str:
    prof, mod = run.profile, run.modelled
    title = (f"\n[bold]{prof.model}[/bold]: {prof.device_name} ({prof.device}, {prof.dtype}, "
             f"{prof.meta.get('execution', 'eager')}, batch {prof.batch}, {prof.threads} "
             f"thread{'s' if prof.threads != 1 else ''}), {prof.runs} profiled run{'s' if prof.runs != 1 else ''} "
             f"after {prof.warmup} warm-up\n"
             f"  wall {prof.wall_median_s * 1e3:.2f} ms/inference (median of {len(prof.wall_s)} unprofiled runs; "
             f"{statistics.fmean(prof.profiled_wall_s) * 1e3:.2f} ms mean profiled); operator {prof.time_basis} "
             f"{prof.total_s * 1e3:.2f} ms/inference, outside operators {prof.outside_s * 1e3:.2f} ms")
    if mod is not None:
        title += (f"\n  modelled {mod.arch} (placement {mod.placement}, engine {mod.engine}): "
                  f"{mod.total_s * 1e6:.3f} us/inference; GPU execution model (A100, {mod.gpu_dtype}): "
                  + ", ".join(f"{ex} {sum(ct.values()) * 1e6:.1f} us" for ex, ct in mod.gpu_class_s.items()))
    return title


def class_table(console, run: ModelRun) -> None:
    """Per class: measured, modelled a100_like (time, share, error, ratio), GPU execution model shares."""
    from rich.table import Table

    console.print(run_title(run), highlight=False, soft_wrap=True)
    mod = run.modelled
    labels = list(gpu_labels(mod).values()) if mod is not None else []
    table = Table(show_lines=False)
    for col in ["class", "measured (ms)", "measured (%)"] + (
            [f"modelled {DEFAULT_ARCH} (us)", "modelled (%)", "error (pp)", "ratio"] if mod else []):
        table.add_column(col, justify="left" if col == "class" else "right")
    for label in labels:
        table.add_column(f"{label} (%)", justify="right")
    for r in run.classes:
        cells = [r.op_class, _fmt(r.measured_s * 1e3, ".3f"), _fmt(r.measured_share_pct, ".1f")]
        if mod is not None:
            cells += [_fmt(None if r.modelled_s is None else r.modelled_s * 1e6, ".3f"),
                      _fmt(r.modelled_share_pct, ".1f"), _fmt(r.diff_pp, "+.1f"), _fmt(r.share_ratio, ".2f")]
        cells += [_fmt(r.extra_share_pct.get(label), ".1f") for label in labels]
        table.add_row(*cells, style="bold" if r.op_class.endswith("total") else None)
    console.print(table)


def print_report(console, runs: list[ModelRun]) -> None:
    """Tables and notes for every model (human output, on the console given: stderr in the CLI)."""
    from cimscope.profile.join import match_summary

    for run in runs:
        class_table(console, run)
        if run.modelled is not None:
            s = match_summary(run.ops, run.modelled.workload.ops)
            console.print(f"  operator join: {s['matched_calls']}/{s['calls']} measured calls "
                          f"({s['matched_time_pct']:.1f}% of measured time) matched to "
                          f"{s['exported_ops_matched']}/{s['exported_ops']} exported operators"
                          + (f"; {s['composite_calls']} composite calls" if s["composite_calls"] else ""),
                          highlight=False)
        top = sorted(run.ops, key=lambda r: -r.measured_s)[:5]
        if top:
            console.print("  slowest calls: " + "; ".join(
                f"{r.module or '(top)'} {r.name} {r.measured_s * 1e3:.3f} ms ({r.measured_share_pct:.1f}%"
                + (f", modelled {r.modelled_share_pct:.1f}%" if r.modelled_share_pct is not None else "") + ")"
                for r in top), highlight=False)
        if run.profile.unknown_ops:
            names = ", ".join(f"{k} {v * 1e3:.3f} ms" for k, v in list(run.profile.unknown_ops.items())[:5])
            console.print(f"  not in the taxonomy (counted as 'other'): {names}", highlight=False)


def bars(runs: list[ModelRun]) -> list[tuple[str, dict[str, float]]]:
    """Stacked-bar data: per model, measured shares, then each modelled side's (percent per class)."""
    out: list[tuple[str, dict[str, float]]] = []
    for run in runs:
        prof, mod = run.profile, run.modelled
        label = short_label(prof.model)
        out.append((f"{label}\nmeasured {prof.device}", {c: prof.share_pct(c) for c in OP_CLASSES}))
        if mod is None:
            continue
        for name, ct in [(f"modelled {mod.arch}", mod.class_latency_s)] + \
                [(gpu_labels(mod)[ex], ct) for ex, ct in mod.gpu_class_s.items()]:
            total = sum(ct.values())
            out.append((f"{label}\n{name}", {c: (100.0 * v / total if total > 0 else 0.0) for c, v in ct.items()}))
    return out


def stacked_png(runs: list[ModelRun], path: Path) -> Path:
    """Stacked bars of class shares (linear axis, 0-100 %), legend outside the axes."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = bars(runs)
    classes = [c for c in OP_CLASSES if any(b[1].get(c, 0.0) > 0 for b in data)]
    tab20 = plt.get_cmap("tab20")
    colours = {c: tab20(2 * i % 20 + (i >= 10)) for i, c in enumerate(OP_CLASSES)}
    fig, ax = plt.subplots(figsize=(max(5.0, 1.15 * len(data) + 3.0), 5.0))
    x = list(range(len(data)))
    bottom = [0.0] * len(data)
    for c in classes:
        vals = [b[1].get(c, 0.0) for b in data]
        patches = ax.bar(x, vals, bottom=bottom, label=c, color=colours[c], width=0.7, edgecolor="white",
                         linewidth=0.4)
        for patch, b in zip(patches, data):
            if "\nmeasured" not in b[0]:
                patch.set_hatch("//")
        bottom = [b + v for b, v in zip(bottom, vals)]
    for xi, b in zip(x, data):
        ng = sum(v for c, v in b[1].items() if c != GEMM)
        ax.text(xi, 101, f"NonGEMM\n{ng:.1f}%", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x)
    ax.set_xticklabels([b[0] for b in data], fontsize=7)
    ax.set_ylabel("share of operator latency (%)")
    ax.set_ylim(0, 112)
    ax.set_yticks(range(0, 101, 20))
    ax.set_title("GEMM / NonGEMM breakdown: measured (solid) and modelled (hatched)", fontsize=10)
    ax.legend(fontsize=7, bbox_to_anchor=(1.01, 1.0), loc="upper left", borderaxespad=0.0)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    plt.close(fig)
    return atomic.write_bytes(path, buf.getvalue())


def csv_text(header: list[str], rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def class_rows(runs: list[ModelRun]) -> tuple[list[str], list[list[Any]]]:
    labels = sorted({lab for run in runs if run.modelled for lab in gpu_labels(run.modelled).values()})
    header = ["model", "device", "dtype", "execution", "batch", "op_class", "measured_s", "measured_share_pct",
              "modelled_s", "modelled_share_pct", "diff_pp", "share_ratio"] + \
             [f"{lab.replace(' ', '_')}_share_pct" for lab in labels]
    rows = []
    for run in runs:
        p = run.profile
        for r in run.classes:
            rows.append([p.model, p.device, p.dtype, p.meta.get("execution", "eager"), p.batch, r.op_class,
                         r.measured_s, r.measured_share_pct, r.modelled_s, r.modelled_share_pct, r.diff_pp,
                         r.share_ratio] + [r.extra_share_pct.get(lab) for lab in labels])
    return header, rows


def op_rows(runs: list[ModelRun]) -> tuple[list[str], list[list[Any]]]:
    header = ["model", "index", "module", "name", "work", "op_class", "input_shapes", "measured_s",
              "measured_share_pct", "modelled_ops", "modelled_target", "modelled_class", "modelled_s",
              "modelled_share_pct", "match"]
    rows = [[run.profile.model, r.index, r.module, r.name, r.work, r.op_class, json.dumps(r.input_shapes),
             r.measured_s, r.measured_share_pct, " ".join(r.modelled_ops), r.modelled_target, r.modelled_class,
             r.modelled_s, r.modelled_share_pct, r.match] for run in runs for r in run.ops]
    return header, rows


def write_files(out: Path, runs: list[ModelRun], doc: dict) -> dict[str, str]:
    """breakdown.csv, ops.csv, breakdown.png and profile.json (with the file list) into ``out``."""
    files = {
        "classes_csv": atomic.write_text(out / CLASSES_CSV, csv_text(*class_rows(runs))),
        "ops_csv": atomic.write_text(out / OPS_CSV, csv_text(*op_rows(runs))),
        "png": stacked_png(runs, out / PNG_NAME),
    }
    names = {k: str(v) for k, v in files.items()}
    names["json"] = str(out / JSON_NAME)
    atomic.write_json(out / JSON_NAME, {**doc, "files": names})
    return names


__all__ = ["PNG_NAME", "CLASSES_CSV", "OPS_CSV", "JSON_NAME", "print_report", "class_table", "bars",
           "stacked_png", "write_files", "class_rows", "op_rows"]
