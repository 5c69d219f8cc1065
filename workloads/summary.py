"""Per-class and per-operator totals of a Workload: MACs, element operations, bytes; GEMM vs NonGEMM shares.

Units: ``macs`` are multiply-accumulates; ``elem_ops`` are NonGEMM scalar operations (elements x ops per
element, see data/nongemm_taxonomy.yaml); ``arith_ops`` counts a MAC as 2 operations (multiply + add) and an
element operation as 1, so GEMM and NonGEMM work can be compared on one scale; bytes are bytes (B) at the
workload's bit widths.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Optional, TextIO

from cimscope.ir import GEMM, OP_CLASSES, Workload
from cimscope.workloads.taxonomy import classify


def _zero() -> dict[str, Any]:
    return {"count": 0, "macs": 0, "elem_ops": 0, "arith_ops": 0, "bytes_read": 0, "bytes_written": 0}


def _add(acc: dict, op) -> None:
    n = op.count
    acc["count"] += n
    acc["macs"] += op.macs * n
    acc["elem_ops"] += op.elem_ops * n
    acc["arith_ops"] += (2 * op.macs + op.elem_ops) * n
    acc["bytes_read"] += op.bytes_read * n
    acc["bytes_written"] += op.bytes_written * n


def _share(part: float, whole: float) -> float:
    return round(part / whole, 6) if whole else 0.0


def summarize(workload: Workload) -> dict[str, Any]:
    """Totals per class (in OP_CLASSES order), per operator target, and GEMM vs NonGEMM shares."""
    per_class: dict[str, dict] = OrderedDict()
    per_op: dict[str, dict] = {}
    split = {"GEMM": _zero(), "NonGEMM": _zero()}
    total = _zero()
    dynamic = _zero()
    for op in workload.ops:
        per_class.setdefault(op.op_class, _zero())
        _add(per_class[op.op_class], op)
        key = op.target if op.op_class == classify(op.target)[0] else f"{op.target} ({op.op_class})"
        if key not in per_op:                     # e.g. the softmax passes of an attention op get their own row
            per_op[key] = {"class": op.op_class, **_zero()}
        _add(per_op[key], op)
        _add(split["GEMM" if op.op_class == GEMM else "NonGEMM"], op)
        _add(total, op)
        if op.attrs.get("dynamic_weight"):
            _add(dynamic, op)
    order = {c: i for i, c in enumerate(OP_CLASSES)}
    per_class = OrderedDict(sorted(per_class.items(), key=lambda kv: order.get(kv[0], 99)))
    total_bytes = total["bytes_read"] + total["bytes_written"]
    for d in list(per_class.values()) + list(split.values()):
        d["bytes"] = d["bytes_read"] + d["bytes_written"]
        d["share_arith_ops"] = _share(d["arith_ops"], total["arith_ops"])
        d["share_bytes"] = _share(d["bytes"], total_bytes)
        d["share_count"] = _share(d["count"], total["count"])
    per_op_sorted = OrderedDict(sorted(per_op.items(), key=lambda kv: (-kv[1]["arith_ops"], -kv[1]["bytes_read"])))
    meta = workload.meta or {}
    return {
        "model": workload.model,
        "batch": workload.batch,
        "capture": meta.get("capture"),
        "image_size": meta.get("image_size"),
        "seq_len": meta.get("seq_len"),
        "weight_bits": meta.get("weight_bits"),
        "act_bits": meta.get("act_bits"),
        "units": {"macs": "MAC", "elem_ops": "op", "arith_ops": "op (1 MAC = 2 ops)", "bytes": "B"},
        "totals": {**total, "bytes": total_bytes, "gmacs": round(total["macs"] / 1e9, 6),
                   "unique_shapes": len({op.shape_key() for op in workload.ops}),
                   "unclassified": sum(1 for op in workload.ops if op.op_class == "other")},
        "gemm_vs_nongemm": split,
        "dynamic_weight_gemm": dynamic,
        "per_class": per_class,
        "per_operator": per_op_sorted,
    }


def _fmt(x: float, scale: float, digits: int = 3) -> str:
    return f"{x / scale:.{digits}f}"


def render(summary: dict[str, Any], file: Optional[TextIO] = None, *, top: int = 12) -> None:
    """Rich tables of a summary (per class, GEMM vs NonGEMM, top operators) on ``file`` (stderr by default)."""
    import sys
    from rich.console import Console
    from rich.table import Table

    out = file or sys.stderr
    console = Console(file=out, width=None if out.isatty() else 110)
    t = summary["totals"]
    title = (f"{summary['model']} (batch {summary['batch']}, capture {summary['capture']}, "
             f"W{summary['weight_bits']}/A{summary['act_bits']} bits): {t['count']} operators, "
             f"{t['unique_shapes']} unique shapes")
    table = Table(title=title)
    for col in ("class", "ops", "GMAC", "element Mop", "MB read", "MB written", "arith share", "bytes share"):
        table.add_column(col, justify="left" if col == "class" else "right")
    rows = list(summary["per_class"].items()) + [("-- GEMM", summary["gemm_vs_nongemm"]["GEMM"]),
                                                 ("-- NonGEMM", summary["gemm_vs_nongemm"]["NonGEMM"])]
    for cls, d in rows:
        table.add_row(cls, str(d["count"]), _fmt(d["macs"], 1e9), _fmt(d["elem_ops"], 1e6),
                      _fmt(d["bytes_read"], 1e6), _fmt(d["bytes_written"], 1e6),
                      f"{100 * d['share_arith_ops']:.1f}%", f"{100 * d['share_bytes']:.1f}%")
    table.add_row("total", str(t["count"]), _fmt(t["macs"], 1e9), _fmt(t["elem_ops"], 1e6),
                  _fmt(t["bytes_read"], 1e6), _fmt(t["bytes_written"], 1e6), "100.0%", "100.0%")
    console.print(table)
    ops = Table(title=f"top {top} operators by arithmetic (1 MAC = 2 ops)")
    for col in ("operator", "class", "count", "GMAC", "element Mop", "MB moved"):
        ops.add_column(col, justify="left" if col in ("operator", "class") else "right")
    for target, d in list(summary["per_operator"].items())[:top]:
        ops.add_row(target, d["class"], str(d["count"]), _fmt(d["macs"], 1e9), _fmt(d["elem_ops"], 1e6),
                    _fmt(d["bytes_read"] + d["bytes_written"], 1e6))
    console.print(ops)
