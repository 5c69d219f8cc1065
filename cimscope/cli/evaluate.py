"""`cimscope evaluate` (one network, one configuration) and `cimscope compare` (the placement x primitive grid).

evaluate: per-operator and whole-network energy (pJ), latency (cycles, s), EDP (J*s), energy per level, GEMM
vs NonGEMM split. ``--json`` prints the NetworkResult alone on stdout; ``--out DIR`` writes it as JSON plus a
per-operator CSV.

compare: models x placements x primitives on one architecture, as a table (stdout, or JSON with ``--json``),
and with ``--out DIR`` compare.csv/.json/.txt, gains.csv (per GEMM: reuse and ratios to the baseline),
ops/*.csv and PNG plots (energy per level, latency, EDP normalised to the baseline). Runs on a local process
pool (``--workers``) or a Dask cluster (``--scheduler ADDRESS``); per-operator results are cached in
``--cache-dir`` so a re-run resumes.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

DEFAULT_CACHE = Path(".cimscope_cache")


def _split(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


#: Options both commands take: parameter -> (default, flag, help).
_SHARED_OPTIONS = {
    "arch": ("a100_like", "--arch", "architecture preset: a100_like | a100_sm"),
    "engine": ("builtin", "--engine", "builtin | timeloop"),
    "batch": (1, "--batch", "batch size"),
    "seq": (128, "--seq", "sequence length (text models), tokens"),
    "image_size": (224, "--image-size", "image height = width (vision models), px"),
    "no_interleave": (False, "--no-interleave", "pack weight tiles into arrays in order"),
    "resident_weights": (False, "--resident-weights",
                         "steady state: static weights preloaded once into the CiM arrays (baseline: largest "
                         "on-chip level), no per-inference weight loads; error if they do not fit"),
    "no_duplicate": (False, "--no-duplicate", "do not copy weights into idle arrays"),
    "rounding": ("www", "--rounding", "equal-area array count: www | floor | ceil"),
    "cache_dir": (DEFAULT_CACHE, "--cache-dir", "export and result cache"),
}


def _option(name: str):
    """A fresh typer option for the shared parameter ``name`` (:data:`_SHARED_OPTIONS`)."""
    default, flag, help_text = _SHARED_OPTIONS[name]
    return typer.Option(default, flag, help=help_text)


def _check_dirs(out: Optional[Path], cache_dir: Path) -> None:
    """--out and --cache-dir must take files: checked before the (long) export and evaluation."""
    from cimscope.cli._common import writable_dir
    if out is not None:
        writable_dir(out, "--out")
    writable_dir(cache_dir, "--cache-dir")


def _write(writer, result, out: Path, **kw) -> list[str]:
    """Write the result files (atomically, :mod:`cimscope.atomic`); an OS failure (disk full ...) is one line."""
    from cimscope.errors import InputError
    try:
        return writer(result, out, **kw)
    except OSError as exc:
        raise InputError(f"--out {str(out)!r}: cannot write the results ({exc.strerror or exc})") from None


def register(app: typer.Typer) -> None:
    @app.command("evaluate")
    def evaluate(
        model: str = typer.Option("resnet50", "--model", help="model name (resnet50, bert-base-uncased, gpt2 ...)"),
        arch: str = _option("arch"),
        placement: str = typer.Option("none", "--placement", help="none | rf | smem | l2"),
        primitive: str = typer.Option("analog6T", "--primitive",
                                      help="analog6T | analog8T | digital6T | digital8T (ignored for none)"),
        engine: str = _option("engine"),
        batch: int = _option("batch"),
        seq: int = _option("seq"),
        image_size: int = _option("image_size"),
        no_weight_reload: bool = typer.Option(False, "--no-weight-reload",
                                              help="weight-stationary only: error if weights do not fit the CiM"),
        no_interleave: bool = _option("no_interleave"),
        resident_weights: bool = _option("resident_weights"),
        no_duplicate: bool = _option("no_duplicate"),
        rounding: str = _option("rounding"),
        cache_dir: Path = _option("cache_dir"),
        top: Optional[int] = typer.Option(None, "--top", help="show only the N slowest operators"),
        out: Optional[Path] = typer.Option(None, "--out", help="write JSON + per-operator CSV here"),
        as_json: bool = typer.Option(False, "--json", help="print the result JSON (only) on stdout"),
    ) -> None:
        """Evaluate every operator of a network with CiM at one placement (energy, latency, EDP)."""
        import sys
        from cimscope.cli._common import print_json
        from cimscope.evaluate import evaluate_network, validate
        from cimscope.report import network_text, write_network
        from cimscope.sweep import ResultCache
        from cimscope.workloads import export_model

        validate(arch, placement, primitive, engine)
        _check_dirs(out, cache_dir)
        print(f"exporting {model} ...", file=sys.stderr)
        wl = export_model(model, batch=batch, image_size=image_size, seq_len=seq,
                          cache_dir=str(cache_dir / "workloads"))
        cache = ResultCache(cache_dir / "results")
        nr = evaluate_network(wl, arch, placement, primitive if placement != "none" else None, engine,
                              interleave=not no_interleave, duplicate=not no_duplicate,
                              weight_reload=not no_weight_reload, rounding=rounding, cache=cache, progress=True,
                              resident_weights=resident_weights)
        files = _write(write_network, nr, out) if out is not None else []
        if as_json:
            print_json(nr.to_dict())
            return
        print(network_text(nr, top=top))
        for f in files:
            print(f"wrote {f}", file=sys.stderr)

    @app.command("compare")
    def compare(
        model: str = typer.Option("resnet50", "--model", help="model(s), comma separated"),
        arch: str = _option("arch"),
        placements: str = typer.Option("none,rf,smem,l2", "--placements", help="comma separated"),
        primitives: str = typer.Option("analog6T,analog8T,digital6T,digital8T", "--primitives",
                                       help="comma separated"),
        engine: str = _option("engine"),
        batch: int = _option("batch"),
        seq: int = _option("seq"),
        image_size: int = _option("image_size"),
        scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Dask scheduler address (tcp://host:port)"),
        workers: Optional[int] = typer.Option(None, "--workers", help="local worker processes [default: CPUs]"),
        no_weight_reload: bool = typer.Option(False, "--no-weight-reload",
                                              help="weight-stationary only: configurations whose CiM cannot hold "
                                                   "an operator's weights report the missing capacity"),
        no_interleave: bool = _option("no_interleave"),
        resident_weights: bool = _option("resident_weights"),
        no_duplicate: bool = _option("no_duplicate"),
        rounding: str = _option("rounding"),
        cache_dir: Path = _option("cache_dir"),
        no_plots: bool = typer.Option(False, "--no-plots", help="skip the PNG plots"),
        out: Optional[Path] = typer.Option(None, "--out", help="write CSV/JSON/plots here"),
        as_json: bool = typer.Option(False, "--json", help="print the comparison JSON (only) on stdout"),
    ) -> None:
        """Compare CiM placements and primitives over whole networks (every GEMM and NonGEMM operator)."""
        import sys
        from cimscope.arch.placements import PRIMITIVES
        from cimscope.cli._common import print_json
        from cimscope.errors import InputError, UnknownNameError
        from cimscope.evaluate import DEFAULT_PRIMITIVE, EvalConfig, validate
        from cimscope.report import compare_json, compare_text, write_compare
        from cimscope.sweep import run_grid
        from cimscope.workloads import export_model

        models = _split(model)
        pls = _split(placements)
        prims = _split(primitives)
        if not models or not pls:
            raise InputError("give at least one model and one placement")
        for pl in pls:
            validate(arch, pl, DEFAULT_PRIMITIVE, engine)
        for pr in prims:
            if pr not in PRIMITIVES:
                raise UnknownNameError("primitive", pr, PRIMITIVES)
        if any(p != "none" for p in pls) and not prims:
            raise InputError("give at least one primitive for the CiM placements")
        if workers is not None and workers < 1:
            raise InputError(f"--workers must be >= 1, got {workers}")
        _check_dirs(out, cache_dir)
        configs = []
        for pl in pls:
            for pr in ([None] if pl == "none" else prims):
                configs.append(EvalConfig(arch=arch, placement=pl, primitive=pr, engine=engine,
                                          interleave=not no_interleave, duplicate=not no_duplicate,
                                          weight_reload=not no_weight_reload, rounding=rounding,
                                          resident_weights=resident_weights))
        workloads = {}
        for m in models:
            print(f"exporting {m} ...", file=sys.stderr)
            workloads[m] = export_model(m, batch=batch, image_size=image_size, seq_len=seq,
                                        cache_dir=str(cache_dir / "workloads"))
        grid = run_grid(workloads, configs, workers=workers, scheduler=scheduler,
                        cache_dir=str(cache_dir / "results"), progress=True)
        files = _write(write_compare, grid, out, plots=not no_plots) if out is not None else []
        if as_json:
            print_json(compare_json(grid))
        else:
            print(compare_text(grid))
        for f in files:
            print(f"wrote {f}", file=sys.stderr)
