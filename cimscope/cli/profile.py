"""`cimscope profile`: options -> :class:`cimscope.profile.run.ProfileOptions` -> one study call -> report.

Measurement, modelled side, joins: :mod:`cimscope.profile`; tables, CSV, PNG, JSON: :mod:`cimscope.profile.report`.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("profile")
    def profile_cmd(
        models: str = typer.Argument(..., metavar="MODEL[,MODEL...]",
                                     help="MODEL[,MODEL...]: known names (cimscope export --help) or "
                                          "path/to/file.py:factory"),
        device: str = typer.Option("cpu", "--device", help="cpu or cuda"),
        batch: int = typer.Option(1, "--batch", help="batch size (1-1024)"),
        dtype: str = typer.Option("fp32", "--dtype", help="fp32, fp16 or bf16"),
        runs: int = typer.Option(5, "--runs", help="profiled runs (and as many timed unprofiled runs; >= 1)"),
        warmup: int = typer.Option(2, "--warmup", help="unprofiled warm-up runs (at least 1 with --compile)"),
        threads: Optional[int] = typer.Option(None, "--threads", help="torch intra-op threads (CPU; 1 to the "
                                                                      "CPUs this process may use)"),
        image_size: int = typer.Option(224, "--image-size", help="image side for vision models, pixels (8-1024)"),
        seq_len: int = typer.Option(128, "--seq-len", "--seq", help="sequence length for language models, "
                                                                    "tokens (1-131072; a model's own limit applies)"),
        compile_: bool = typer.Option(False, "--compile", help="measure torch.compile(model) instead of eager "
                                                               "(the paper's 'after fusion')"),
        out: Optional[Path] = typer.Option(None, "--out", help="write breakdown.csv, ops.csv, profile.json and "
                                                               "breakdown.png here"),
        json_out: bool = typer.Option(False, "--json", help="print one JSON document on stdout"),
        timeout: Optional[float] = typer.Option(None, "--timeout", help="file.py:factory models: seconds their "
                                                "code (load, factory, capture) may run before it is stopped "
                                                "(default: cimscope.validation.FACTORY_TIMEOUT_S, 600)"),
        no_model: bool = typer.Option(False, "--no-model", help="skip the modelled side (a100_like and the GPU "
                                                                "execution model)"),
    ) -> None:
        """Measure the GEMM/NonGEMM latency breakdown of models with torch.profiler (operator self time: host
        on CPU, host + kernel on CUDA, grouped by NonGEMM Bench's classes) and set it beside cimscope's
        modelled a100_like breakdown and the GPU execution model's eager and fused shares."""
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from cimscope.cli._common import print_json, stderr_console
        from cimscope.cli.export import ensure_writable_dir
        from cimscope.profile import report
        from cimscope.profile.run import ProfileOptions, profile_document, profile_models, split_models

        # not a terminal (a log file, a pipe): wide enough for the side-by-side table on one line per class
        console = stderr_console(soft_wrap=True)
        options = ProfileOptions(device=device, batch=batch, dtype=dtype, runs=runs, warmup=warmup,
                                 threads=threads, image_size=image_size, seq_len=seq_len, compile=compile_,
                                 no_model=no_model, **({} if timeout is None else {"timeout_s": timeout}))
        names = split_models(models)
        options.check()
        if out is not None:
            ensure_writable_dir(out, "--out")
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=True) as progress:
            tasks: dict[str, int] = {}

            def stage(model: str, step: str) -> None:
                if model not in tasks:
                    tasks[model] = progress.add_task(model, total=options.steps)
                progress.update(tasks[model], advance=1, description=f"{model}: {step} on {device}")

            runs_ = profile_models(names, options, stage=stage,
                                   warn=lambda m: console.print(f"[yellow]cimscope profile: {m}[/yellow]",
                                                                highlight=False))
        doc = profile_document(runs_, options)
        report.print_report(console, runs_)
        if out is not None:
            doc["files"] = report.write_files(out, runs_, doc)
            console.print(f"wrote {', '.join(doc['files'].values())}", highlight=False)
        if json_out:
            print_json(doc)
        sys.stderr.flush()
