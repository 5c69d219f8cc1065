"""The WWW paper's figures, regenerated from ``www`` methodology rows (cimscope.www.grid.www_rows).

* ``www_energy.png``: energy-efficiency gain (baseline energy / CiM energy = TOPS/W ratio) per primitive at the
  RF and the SMEM, one panel per workload (every GEMM of the artifact's list, repeated layers counted);
* ``www_throughput.png``: throughput gain (baseline cycles / CiM cycles) per primitive and level, per
  workload, with WWW's latency post-processing (bars) and with the raw Timeloop cycles (markers);
* ``www_scatter.png``: TOPS/W against GMAC/s of every GEMM per primitive at the RF (the paper's Fig. 9 view).
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from cimscope.www.arch import PRIMITIVES

LEVELS = ("rf", "smem")
COLORS = {"analog6T": "tab:blue", "analog8T": "tab:orange", "digital6T": "tab:green", "digital8T": "tab:red"}


def workload_totals(rows: list[dict[str, Any]]) -> dict[tuple, dict[str, float]]:
    """(workload, placement, primitive) -> energy_pJ, cycles, timeloop_cycles summed over its GEMMs x count."""
    tot: dict[tuple, dict[str, float]] = defaultdict(lambda: {"energy_pJ": 0.0, "cycles": 0.0, "timeloop_cycles": 0.0,
                                                              "macs": 0.0})
    for r in rows:
        t = tot[(r["workload"], r["placement"], r["primitive"])]
        c = r["count"]
        t["energy_pJ"] += r["energy_pJ"] * c
        t["cycles"] += r["cycles"] * c
        t["timeloop_cycles"] += r["timeloop_cycles"] * c
        t["macs"] += r["M"] * r["N"] * r["K"] * c
    return dict(tot)


def gains(rows: list[dict[str, Any]]) -> dict[tuple, dict[str, float]]:
    """(workload, placement, primitive) -> energy, throughput (post-processed) and raw-throughput gains."""
    tot = workload_totals(rows)
    out = {}
    for (wl, pl, pr), t in tot.items():
        if pl == "none":
            continue
        b = tot[(wl, "none", None)]
        out[(wl, pl, pr)] = {"energy": b["energy_pJ"] / t["energy_pJ"], "throughput": b["cycles"] / t["cycles"],
                             "throughput_raw": b["timeloop_cycles"] / t["timeloop_cycles"]}
    return out


def _bars(ax, g: dict, wl: str, key: str, raw_key: str | None = None) -> None:
    width = 0.2
    for i, pr in enumerate(PRIMITIVES):
        xs = [j + (i - 1.5) * width for j in range(len(LEVELS))]
        ys = [g[(wl, pl, pr)][key] for pl in LEVELS]
        ax.bar(xs, ys, width, color=COLORS[pr], label=pr)
        if raw_key:
            ax.plot(xs, [g[(wl, pl, pr)][raw_key] for pl in LEVELS], "k_", markersize=12, mew=2)
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_xticks(range(len(LEVELS)))
    ax.set_xticklabels([f"{pl.upper()} CiM" for pl in LEVELS])
    ax.set_title(wl)
    ax.grid(True, axis="y", alpha=0.3)


def plot_all(rows: list[dict[str, Any]], out_dir: str | Path) -> list[Path]:
    """Write the three PNGs into ``out_dir``; returns their paths."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    g = gains(rows)
    workloads = list(dict.fromkeys(r["workload"] for r in rows))
    paths = []
    for name, key, raw, ylabel, log in (
            ("www_energy.png", "energy", None, "energy-efficiency gain (baseline / CiM energy)", False),
            ("www_throughput.png", "throughput", "throughput_raw", "throughput gain (baseline / CiM cycles)", True)):
        fig, axs = plt.subplots(1, len(workloads), figsize=(3.4 * len(workloads), 3.8), squeeze=False)
        for ax, wl in zip(axs[0], workloads):
            _bars(ax, g, wl, key, raw)
            if log:
                ax.set_yscale("log")
        axs[0][0].set_ylabel(ylabel)
        axs[0][0].legend(fontsize=7, loc="best")
        note = ("bars: WWW's latency post-processing; black dashes: raw Timeloop cycles" if raw else
                "energy with WWW's reduction-energy post-processing")
        fig.suptitle(f"www methodology, 4 arrays (X=1, Y=4) per CiM level vs the tensor-core-like SM; {note}",
                     fontsize=9)
        fig.tight_layout()
        paths.append(out / name)
        fig.savefig(paths[-1], dpi=120)
        plt.close(fig)
    paths.append(_scatter(rows, out / "www_scatter.png", plt))
    return paths


def _scatter(rows, path: Path, plt) -> Path:
    markers = {"BERT-Large": "o", "GPT-J": "s", "ResNet50": "^", "DLRM": "D"}
    fig, axs = plt.subplots(1, len(PRIMITIVES), figsize=(14, 3.8), sharey=True)
    for ax, pr in zip(axs, PRIMITIVES):
        for wl, mk in markers.items():
            pts = [r for r in rows if r["workload"] == wl and r["placement"] == "rf" and r["primitive"] == pr]
            ax.scatter([r["M"] * r["N"] * r["K"] / r["cycles"] for r in pts], [r["tops_per_W"] for r in pts],
                       marker=mk, s=18, label=wl, color=COLORS[pr], edgecolors="k", linewidths=0.4)
        base = [r for r in rows if r["placement"] == "none"]
        ax.scatter([r["M"] * r["N"] * r["K"] / r["cycles"] for r in base], [r["tops_per_W"] for r in base],
                   marker="x", s=14, color="gray", label="baseline SM")
        ax.set_xscale("log")
        ax.set_title(f"RF CiM, {pr}")
        ax.set_xlabel("GMAC/s at 1 GHz (post-processed cycles)")
        ax.grid(True, alpha=0.3)
    axs[0].set_ylabel("TOPS/W")
    axs[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
