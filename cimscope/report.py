"""Tables, CSV/JSON and PNG plots of network evaluations and placement comparisons.

Every figure carries its unit in the column name (pJ, uJ, cycles, s, J*s, B, MACs/B). Files are written
atomically (:mod:`cimscope.atomic`). Ratios ``*_x`` are relative to the baseline (placement ``none``) of the
same model: < 1 means CiM is better.
"""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any, Optional

from cimscope import ir
from cimscope.atomic import write_json, write_text
from cimscope.compare_plots import plot_model
from cimscope.pipeline.dispatch import reuse_threshold

# ---------------------------------------------------------------------------------------------------------
# formatting
# ---------------------------------------------------------------------------------------------------------


def fmt_energy(pj: float) -> str:
    for unit, scale in (("J", 1e12), ("mJ", 1e9), ("uJ", 1e6), ("nJ", 1e3)):
        if abs(pj) >= scale:
            return f"{pj / scale:.4g} {unit}"
    return f"{pj:.4g} pJ"


def fmt_time(s: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if abs(s) >= scale:
            return f"{s / scale:.4g} {unit}"
    return f"{s:.4g} s" if s else "0 s"


def text_table(rows: list[dict], columns: list[tuple[str, str]], floatfmt: str = ".4g") -> str:
    """A plain-text table: ``columns`` = [(key, header)]."""
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return "-" if math.isnan(v) else format(v, floatfmt)
        return "" if v is None else str(v)
    body = [[cell(r.get(k)) for k, _ in columns] for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, (_, h) in enumerate(columns)]
    lines = ["  ".join(h.ljust(w) for (_, h), w in zip(columns, widths)),
             "  ".join("-" * w for w in widths)]
    for b in body:
        lines.append("  ".join(c.rjust(w) if _numeric(c) else c.ljust(w) for c, w in zip(b, widths)))
    return "\n".join(lines)


def _numeric(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def csv_text(rows: list[dict], columns: Optional[list[str]] = None) -> str:
    if columns is None:
        columns = []
        for r in rows:
            for k in r:
                if k not in columns:
                    columns.append(k)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k, "") for k in columns})
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------------------
# one network
# ---------------------------------------------------------------------------------------------------------

OP_COLUMNS = [("name", "operator"), ("module", "module"), ("op_class", "class"), ("unit", "unit"),
              ("count", "count"), ("macs", "MACs"), ("energy_pJ", "energy (pJ)"), ("cycles", "cycles"),
              ("latency_s", "latency (s)"), ("edp_Js", "EDP (J*s)"), ("bound", "bound"), ("note", "note")]


def op_rows(nr: ir.NetworkResult) -> list[dict]:
    """Per-operator rows (figures for one occurrence; ``count`` occurrences)."""
    out = []
    for o in nr.ops:
        d = {k: getattr(o, k) for k in ("name", "target", "module", "op_class", "kind", "unit", "count", "macs",
                                        "elem_ops", "weight_bytes", "reuse_macs_per_weight_byte", "energy_pJ",
                                        "cycles", "latency_s", "roofline_s", "bound", "note")}
        d["edp_Js"] = o.edp_Js
        for lv, e in o.energy_pJ_per_level.items():
            d[f"energy_pJ[{lv}]"] = e
        out.append(d)
    return out


def network_summary(nr: ir.NetworkResult) -> dict:
    d = {
        "model": nr.model, "arch": nr.arch, "placement": nr.placement, "primitive": nr.primitive or "",
        "engine": nr.engine, "energy_pJ": nr.energy_pJ, "energy_uJ": nr.energy_pJ * 1e-6, "latency_s": nr.latency_s,
        "cycles": nr.cycles, "edp_Js": nr.edp_Js, "gemm_energy_pJ": nr.gemm_energy_pJ,
        "nongemm_energy_pJ": nr.nongemm_energy_pJ, "gemm_latency_s": nr.gemm_latency_s,
        "nongemm_latency_s": nr.nongemm_latency_s,
        "nongemm_latency_share": nr.nongemm_latency_s / nr.latency_s if nr.latency_s else 0.0,
        "nongemm_energy_share": nr.nongemm_energy_pJ / nr.energy_pJ if nr.energy_pJ else 0.0,
        "cim_arrays": (nr.cim or {}).get("arrays", 0),
    }
    for lv, e in nr.energy_pJ_per_level.items():
        d[f"energy_pJ[{lv}]"] = e
    return d


def network_text(nr: ir.NetworkResult, *, top: Optional[int] = None) -> str:
    """Human summary of one evaluation: totals, energy per level, GEMM/NonGEMM split, operator table."""
    lines = [f"{nr.model} on {nr.arch}, placement {nr.placement}"
             + (f", primitive {nr.primitive}" if nr.primitive else "") + f", engine {nr.engine}"]
    if nr.cim:
        c = nr.cim
        lines.append(f"  CiM: {c['arrays']} {c['primitive']['name']} arrays replacing {c['level']} "
                     f"({c['arrays_per_group']} per {c['group_level']}; {c['capacity_bytes']:,} B, weights "
                     f"{c['weight_capacity_bytes']:,} B; area {100 * c['area_overhead']:+.1f}% vs replaced SRAM)")
    if "dispatch" in nr.meta:
        d = nr.meta["dispatch"]
        thr = d["pays_from_reuse_macs_per_weight_byte"]
        lines.append(f"  dispatch best: {d['cim_ops']} of {d['gemm_ops']} GEMMs in CiM (CiM pays from reuse "
                     + ("- (never)" if thr is None else f"{thr:.4g} MACs/B")
                     + f"); network from the {d['chosen']} (EDP {d['mix_edp_Js']:.4g} J*s mix, baseline "
                     f"{d['baseline_edp_Js']:.4g} J*s"
                     + ("" if d["all_cim_edp_Js"] is None else f", all in CiM {d['all_cim_edp_Js']:.4g} J*s") + ")")
    lines.append(f"  energy  {fmt_energy(nr.energy_pJ)} ({nr.energy_pJ:.6g} pJ)")
    lines.append(f"  latency {nr.cycles:,.0f} cycles = {fmt_time(nr.latency_s)} ({nr.latency_s:.6g} s)")
    lines.append(f"  EDP     {nr.edp_Js:.6g} J*s")
    g_share = 100 * nr.gemm_latency_s / nr.latency_s if nr.latency_s else 0.0
    lines.append(f"  GEMM    {fmt_energy(nr.gemm_energy_pJ)}, {fmt_time(nr.gemm_latency_s)} ({g_share:.1f}% of latency)")
    lines.append(f"  NonGEMM {fmt_energy(nr.nongemm_energy_pJ)}, {fmt_time(nr.nongemm_latency_s)} "
                 f"({100 - g_share:.1f}% of latency)")
    lines.append("  energy per level:")
    for lv, e in sorted(nr.energy_pJ_per_level.items(), key=lambda kv: -kv[1]):
        share = 100 * e / nr.energy_pJ if nr.energy_pJ else 0.0
        lines.append(f"    {lv:<14} {e:>14.6g} pJ  {share:5.1f}%")
    rows = op_rows(nr)
    if top is not None:
        rows = sorted(rows, key=lambda r: -r["latency_s"] * r["count"])[:top]
        lines.append(f"  top {len(rows)} operators by latency (figures per occurrence):")
    else:
        lines.append(f"  {len(rows)} operators (figures per occurrence):")
    lines.append(text_table(rows, OP_COLUMNS))
    return "\n".join(lines)


def write_network(nr: ir.NetworkResult, out_dir) -> list[str]:
    out = Path(out_dir)
    stem = (f"{nr.model}_{nr.arch}_{nr.placement}" + (f"_{nr.primitive}" if nr.primitive else "")
            + ("+best" if "dispatch" in nr.meta else ""))
    p1 = write_json(out / f"{stem}.json", nr.to_dict())
    p2 = write_text(out / f"{stem}_ops.csv", csv_text(op_rows(nr)))
    return [str(p1), str(p2)]


# ---------------------------------------------------------------------------------------------------------
# comparisons
# ---------------------------------------------------------------------------------------------------------


def _baseline(grid, model: str) -> Optional[ir.NetworkResult]:
    return grid.networks.get((model, "baseline"))


def compare_rows(grid) -> list[dict]:
    """One row per (model, configuration) with ratios to the model's baseline."""
    rows = []
    for model in grid.models:
        base = _baseline(grid, model)
        for cfg in grid.configs:
            label = cfg.label()
            nr = grid.networks.get((model, label))
            if nr is None:
                rows.append({"model": model, "arch": cfg.arch, "placement": cfg.placement,
                             "primitive": cfg.primitive or "", "dispatch": cfg.dispatch,
                             "error": grid.errors.get((model, label), "")})
                continue
            d = network_summary(nr)
            d["dispatch"] = cfg.dispatch
            if base is not None:
                d["energy_x"] = nr.energy_pJ / base.energy_pJ
                d["latency_x"] = nr.latency_s / base.latency_s
                d["edp_x"] = nr.edp_Js / base.edp_Js
                d["gemm_energy_x"] = nr.gemm_energy_pJ / base.gemm_energy_pJ if base.gemm_energy_pJ else float("nan")
                d["gemm_latency_x"] = (nr.gemm_latency_s / base.gemm_latency_s if base.gemm_latency_s
                                       else float("nan"))
            d["error"] = ""
            rows.append(d)
    return rows


COMPARE_COLUMNS = [("model", "model"), ("placement", "placement"), ("primitive", "primitive"),
                   ("dispatch", "dispatch"),
                   ("energy_uJ", "energy (uJ)"), ("latency_s", "latency (s)"), ("edp_Js", "EDP (J*s)"),
                   ("energy_x", "energy x"), ("latency_x", "latency x"), ("edp_x", "EDP x"),
                   ("gemm_latency_x", "GEMM lat x"), ("nongemm_latency_share", "NonGEMM lat share"),
                   ("cim_arrays", "arrays"), ("error", "error")]


def gains_rows(grid) -> list[dict]:
    """Per GEMM operator and CiM configuration: reuse (MACs per weight byte) and the ratios to the
    baseline (< 1: CiM gains)."""
    rows = []
    for model in grid.models:
        base = _baseline(grid, model)
        if base is None:
            continue
        bops = {o.name: o for o in base.ops if o.op_class == ir.GEMM}
        for cfg in grid.configs:
            if cfg.placement == "none" or cfg.dispatch != "all":     # the mix's rows are in dispatch_rows
                continue
            nr = grid.networks.get((model, cfg.label()))
            if nr is None:
                continue
            for o in nr.ops:
                b = bops.get(o.name)
                if b is None or b.energy_pJ <= 0 or b.latency_s <= 0:
                    continue
                rows.append({
                    "model": model, "placement": cfg.placement, "primitive": cfg.primitive, "op": o.name,
                    "module": o.module, "count": o.count, "macs": o.macs, "weight_bytes": o.weight_bytes,
                    "reuse_macs_per_weight_byte": o.reuse_macs_per_weight_byte,
                    "baseline_energy_pJ": b.energy_pJ, "baseline_latency_s": b.latency_s, "baseline_edp_Js": b.edp_Js,
                    "cim_energy_pJ": o.energy_pJ, "cim_latency_s": o.latency_s, "cim_edp_Js": o.edp_Js,
                    "energy_x": o.energy_pJ / b.energy_pJ, "latency_x": o.latency_s / b.latency_s,
                    "edp_x": o.edp_Js / b.edp_Js, "gains_edp": o.edp_Js < b.edp_Js,
                    "gains_energy": o.energy_pJ < b.energy_pJ,
                })
    return rows


def break_even(gains: list[dict], metric: str = "edp_x") -> list[dict]:
    """Per (model, placement, primitive): how many GEMMs gain (``metric`` < 1), and the reuse (MACs per weight
    byte) from which CiM pays: the threshold r that best separates them by the rule "gains iff reuse >= r"
    (fewest operators on the wrong side, ties to the lowest r). ``rule_agreement`` is the share of operators
    the rule classifies right; r is None when the best rule is "never" (no operator gains)."""
    groups: dict[tuple, list[dict]] = {}
    for g in gains:
        groups.setdefault((g["model"], g["placement"], g["primitive"]), []).append(g)
    out = []
    for (model, pl, pr), rows in groups.items():
        thr, wrong, n = reuse_threshold((r["reuse_macs_per_weight_byte"], r[metric] < 1.0) for r in rows)
        n_gain = sum(1 for r in rows if r[metric] < 1.0)
        out.append({"model": model, "placement": pl, "primitive": pr, "metric": metric, "gemm_ops": len(rows),
                    "gaining_ops": n_gain, "pays_from_reuse_macs_per_weight_byte": thr,
                    "rule_agreement": 1.0 - wrong / n,
                    "min_ratio": min(r[metric] for r in rows), "max_ratio": max(r[metric] for r in rows)})
    return out


def dispatch_rows(grid) -> list[dict]:
    """Per GEMM operator of every ``dispatch="best"`` configuration: where it runs and why."""
    rows = []
    for model in grid.models:
        for cfg in grid.configs:
            nr = grid.networks.get((model, cfg.label()))
            if cfg.dispatch != "best" or nr is None:
                continue
            for o in nr.ops:
                if o.op_class != ir.GEMM:
                    continue
                rows.append({"model": model, "placement": cfg.placement, "primitive": cfg.primitive, "op": o.name,
                             "module": o.module, "count": o.count,
                             "reuse_macs_per_weight_byte": o.reuse_macs_per_weight_byte,
                             "cim_edp_x": o.extra.get("dispatch_cim_edp_x"), "unit": o.unit,
                             "reason": o.note.rsplit("dispatch: ", 1)[-1]})
    return rows


DISPATCH_COLUMNS = [("model", "model"), ("placement", "placement"), ("primitive", "primitive"), ("op", "op"),
                    ("module", "module"), ("reuse_macs_per_weight_byte", "reuse (MACs/B)"),
                    ("cim_edp_x", "CiM EDP x"), ("unit", "runs on")]


def compare_text(grid) -> str:
    rows = compare_rows(grid)
    parts = [text_table(rows, COMPARE_COLUMNS)]
    be = break_even(gains_rows(grid))
    if be:
        parts.append("\nwhere CiM pays (per GEMM operator, EDP vs the baseline; reuse = MACs per weight byte):")
        parts.append(text_table(be, [("model", "model"), ("placement", "placement"), ("primitive", "primitive"),
                                     ("gaining_ops", "GEMMs gaining"), ("gemm_ops", "of"),
                                     ("pays_from_reuse_macs_per_weight_byte", "pays from reuse (MACs/B)"),
                                     ("rule_agreement", "rule fits"),
                                     ("min_ratio", "best EDP x"), ("max_ratio", "worst EDP x")]))
    disp = dispatch_rows(grid)
    if disp:
        parts.append("\nper-operator dispatch (best: CiM or tensor cores by EDP; CiM EDP x = CiM / tensor cores):")
        parts.append(text_table(disp, DISPATCH_COLUMNS))
        for model in grid.models:
            for cfg in grid.configs:
                nr = grid.networks.get((model, cfg.label()))
                if cfg.dispatch == "best" and nr is not None:
                    d = nr.meta["dispatch"]
                    parts.append(f"{model} {cfg.label()}: {d['cim_ops']} of {d['gemm_ops']} GEMMs in CiM, "
                                 f"network from the {d['chosen']}")
    if grid.stats:
        s = grid.stats
        parts.append(f"\n{s.get('gemm_tasks', 0)} GEMM tasks: {s.get('cache_hits', 0)} from cache, "
                     f"{s.get('computed', 0)} computed, {s.get('failed', 0)} failed ({s.get('backend')}), "
                     f"{s.get('seconds', 0):.1f} s")
    return "\n".join(parts)


def compare_json(grid) -> dict:
    gains = gains_rows(grid)
    return {"configurations": compare_rows(grid), "break_even": break_even(gains) + break_even(gains, "energy_x"),
            "gains": gains, "dispatch": dispatch_rows(grid), "stats": grid.stats,
            "errors": {f"{m}|{c}": e for (m, c), e in grid.errors.items()}}


# ---------------------------------------------------------------------------------------------------------
# files (the plots: cimscope.compare_plots)
# ---------------------------------------------------------------------------------------------------------


def write_compare(grid, out_dir, *, plots: bool = True, plot_cache=None) -> list[str]:
    """compare.csv/.json/.txt, gains.csv, ops/*.csv and (``plots``) the PNGs of each model, drawn once per
    distinct input and copied from ``plot_cache`` afterwards (:func:`cimscope.compare_plots.plot_model`)."""
    out = Path(out_dir)
    rows = compare_rows(grid)
    gains = gains_rows(grid)
    files = [str(write_text(out / "compare.csv", csv_text(rows))),
             str(write_text(out / "gains.csv", csv_text(gains))),
             str(write_json(out / "compare.json", compare_json(grid))),
             str(write_text(out / "compare.txt", compare_text(grid) + "\n"))]
    for (model, label), nr in grid.networks.items():
        stem = f"{model}_{label.replace('/', '_')}"
        files.append(str(write_text(out / "ops" / f"{stem}.csv", csv_text(op_rows(nr)))))
    if plots:
        for model in grid.models:
            files += plot_model(grid, model, out, plot_cache)
    return files
