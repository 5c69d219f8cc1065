"""`cimscope export MODEL`: PyTorch model -> workload.yaml + one Timeloop v0.4 problem per unique operator shape.

Output folder (``--out``, default ``cimscope-export/<model>``)::

    workload.yaml          every operator in execution order (cimscope.ir.Workload)
    problems/NNN-<kind>-<key>.yaml   Timeloop v0.4 problem per unique shape
    problems/index.yaml    problem file -> occurrence count, operators, modules
    summary.json           per class / per operator MACs, element ops, bytes; GEMM vs NonGEMM shares

A summary table goes to stderr; ``--json`` prints the summary JSON alone on stdout. Every option is checked
before torch is imported or a folder is made; ``--out`` is created only by a run that gets to write it, and a
failed or interrupted run removes the folders it created. A ``file.py:factory`` model's code runs contained
(cimscope.workloads.contain): what it prints goes to stderr, ``--timeout`` seconds stop it, sys.exit or an
exception in it is one error line (exit 2).
"""
from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Iterator, Optional

import typer



def register(app: typer.Typer) -> None:
    @app.command("export")
    def export(
        model: str = typer.Argument(..., help="a known name (resnet18, swin_b, vit_h_14, bert-base-uncased, gpt2-xl, "
                                              "llama-2-7b, llama-3-8b, mistral-7b, mixtral-8x7b, segformer-b5, "
                                              "detr-resnet-50, maskformer-swin-base, maskrcnn_resnet50_fpn ...; "
                                              "an unknown name lists them all) or path/to/file.py:factory"),
        batch: int = typer.Option(1, "--batch", help="batch size"),
        image_size: Optional[int] = typer.Option(None, "--image-size",
                                                 help="image height = width (vision models), px; default: the "
                                                      "model's (224; SegFormer 512; DETR, R-CNNs 800)"),
        seq: int = typer.Option(128, "--seq", "--seq-len", help="sequence length (text models), tokens"),
        phase: str = typer.Option("prefill", "--phase", help="language models: prefill (--seq tokens) | decode "
                                                             "(one token per sequence with a KV cache)"),
        kv_len: Optional[int] = typer.Option(None, "--kv-len", help="decode: tokens in the KV cache "
                                                                   "(default: --seq)"),
        weight_bits: int = typer.Option(8, "--weight-bits", help="bits per weight"),
        act_bits: int = typer.Option(8, "--act-bits", help="bits per activation"),
        out: Optional[Path] = typer.Option(None, "--out", help="output folder (default: cimscope-export/MODEL, "
                                                                 "MODEL-decode for --phase decode)"),
        capture: str = typer.Option("auto", "--capture", help="auto (torch.export, then torch.fx) | export | fx"),
        cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="reuse/store exports in this folder"),
        timeout: Optional[float] = typer.Option(None, "--timeout", help="file.py:factory models: seconds their "
                                                "code (load, factory, capture) may run before it is stopped "
                                                "(default: cimscope.validation.FACTORY_TIMEOUT_S, 600)"),
        as_json: bool = typer.Option(False, "--json", help="print the summary JSON (only) on stdout"),
    ) -> None:
        """Export a PyTorch model to a cimscope workload and Timeloop v0.4 problem files."""
        import sys
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        from cimscope.cli._common import print_json, stderr_console
        from cimscope.workloads import check_export_options, export_model
        from cimscope.workloads.summary import render
        from cimscope.validation import FACTORY_TIMEOUT_S

        timeout = FACTORY_TIMEOUT_S if timeout is None else timeout
        err = stderr_console()
        # every option first (no torch, no folder), then where it will write (checked, not created yet)
        check_export_options(model, batch=batch, image_size=image_size, seq_len=seq, weight_bits=weight_bits,
                             act_bits=act_bits, capture=capture, phase=phase, kv_len=kv_len, timeout_s=timeout)
        folder = out if out is not None else Path("cimscope-export") / _folder_name(model, phase)
        check_writable_dir(folder, "--out")
        if cache_dir is not None:
            check_writable_dir(cache_dir, "--cache-dir")
        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                      TimeElapsedColumn(), console=err, transient=True) as progress:
            task = progress.add_task(f"export {model}", total=4)
            progress.update(task, description=f"capture + lower {model}")
            with _made_here(folder, cache_dir):      # a failed run leaves no folder it created behind
                wl = export_model(model, batch=batch, image_size=image_size, seq_len=seq, weight_bits=weight_bits,
                                  act_bits=act_bits, cache_dir=str(cache_dir) if cache_dir else None,
                                  capture=capture, phase=phase, kv_len=kv_len, timeout_s=timeout)
                progress.advance(task)
                summary, problems = _write(wl, folder, progress, task)
        if as_json:
            print_json(summary)
            return
        render(summary, file=sys.stderr)
        for note in wl.meta.get("assumptions") or []:
            err.print(f"assumption: {note}")
        err.print(f"wrote {folder / 'workload.yaml'} ({len(wl.ops)} operators), {len(problems)} problem files "
                  f"in {folder / 'problems'} (index.yaml), {folder / 'summary.json'}")


def _write(wl, folder: Path, progress, task) -> tuple[dict, list]:
    """workload.yaml, the Timeloop problems and summary.json written to ``folder`` (created here)."""
    from cimscope.atomic import write_json
    from cimscope.workloads import save_workload
    from cimscope.workloads.problem import write_problems
    from cimscope.workloads.summary import summarize

    progress.update(task, description="write workload.yaml")
    save_workload(wl, folder / "workload.yaml")
    progress.advance(task)
    progress.update(task, description="write Timeloop problems")
    problems = write_problems(wl, folder / "problems")
    progress.advance(task)
    progress.update(task, description="summary")
    summary = summarize(wl)
    summary["out"] = str(folder)
    summary["problem_files"] = len(problems)
    write_json(folder / "summary.json", summary)
    progress.advance(task)
    return summary, problems


@contextlib.contextmanager
def _made_here(*folders: Optional[Path]) -> Iterator[None]:
    """On any failure (an error, Ctrl-C), remove each of ``folders`` (and the parents) that did not exist
    before the block: what this run created, nothing that was there."""
    missing = [p for f in folders if f is not None for p in _missing_chain(Path(f))]
    try:
        yield
    except BaseException:
        for p in missing:                                # deepest first
            shutil.rmtree(p, ignore_errors=True)
        raise


def _missing_chain(path: Path) -> list[Path]:
    """``path`` and its ancestors that do not exist yet, deepest first."""
    chain = []
    p = path.absolute()
    while not p.exists() and p != p.parent:
        chain.append(p)
        p = p.parent
    return chain


def check_writable_dir(path: Path, option: str) -> Path:
    """Raise :class:`InputError` unless ``path`` (given by ``option``) is a writable folder or can be made
    one, without creating anything: its nearest existing ancestor must be a writable folder."""
    from cimscope.errors import InputError

    p = Path(path)
    missing = _missing_chain(p)
    base = missing[-1].parent if missing else p.absolute()
    if not base.is_dir():
        raise InputError(f"{option} {str(path)!r}: cannot create this folder ({str(base)!r} is not a folder)")
    if not os.access(base, os.W_OK | os.X_OK):
        what = "cannot create this folder in" if missing else "this folder is not writable:"
        raise InputError(f"{option} {str(path)!r}: {what} {str(base)!r} (permission denied)")
    return p


def _folder_name(model: str, phase: str = "prefill") -> str:
    from cimscope.workloads import safe_name
    return safe_name(model) + ("-decode" if phase == "decode" else "")


def ensure_writable_dir(path: Path, option: str) -> Path:
    """Create the output folder ``path`` (given by ``option``) or raise :class:`InputError` saying why not:
    a command that runs for minutes checks where it will write before it starts."""
    import os
    from cimscope.errors import InputError

    try:
        Path(path).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{option} {str(path)!r}: cannot create this folder ({exc.strerror or exc})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise InputError(f"{option} {str(path)!r}: this folder is not writable")
    return Path(path)
