"""`cimscope bitfluid`: per-layer mixed precision on BF-IMNA (Associative Processors), static and dynamic.

    cimscope bitfluid --model resnet18 --configs hawq-v3 --out results/hawq
    cimscope bitfluid --model alexnet,vgg16,resnet50 --configs int8,int4 --tech sram,reram --vdd 0.7,0.8,0.9

Every combination of model x configuration x cell technology x supply voltage is one run. Prints a table
(stderr; ``--json``: one JSON document on stdout instead). With ``--out DIR``: ``bitfluid.csv``,
``bitfluid.json``, ``layers.csv`` (per-layer costs of every run) and plots: ``accuracy_vs_edp.png`` when the
configurations carry a published top-1 accuracy (hawq-v3), ``sweep.png`` when several voltages are swept.
``--sequence A,B,A`` adds a dynamic-precision run: one inference per listed configuration, no
reconfiguration cost; reported per inference and on average.

Thin: options -> :class:`cimscope.bitfluid.BitfluidOptions` -> ``plan`` (all validation, before any export)
-> ``run`` -> report. The grid, tables, CSV and plots live in :mod:`cimscope.bitfluid`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from cimscope.errors import InputError


def _split(s: Optional[str]) -> list[str]:
    return [x.strip() for x in (s or "").split(",") if x.strip()]


def _floats(s: Optional[str], what: str) -> list[Optional[float]]:
    if s is None:
        return [None]
    out: list[Optional[float]] = []
    for x in _split(s):
        try:
            out.append(float(x))
        except ValueError:
            raise InputError(f"{what} {x!r} is not a number") from None
    return out


def _given(s: Optional[str], option: str) -> list[str]:
    """Names of an option that may be left out, but not given empty."""
    if s is None:
        return []
    names = _split(s)
    if not names:
        raise InputError(f"{option} {s!r} names nothing; give comma-separated names or leave the option out")
    return names


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
        batch: int = typer.Option(1, "--batch", help="batch size (1-1024)"),
        image_size: int = typer.Option(224, "--image-size", help="image height = width, px (8-1024)"),
        cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="reuse/store model exports here"),
        timeout: Optional[float] = typer.Option(None, "--timeout", help="file.py:factory models: seconds their "
                                                "code may run before it is stopped (default: cimscope.validation.FACTORY_TIMEOUT_S, "
                                                "600)"),
        out: Optional[Path] = typer.Option(None, "--out", help="folder for CSV/JSON/plots"),
        as_json: bool = typer.Option(False, "--json", help="print one JSON document on stdout (only)"),
    ) -> None:
        """Energy, latency, EDP and throughput of CNN inference on BF-IMNA per precision configuration."""
        from cimscope import bitfluid as bf
        from cimscope.cli._common import print_json, writable_dir

        options = bf.make_options(models=_split(model), configs=configs, techs=_split(tech),
                                  vdds=_floats(vdd, "--vdd supply voltage"), node_nm=node, arch_file=arch_file,
                                  sequence=_given(sequence, "--sequence"), batch=batch, image_size=image_size,
                                  cache_dir=cache_dir, **({} if timeout is None else {"timeout_s": timeout}))
        grid = bf.plan(options)
        for folder, option in ((out, "--out"), (cache_dir, "--cache-dir")):
            if folder is not None:
                writable_dir(folder, option)
        result = _run_with_progress(bf, grid)
        written = result.write(out) if out is not None else []
        if as_json:
            print_json(result.doc())
            return
        result.print(written)


def _run_with_progress(bf, grid):
    from cimscope.cli._common import stderr_console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=stderr_console(), transient=True) as progress:
        task = progress.add_task("bitfluid", total=grid.steps)
        first = [True]

        def step(desc: str) -> None:
            if not first[0]:
                progress.advance(task)
            first[0] = False
            progress.update(task, description=desc)

        result = bf.run(grid, step)
        progress.advance(task)
    return result
