"""PNG plots of BF-IMNA runs: published top-1 accuracy vs EDP, and energy/latency/EDP against supply voltage.
Written atomically (:mod:`cimscope.atomic`); matplotlib is imported only when a plot is drawn."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from cimscope.atomic import write_bytes
from cimscope.errors import InputError


def plot_accuracy_vs_edp(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """PNG: published top-1 accuracy (%) vs EDP (J*s) of the configurations (HAWQ-V3)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = [r for r in rows if r.get("top1") is not None]
    if not pts:
        raise InputError("no configuration has a published top-1 accuracy to plot")
    fig, ax = plt.subplots(figsize=(6, 4.2))
    groups: dict[tuple, list] = {}
    for r in pts:
        groups.setdefault((r["model"], r["cell"], r["vdd_V"]), []).append(r)
    for g, ((model, cell, vdd), rs) in enumerate(groups.items()):
        ax.plot([r["edp_Js"] for r in rs], [r["top1"] for r in rs], "o-", label=f"{model} {cell} {vdd:g} V")
        if g:
            continue                                  # every group has the same configurations: label once
        for i, r in enumerate(sorted(rs, key=lambda r: r["edp_Js"])):
            ax.annotate(r["config"], (r["edp_Js"], r["top1"]), textcoords="offset points",
                        xytext=(5, 5 if i % 2 else -11), fontsize=7)
    ax.set_xlabel("EDP per inference (J*s)")
    ax.set_ylabel("top-1 accuracy (%) (HAWQ-V3, published)")
    ax.set_title("BF-IMNA: accuracy vs EDP, HAWQ-V3 ResNet18 configurations")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=120)
    plt.close(fig)
    return write_bytes(path, buf.getvalue())


def plot_sweep(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """PNG: energy (mJ), latency (ms) and EDP (J*s) vs supply voltage, one line per model/config/cell."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    groups: dict[tuple, list] = {}
    for r in rows:
        groups.setdefault((r["model"], r["config"], r["cell"]), []).append(r)
    pairs = sorted({(m, c) for m, c, _ in groups})
    cmap = plt.get_cmap("tab10" if len(pairs) <= 10 else "tab20")
    color = {p: cmap(i % cmap.N) for i, p in enumerate(pairs)}
    cells = sorted({c for _, _, c in groups}, key=lambda c: (c != "sram", c))
    styles = {c: ("-", "--", ":", "-.")[i % 4] for i, c in enumerate(cells)}
    for (model, cfg, cell), rs in sorted(groups.items()):
        rs = sorted(rs, key=lambda r: r["vdd_V"])
        v = [r["vdd_V"] for r in rs]
        for ax, key in zip(axes, ("energy_mJ", "latency_ms", "edp_Js")):
            ax.plot(v, [r[key] for r in rs], marker="o", linestyle=styles[cell], color=color[(model, cfg)],
                    label=f"{model} {cfg} {cell}")
    for ax, lab in zip(axes, ("energy per inference (mJ)", "latency per inference (ms)", "EDP (J*s)")):
        ax.set_xlabel("supply voltage (V)")
        ax.set_ylabel(lab)
        ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
    axes[2].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.suptitle("BF-IMNA sweep (cimscope bitfluid); line style = cell technology")
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return write_bytes(path, buf.getvalue())
