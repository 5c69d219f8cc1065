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


def register(app: typer.Typer) -> None:
    @app.command("evaluate")
    def evaluate(
        model: str = typer.Option("resnet50", "--model", help="model name (resnet50, bert-base-uncased, gpt2 ...)"),
        arch: str = typer.Option("a100_like", "--arch", help="architecture preset: a100_like | a100_sm"),
        placement: str = typer.Option("none", "--placement", help="none | rf | smem | l2"),
        primitive: str = typer.Option("analog6T", "--primitive",
                                      help="analog6T | analog8T | digital6T | digital8T (ignored for none)"),
        engine: str = typer.Option("builtin", "--engine", help="builtin | timeloop"),
        batch: int = typer.Option(1, "--batch", help="batch size"),
        seq: int = typer.Option(128, "--seq", help="sequence length (text models), tokens"),
        image_size: int = typer.Option(224, "--image-size", help="image height = width (vision models), px"),
        no_weight_reload: bool = typer.Option(False, "--no-weight-reload",
                                              help="weight-stationary only: error if weights do not fit the CiM"),
        no_interleave: bool = typer.Option(False, "--no-interleave", help="pack weight tiles into arrays in order"),
        resident_weights: bool = typer.Option(False, "--resident-weights",
                                              help="steady state: static weights preloaded once into the CiM "
                                                   "arrays (baseline: largest on-chip level), no per-inference "
                                                   "weight loads; error if they do not fit"),
        no_duplicate: bool = typer.Option(False, "--no-duplicate", help="do not copy weights into idle arrays"),
        rounding: str = typer.Option("www", "--rounding", help="equal-area array count: www | floor | ceil"),
        cache_dir: Path = typer.Option(DEFAULT_CACHE, "--cache-dir", help="export and result cache"),
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
        print(f"exporting {model} ...", file=sys.stderr)
        wl = export_model(model, batch=batch, image_size=image_size, seq_len=seq,
                          cache_dir=str(cache_dir / "workloads"))
        cache = ResultCache(cache_dir / "results")
        nr = evaluate_network(wl, arch, placement, primitive if placement != "none" else None, engine,
                              interleave=not no_interleave, duplicate=not no_duplicate,
                              weight_reload=not no_weight_reload, rounding=rounding, cache=cache, progress=True,
                              resident_weights=resident_weights)
        files = write_network(nr, out) if out is not None else []
        if as_json:
            print_json(nr.to_dict())
            return
        print(network_text(nr, top=top))
        for f in files:
            print(f"wrote {f}", file=sys.stderr)

    @app.command("compare")
    def compare(
        model: str = typer.Option("resnet50", "--model", help="model(s), comma separated"),
        arch: str = typer.Option("a100_like", "--arch", help="architecture preset: a100_like | a100_sm"),
        placements: str = typer.Option("none,rf,smem,l2", "--placements", help="comma separated"),
        primitives: str = typer.Option("analog6T,analog8T,digital6T,digital8T", "--primitives",
                                       help="comma separated"),
        engine: str = typer.Option("builtin", "--engine", help="builtin | timeloop"),
        batch: int = typer.Option(1, "--batch", help="batch size"),
        seq: int = typer.Option(128, "--seq", help="sequence length (text models), tokens"),
        image_size: int = typer.Option(224, "--image-size", help="image height = width (vision models), px"),
        scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Dask scheduler address (tcp://host:port)"),
        workers: Optional[int] = typer.Option(None, "--workers", help="local worker processes [default: CPUs]"),
        no_weight_reload: bool = typer.Option(False, "--no-weight-reload",
                                              help="weight-stationary only: configurations whose CiM cannot hold "
                                                   "an operator's weights report the missing capacity"),
        no_interleave: bool = typer.Option(False, "--no-interleave", help="pack weight tiles into arrays in order"),
        resident_weights: bool = typer.Option(False, "--resident-weights",
                                              help="steady state: static weights preloaded once into the CiM "
                                                   "arrays (baseline: largest on-chip level), no per-inference "
                                                   "weight loads; error if they do not fit"),
        no_duplicate: bool = typer.Option(False, "--no-duplicate", help="do not copy weights into idle arrays"),
        rounding: str = typer.Option("www", "--rounding", help="equal-area array count: www | floor | ceil"),
        cache_dir: Path = typer.Option(DEFAULT_CACHE, "--cache-dir", help="export and result cache"),
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
        files = write_compare(grid, out, plots=not no_plots) if out is not None else []
        if as_json:
            print_json(compare_json(grid))
        else:
            print(compare_text(grid))
        for f in files:
            print(f"wrote {f}", file=sys.stderr)
