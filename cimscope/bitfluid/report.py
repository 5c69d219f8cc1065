"""Reports of BF-IMNA runs, written once for every caller: one row per run (:func:`row`), per-layer rows
(:func:`layer_row`), CSV (:func:`rows_to_csv`) and the human tables printed on stderr (:func:`print_report`).
Units are in the column names (mJ, ms, J*s, 1/s, pJ, s)."""
from __future__ import annotations

import csv
import io
from typing import Any, Sequence

from cimscope.bitfluid.cost import LayerCost
from cimscope.bitfluid.network import NetworkCost


ROW_FIELDS = ("model", "config", "cell", "node_nm", "vdd_V", "energy_mJ", "latency_ms", "edp_Js",
              "throughput_inf_per_s", "gemm_energy_mJ", "nongemm_energy_mJ", "movement_mJ", "dram_mJ", "top1")


def row(nc: NetworkCost) -> dict[str, Any]:
    b = nc.breakdown_pJ()
    s = nc.split()
    return {
        "model": nc.model, "config": nc.config, "cell": nc.arch.get("cell"), "node_nm": nc.arch.get("node_nm"),
        "vdd_V": round(float(nc.arch.get("vdd_V")), 4), "energy_mJ": nc.energy_J * 1e3,
        "latency_ms": nc.latency_s * 1e3, "edp_Js": nc.edp_Js, "throughput_inf_per_s": nc.throughput_per_s,
        "gemm_energy_mJ": s["GEMM"]["energy_pJ"] * 1e-9, "nongemm_energy_mJ": s["NonGEMM"]["energy_pJ"] * 1e-9,
        "movement_mJ": b.get("movement", 0.0) * 1e-9, "dram_mJ": b.get("dram", 0.0) * 1e-9,
        "top1": nc.meta.get("top1"),
    }


def rows_to_csv(rows: list[dict[str, Any]], fields: Sequence[str] = ROW_FIELDS) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(fields), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else (f"{r[k]:.6g}" if isinstance(r.get(k), float) else r[k]))
                    for k in fields})
    return buf.getvalue()


LAYER_FIELDS = ("model", "config", "cell", "vdd_V", "op", "module", "class", "kind", "w_bits", "a_bits",
                "out_bits", "macs", "rows", "waves", "energy_pJ", "compute_pJ", "movement_pJ", "dram_pJ",
                "latency_s", "note")


def layer_row(lc: LayerCost, overlap: bool) -> dict[str, Any]:
    """One operator of a run: bits, rows, waves, energy split (pJ) and latency (s)."""
    return {"op": lc.op_name, "module": lc.module, "class": lc.op_class, "kind": lc.kind, "w_bits": lc.w_bits,
            "a_bits": lc.a_bits, "out_bits": lc.out_bits, "macs": lc.macs, "rows": lc.rows, "waves": lc.waves,
            "energy_pJ": lc.energy_total_pJ, "compute_pJ": lc.compute_energy_pJ,
            "movement_pJ": lc.energy_pJ.get("movement", 0.0), "dram_pJ": lc.energy_pJ.get("dram", 0.0),
            "latency_s": lc.latency_s(overlap), "note": lc.note}


TABLE_TITLE = "BF-IMNA bit-fluid inference (cimscope bitfluid), per inference"


def print_report(rows: Sequence[dict[str, Any]], dynamic: Sequence[dict[str, Any]],
                 archs: Sequence[dict[str, Any]], written: Sequence[Any] = ()) -> None:
    """The run table, the dynamic-precision totals, the architectures and the files written, on stderr."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=TABLE_TITLE)
    for col in ("model", "config", "cell", "Vdd (V)", "energy (mJ)", "latency (ms)", "EDP (J*s)",
                "throughput (inf/s)", "top-1 (%)"):
        table.add_column(col, justify="left" if col in ("model", "config", "cell") else "right")
    for r in rows:
        table.add_row(r["model"], r["config"], r["cell"], f"{r['vdd_V']:.2f}", f"{r['energy_mJ']:.4g}",
                      f"{r['latency_ms']:.4g}", f"{r['edp_Js']:.4g}", f"{r['throughput_inf_per_s']:.4g}",
                      "" if r.get("top1") is None else f"{r['top1']:.2f}")
    con = Console(stderr=True, width=140)
    con.print(table)
    for d in dynamic:
        con.print(f"dynamic precision {d['model']} {d['cell']} {d['vdd_V']:.2f} V, sequence "
                  f"{','.join(d['sequence'])}: total {d['total_energy_J'] * 1e3:.4g} mJ, "
                  f"{d['total_latency_s'] * 1e3:.4g} ms; average {d['average_energy_J'] * 1e3:.4g} mJ, "
                  f"{d['average_latency_s'] * 1e3:.4g} ms per inference; reconfiguration "
                  f"{d['reconfiguration_J']:g} J", soft_wrap=True)
    for a in archs:
        con.print(f"arch {a['name']}: {a['cell']} {a['node_nm']:g} nm {a['vdd_V']:.2f} V, {a['caps']} CAPs "
                  f"{a['cap']} + {a['maps']} MAPs {a['map']}, AP clock {a['ap_clock_GHz']:.3g} GHz, "
                  f"MAP capacity {a['map_capacity_MB']:.1f} MB", soft_wrap=True)
    for p in written:
        con.print(f"wrote {p}")
