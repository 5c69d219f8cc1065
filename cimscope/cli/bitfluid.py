"""`cimscope bitfluid`: per-layer mixed precision on BF-IMNA (Associative Processors), static and dynamic.

    cimscope bitfluid --model resnet18 --configs hawq-v3 --out results/hawq
    cimscope bitfluid --model alexnet,vgg16,resnet50 --configs int8,int4 --tech sram,reram --vdd 0.7,0.8,0.9

Every combination of model x configuration x cell technology x supply voltage is one run. Prints a table
(stderr; ``--json``: one JSON document on stdout instead). With ``--out DIR``: ``bitfluid.csv``,
``bitfluid.json``, ``layers.csv`` (per-layer costs of every run) and plots: ``accuracy_vs_edp.png`` when the
configurations carry a published top-1 accuracy (hawq-v3), ``sweep.png`` when several voltages are swept.
``--sequence A,B,A`` adds a dynamic-precision run: one inference per listed configuration, no
reconfiguration cost; reported per inference and on average.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def _split(s: Optional[str]) -> list[str]:
    return [x.strip() for x in (s or "").split(",") if x.strip()]


def _floats(s: Optional[str], what: str) -> list[Optional[float]]:
    from cimscope.errors import InputError
    if not s:
        return [None]
    out: list[Optional[float]] = []
    for x in _split(s):
        try:
            out.append(float(x))
        except ValueError:
            raise InputError(f"{what} {x!r} is not a number") from None
    return out


def register(app: typer.Typer) -> None:
    @app.command("bitfluid")
    def bitfluid(
        model: str = typer.Option(..., "--model", help="model name(s), comma-separated (e.g. resnet18 or "
                                                       "alexnet,vgg16,resnet50)"),
        configs: str = typer.Option(..., "--configs", help="precision configuration(s), comma-separated: "
                                                           "hawq-v3, int8, int4 (any intN), or a YAML file"),
        tech: str = typer.Option("sram", "--tech", help="AP cell technology(ies): sram, reram (comma-separated)"),
        vdd: Optional[str] = typer.Option(None, "--vdd", help="supply voltage(s) in V, comma-separated "
                                                              "[default: nominal of the node]"),
        node: Optional[float] = typer.Option(None, "--node", help="technology node in nm [default: preset, 16]"),
        arch_file: Optional[Path] = typer.Option(None, "--arch", help="BF-IMNA YAML [default: packaged preset]"),
        sequence: Optional[str] = typer.Option(None, "--sequence", help="dynamic precision: configuration names, "
                                                                        "one per inference (e.g. uniform8,uniform4)"),
        batch: int = typer.Option(1, "--batch", help="batch size"),
        image_size: int = typer.Option(224, "--image-size", help="image height = width, px"),
        cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="reuse/store model exports here"),
        out: Optional[Path] = typer.Option(None, "--out", help="folder for CSV/JSON/plots"),
        as_json: bool = typer.Option(False, "--json", help="print one JSON document on stdout (only)"),
    ) -> None:
        """Energy, latency, EDP and throughput of CNN inference on BF-IMNA per precision configuration."""
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
        from rich.table import Table

        from cimscope import bitfluid as bf
        from cimscope.arch import bf_imna
        from cimscope.atomic import write_json, write_text
        from cimscope.cli._common import print_json
        from cimscope.errors import InputError

        err = Console(stderr=True)
        models = _split(model)
        techs = [t.lower() for t in _split(tech)]
        vdds = _floats(vdd, "supply voltage")
        if not models:
            raise InputError("no model given (--model)")
        if not techs:
            raise InputError("no cell technology given (--tech); valid: sram, reram")
        if batch < 1 or image_size < 8:
            raise InputError("--batch must be >= 1 and --image-size >= 8")
        cfgs, file_dynamic = bf.load_configs(configs)
        seq_names = _split(sequence) or (file_dynamic or [])
        seq_cfgs = bf.pick_sequence(cfgs, seq_names) if seq_names else []
        base = bf_imna.load_config(arch_file)
        archs = []
        for t in techs:
            for v in vdds:
                changes = {"cell": t}
                if node is not None:
                    changes["node_nm"] = float(node)
                if v is not None:
                    changes["vdd_V"] = v
                archs.append(bf_imna.resolve(base.with_(**changes)))

        from cimscope.workloads import export_model
        runs, rows, layer_rows, dynamic = [], [], [], []
        total = len(models) * (1 + len(cfgs) * len(archs) + (len(archs) if seq_cfgs else 0))
        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                      TimeElapsedColumn(), console=err, transient=True) as progress:
            task = progress.add_task("bitfluid", total=total)
            for m in models:
                progress.update(task, description=f"export {m}")
                wl = export_model(m, batch=batch, image_size=image_size,
                                  cache_dir=str(cache_dir) if cache_dir else None)
                progress.advance(task)
                bound = {c.name: bf.bind(c, wl) for c in cfgs}          # validates every config first
                for arch in archs:
                    for c in cfgs:
                        progress.update(task, description=f"{m} {c.name} {arch.config.cell} "
                                                          f"{arch.cell.voltage_V:g} V")
                        nc = bf.evaluate(wl, c, arch, bits=bound[c.name])
                        runs.append(nc)
                        r = bf.row(nc)
                        rows.append(r)
                        for lc in nc.layers:
                            layer_rows.append({"model": m, "config": c.name, "cell": r["cell"], "vdd_V": r["vdd_V"],
                                               **_layer_row(lc, nc.overlap_movement)})
                        progress.advance(task)
                    if seq_cfgs:
                        dyn = bf.evaluate_dynamic(wl, seq_cfgs, arch)
                        dynamic.append({"model": m, "cell": arch.config.cell, "vdd_V": arch.cell.voltage_V,
                                        **dyn.summary()})
                        progress.advance(task)

        arch_info = [a.summary() for a in archs]
        doc = {"runs": [dict(bf.row(nc), energy_breakdown_pJ=nc.breakdown_pJ(), gemm_nongemm=nc.split())
                        for nc in runs],
               "dynamic": dynamic, "arch": arch_info,
               "units": {"energy_mJ": "mJ", "latency_ms": "ms", "edp_Js": "J*s", "throughput_inf_per_s": "1/s",
                         "top1": "% (published)", "energy_breakdown_pJ": "pJ"}}
        written = []
        if out is not None:
            written.append(write_text(out / "bitfluid.csv", bf.rows_to_csv(rows)))
            written.append(write_json(out / "bitfluid.json", doc))
            written.append(write_text(out / "layers.csv", bf.rows_to_csv(layer_rows, LAYER_FIELDS)))
            if any(r.get("top1") is not None for r in rows):
                written.append(bf.plot_accuracy_vs_edp(rows, out / "accuracy_vs_edp.png"))
            if len({r["vdd_V"] for r in rows}) > 1:
                written.append(bf.plot_sweep(rows, out / "sweep.png"))
        if as_json:
            print_json(doc)
            return
        table = Table(title="BF-IMNA bit-fluid inference (cimscope bitfluid), per inference")
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
        for a in arch_info:
            con.print(f"arch {a['name']}: {a['cell']} {a['node_nm']:g} nm {a['vdd_V']:.2f} V, {a['caps']} CAPs "
                      f"{a['cap']} + {a['maps']} MAPs {a['map']}, AP clock {a['ap_clock_GHz']:.3g} GHz, "
                      f"MAP capacity {a['map_capacity_MB']:.1f} MB", soft_wrap=True)
        for p in written:
            con.print(f"wrote {p}")


LAYER_FIELDS = ("model", "config", "cell", "vdd_V", "op", "module", "class", "kind", "w_bits", "a_bits",
                "out_bits", "macs", "rows", "waves", "energy_pJ", "compute_pJ", "movement_pJ", "dram_pJ",
                "latency_s", "note")


def _layer_row(lc, overlap: bool) -> dict:
    return {"op": lc.op_name, "module": lc.module, "class": lc.op_class, "kind": lc.kind, "w_bits": lc.w_bits,
            "a_bits": lc.a_bits, "out_bits": lc.out_bits, "macs": lc.macs, "rows": lc.rows, "waves": lc.waves,
            "energy_pJ": lc.energy_total_pJ, "compute_pJ": lc.compute_energy_pJ,
            "movement_pJ": lc.energy_pJ.get("movement", 0.0), "dram_pJ": lc.energy_pJ.get("dram", 0.0),
            "latency_s": lc.latency_s(overlap), "note": lc.note}
