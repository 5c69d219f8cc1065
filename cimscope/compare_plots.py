"""The PNG plots of a placement comparison (``cimscope compare --out``), one figure per question, readable at
a glance: horizontal bars (configuration names stay horizontal), linear axes for shares, every value printed
next to its bar, legends outside the data.

* ``energy_per_level_MODEL.png``: left, the total energy of each configuration relative to the model's
  baseline (placement ``none``; < 1: CiM saves energy); right, energy per level in uJ without the level that
  dominates the baseline (off-chip DRAM/HBM, about the same in every configuration: it would flatten every
  difference), its share and range stated in the panel title.
* ``latency_MODEL.png``: left, the GEMM / NonGEMM split of each configuration's latency in % (linear, 0-100);
  right, the total latency relative to the baseline (one bar each, never stacked on a log axis).
* ``edp_MODEL.png``: energy-delay product relative to the baseline.

Relative axes switch to log only when the ratios span more than :data:`LOG_SPAN` (a single bar per row, so a log
axis hides nothing).
"""
from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Optional

from cimscope import ir
from cimscope.atomic import write_bytes

#: Ratios spanning more than this factor are drawn on a log axis.
LOG_SPAN = 30.0
#: A level holding more than this share of the baseline's energy is left out of the per-level panel (its
#: energy and share are stated in the panel's title instead).
DOMINANT_SHARE = 0.5
BETTER, WORSE, NEUTRAL = "#2a9d8f", "#e76f51", "#8d99ae"


def level_category(name: str) -> str:
    """Group per-level energies for the stacked plots."""
    if name.startswith("CiM_") and (name.endswith("_MAC") or name.endswith("_arrays")):
        return "CiM MACs"
    if name.startswith("CiM_"):
        return "CiM weight writes"
    if name == "MAC":
        return "tensor-core MACs"
    if name == "SIMT":
        return "SIMT lanes"
    return name


def png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def by_category(nr: ir.NetworkResult) -> dict[str, float]:
    out: dict[str, float] = {}
    for lv, e in nr.energy_pJ_per_level.items():
        out[level_category(lv)] = out.get(level_category(lv), 0.0) + e
    return out


def ratio_bars(ax, labels: list[str], ratios: list[float], xlabel: str) -> None:
    """Horizontal bars of ratios to the baseline, coloured better / worse, each value printed."""
    colors = [NEUTRAL if abs(r - 1.0) < 1e-9 else (BETTER if r < 1.0 else WORSE) for r in ratios]
    y = list(range(len(labels)))
    ax.barh(y, ratios, color=colors)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.axvline(1.0, color="k", lw=0.8)
    positive = [r for r in ratios if r > 0]
    if positive and max(positive) / min(positive) > LOG_SPAN:
        ax.set_xscale("log")
        ax.set_xlim(min(positive + [1.0]) / 1.5, max(positive + [1.0]) * 2.5)     # room for the labels
    else:
        ax.set_xlim(0, max(ratios + [1.0]) * 1.25)
    for yi, r in zip(y, ratios):
        ax.annotate(f"{r:.3g}x", (r, yi), xytext=(3, 0), textcoords="offset points", va="center", fontsize=7)
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", lw=0.3, alpha=0.6)


def title(fig, text: str) -> None:
    """A figure title just above the panels' titles."""
    h = fig.get_size_inches()[1]
    fig.subplots_adjust(top=1.0 - 0.75 / h)
    fig.suptitle(text, fontsize=10, y=1.0 - 0.12 / h)


def size(n: int) -> tuple[float, float]:
    return (11.0, max(2.6, 0.32 * n + 1.4))


def energy_figure(model: str, nets: list, base: ir.NetworkResult, ref: str):
    import matplotlib.pyplot as plt
    labels = [lbl for lbl, _ in nets]
    cats = {lbl: by_category(nr) for lbl, nr in nets}
    base_cats = by_category(base)
    dominant = max(base_cats, key=base_cats.get)
    share = base_cats[dominant] / base.energy_pJ
    if share <= DOMINANT_SHARE:
        dominant = None
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=size(len(nets)), sharey=True,
                                   gridspec_kw={"width_ratios": [1, 1.4]})
    ratio_bars(ax1, labels, [nr.energy_pJ / base.energy_pJ for _, nr in nets], f"total energy / {ref} (< 1: less)")
    ax1.set_title(f"total energy ({ref} {base.energy_pJ * 1e-6:.4g} uJ)", fontsize=9)
    rest = [c for c in dict.fromkeys(c for lbl in labels for c in cats[lbl]) if c != dominant]
    left = [0.0] * len(nets)
    y = list(range(len(nets)))
    cmap = plt.get_cmap("tab10")
    for i, c in enumerate(rest):
        vals = [cats[lbl].get(c, 0.0) * 1e-6 for lbl in labels]
        ax2.barh(y, vals, left=left, label=c, color=cmap(i % 10))
        left = [a + v for a, v in zip(left, vals)]
    for yi, total in zip(y, left):
        ax2.annotate(f"{total:.3g}", (total, yi), xytext=(3, 0), textcoords="offset points", va="center", fontsize=7)
    if dominant is None:
        ax2.set_title("energy per level (uJ)", fontsize=9)
    else:
        dom = [cats[lbl].get(dominant, 0.0) * 1e-6 for lbl in labels]
        ax2.set_title(f"energy per level without {dominant} ({100 * share:.0f}% of the {ref}'s energy; "
                      f"{min(dom):.4g}-{max(dom):.4g} uJ here)", fontsize=9)
    ax2.set_xlim(0, max(left + [1e-12]) * 1.18)
    ax2.grid(axis="x", lw=0.3, alpha=0.6)
    ax2.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, title="level", title_fontsize=7)
    ax2.set_xlabel("energy (uJ)" if dominant is None else f"energy without {dominant} (uJ)")
    title(fig, f"{model}: energy on {base.arch}")
    return fig


def latency_figure(model: str, nets: list, base: ir.NetworkResult, ref: str):
    import matplotlib.pyplot as plt
    labels = [lbl for lbl, _ in nets]
    y = list(range(len(nets)))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=size(len(nets)), sharey=True)
    ratio_bars(ax1, labels, [nr.latency_s / base.latency_s for _, nr in nets], f"latency / {ref} (< 1: faster)")
    ax1.set_title(f"total latency ({ref} {base.latency_s * 1e3:.4g} ms)", fontsize=9)
    g = [100 * nr.gemm_latency_s / nr.latency_s if nr.latency_s else 0.0 for _, nr in nets]
    ax2.barh(y, g, color="#457b9d", label="GEMM")
    ax2.barh(y, [100 - v for v in g], left=g, color="#f4a261", label="NonGEMM (SIMT)")
    for yi, v in zip(y, g):
        ax2.annotate(f"{v:.0f}% GEMM", (v / 2, yi), ha="center", va="center", fontsize=7, color="white")
    ax2.set_xlim(0, 100)
    ax2.set_xlabel("share of latency (%)")
    ax2.set_title("GEMM / NonGEMM share of each configuration's latency", fontsize=9)
    ax2.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    title(fig, f"{model}: latency on {base.arch}")
    return fig


def edp_figure(model: str, nets: list, base: ir.NetworkResult, ref: str):
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7.0, size(len(nets))[1]))
    ratio_bars(ax, [lbl for lbl, _ in nets], [nr.edp_Js / base.edp_Js for _, nr in nets],
               f"EDP / {ref} EDP (< 1: better)")
    ax.set_title(f"{model}: energy-delay product relative to the {ref} ({base.edp_Js:.3g} J*s)", fontsize=9)
    return fig


#: The figures of :func:`plot_model`, by file name prefix.
FIGURES = (("energy_per_level", energy_figure), ("latency", latency_figure), ("edp", edp_figure))


def plot_key(model: str, nets: list, ref: str) -> str:
    """Identity of ``model``'s figures: every value they draw, the configuration order, the code that draws them
    (this module's source) and the matplotlib version (:mod:`importlib.metadata`, no import)."""
    from importlib.metadata import PackageNotFoundError, version
    try:
        mpl = version("matplotlib")
    except PackageNotFoundError:
        mpl = None
    data = [(lbl, nr.arch, nr.energy_pJ, nr.energy_pJ_per_level, nr.latency_s, nr.gemm_latency_s, nr.edp_Js)
            for lbl, nr in nets]
    payload = {"model": model, "ref": ref, "nets": data, "matplotlib": mpl,
               "code": hashlib.sha256(Path(__file__).read_bytes()).hexdigest()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=repr).encode()).hexdigest()[:24]


def cached_pngs(cache_dir, key: str) -> Optional[dict[str, bytes]]:
    """The PNGs stored under ``key`` in ``cache_dir`` (all of them, or None)."""
    if cache_dir is None:
        return None
    try:
        return {name: (Path(cache_dir) / key / f"{name}.png").read_bytes() for name, _ in FIGURES}
    except OSError:
        return None


def render_pngs(model: str, nets: list, base: ir.NetworkResult, ref: str) -> dict[str, bytes]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    out = {}
    for name, make in FIGURES:
        fig = make(model, nets, base, ref)
        out[name] = png(fig)
        plt.close(fig)
    return out


def plot_model(grid, model: str, out_dir, cache_dir=None) -> list[str]:
    """The three PNGs of ``model`` (module docstring). Ratios are to the baseline, or to the first configuration
    when the grid has no placement ``none`` (the plots say which). With ``cache_dir``, figures whose inputs
    (:func:`plot_key`) were drawn before are copied from there instead of drawn again (no matplotlib import)."""
    nets = [(cfg.label(), grid.networks[(model, cfg.label())]) for cfg in grid.configs
            if (model, cfg.label()) in grid.networks]
    if not nets:
        return []
    base: Optional[ir.NetworkResult] = grid.networks.get((model, "baseline"))
    ref = "baseline" if base is not None else nets[0][0]
    base = base if base is not None else nets[0][1]
    if base.energy_pJ <= 0 or base.latency_s <= 0:
        return []
    key = plot_key(model, nets, ref)
    pngs = cached_pngs(cache_dir, key)
    if pngs is None:
        pngs = render_pngs(model, nets, base, ref)
        if cache_dir is not None:
            try:
                for name, data in pngs.items():
                    write_bytes(Path(cache_dir) / key / f"{name}.png", data)
            except OSError:
                pass                           # a read-only cache only costs drawing them again
    return [str(write_bytes(Path(out_dir) / f"{name}_{model}.png", pngs[name])) for name, _ in FIGURES]
