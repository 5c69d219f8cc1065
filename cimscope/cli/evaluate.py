"""`cimscope evaluate` (one network, one Study) and `cimscope compare` (a grid of Studies).

Thin: options -> workloads and Studies (validated once, :class:`cimscope.study.Study`) -> one API call
(:func:`cimscope.pipeline.network.evaluate`, :func:`cimscope.sweep.run_grid`) -> report
(:mod:`cimscope.report`). The library is imported inside the commands (as in every CLI module), so
``--help`` stays fast.

evaluate: per-operator and whole-network energy (pJ), latency (cycles, s), EDP (J*s), energy per level, GEMM
vs NonGEMM split, and the GPU execution model's NonGEMM shares by NonGEMM Bench class (eager, fused, roofline;
:func:`cimscope.gpu.execution.summary`, fp16; on stderr). ``--json`` prints the NetworkResult on stdout with
that summary under ``gpu_execution``; ``--out DIR`` writes the NetworkResult as JSON plus a per-operator CSV.

compare: models x placements x primitives on one architecture, as a table (stdout, or JSON with ``--json``),
and with ``--out DIR`` compare.csv/.json/.txt, gains.csv (per GEMM: reuse and ratios to the baseline),
ops/*.csv and PNG plots (energy per level, latency, EDP normalised to the baseline). Runs on a local process
pool (``--workers``) or a Dask cluster (``--scheduler ADDRESS``); per-operator results are cached in
``--cache-dir`` so a re-run resumes.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from cimscope.cli._common import print_json, writable_dir
from cimscope.cli.guard import guarded
from cimscope.errors import InputError
from cimscope.ir import Workload
from cimscope.outlock import lock_out

#: Listed in --help; the full catalog (plug-ins and data files): cimscope.arch.placements.primitives().
PRIMITIVES_HELP = ("a CiM array: analog6T | analog8T | digital6T | digital8T (WWW), parametric_analog | "
                   "parametric_digital (plug-ins), or one from a data file in arch/data/cim_arrays/")

DEFAULT_CACHE = Path(".cimscope_cache")


def split(text: Optional[str]) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


#: Options both commands take: parameter -> (default, flag, help).
SHARED_OPTIONS = {
    "workload": (None, "--workload", "exported workload folder(s) (workload.yaml), comma separated; replaces "
                                     "--model and needs no torch"),
    "arch": ("a100_like", "--arch", "architecture preset: a100_like | a100_sm"),
    "engine": ("builtin", "--engine", "builtin | timeloop (real timeloop-model scores every mapping; the baseline "
                                      "keeps the better of timeloop-mapper's and the builtin mapper's)"),
    "batch": (1, "--batch", "batch size"),
    "seq": (128, "--seq", "sequence length (text models), tokens"),
    "image_size": (224, "--image-size", "image height = width (vision models), px"),
    "phase": ("prefill", "--phase", "decoder language models: prefill (--seq tokens) | decode (one token per "
                                    "sequence with a KV cache)"),
    "kv_len": (None, "--kv-len", "decode: tokens in the KV cache (default: --seq)"),
    "no_interleave": (False, "--no-interleave", "pack weight tiles into arrays in order"),
    "resident_weights": (False, "--resident-weights",
                         "steady state: static weights preloaded once into the CiM arrays (baseline: largest "
                         "on-chip level), no per-inference weight loads; error if they do not fit"),
    "no_duplicate": (False, "--no-duplicate", "do not copy weights into idle arrays"),
    "rounding": ("www", "--rounding", "equal-area array count: www | floor | ceil"),
    "cache_dir": (DEFAULT_CACHE, "--cache-dir", "export and result cache"),
    "precision": (None, "--precision", "per-layer weight/activation bits: intN, hawq-v3:NAME, or a YAML file "
                                       "(HAWQ-V3 or bitfluid format; FILE:NAME picks one of several), layers "
                                       "matched by module path; sets GEMM inputs and weights, and outputs and "
                                       "NonGEMM activations to the next layer's activation bits"),
    "timeout": (None, "--timeout", "file.py:factory models: seconds their code (load, factory, capture) may run "
                                   "before it is stopped (default: cimscope.validation.FACTORY_TIMEOUT_S, 600)"),
    "dispatch": ("all", "--dispatch", "all: every GEMM in CiM | best: each GEMM in CiM or on the tensor cores, "
                                      "whichever has the lower EDP (reported per operator with the reason)"),
}


def option(name: str):
    """A fresh typer option for the shared parameter ``name`` (:data:`SHARED_OPTIONS`)."""
    default, flag, help_text = SHARED_OPTIONS[name]
    return typer.Option(default, flag, help=help_text)


def check_dirs(out: Optional[Path], cache_dir: Path) -> None:
    """--out and --cache-dir must take files: checked before the (long) export and evaluation."""
    if out is not None:
        writable_dir(out, "--out")
        lock_out(out)                 # one run writes a folder at a time (released by cli.guard)
    writable_dir(cache_dir, "--cache-dir")


def load_workloads(models: list[str], workload_dirs: list[str], *, batch: int, image_size: int, seq: int,
                   cache_dir: Path, phase: str = "prefill", kv_len: Optional[int] = None,
                   timeout: Optional[float] = None) -> dict[str, Workload]:
    """The workloads by name: exported folders as they are, else the models exported (and cached), language
    models in ``phase`` (decode: one token with a KV cache of ``kv_len`` tokens)."""
    from cimscope.validation import FACTORY_TIMEOUT_S
    from cimscope.workloads import export_model, load_workload      # torch only when a model is exported
    out: dict[str, Workload] = {}
    for d in workload_dirs:
        wl = load_workload(d)
        out[wl.model] = wl
    for m in ([] if workload_dirs else models):
        print(f"exporting {m}" + (" (decode)" if phase == "decode" else "") + " ...", file=sys.stderr)
        out[m] = export_model(m, batch=batch, image_size=image_size, seq_len=seq, phase=phase, kv_len=kv_len,
                              cache_dir=str(cache_dir / "workloads"),
                              timeout_s=FACTORY_TIMEOUT_S if timeout is None else timeout)
    if not out:
        raise InputError("give at least one model (--model) or exported workload (--workload)")
    return out


def with_precision(wls: dict[str, Workload], spec: Optional[str]) -> dict[str, Workload]:
    """The workloads with the per-layer bits of ``spec`` (unchanged without one)."""
    if not spec:
        return wls
    from cimscope.pipeline.precision import apply_precision
    return {name: apply_precision(wl, spec) for name, wl in wls.items()}


def write(writer, result, out: Path, **kw) -> list[str]:
    """Write the result files (atomically, :mod:`cimscope.atomic`); an OS failure (disk full ...) is one line."""
    try:
        return writer(result, out, **kw)
    except OSError as exc:
        raise InputError(f"--out {str(out)!r}: cannot write the results ({exc.strerror or exc})") from None


def grid_studies(arch: str, placements: list[str], prims: list[str], dispatches: tuple[str, ...] = ("all",),
                 **kw) -> list:
    """The Studies of a placement x primitive (x dispatch) grid (placement none once), each validated."""
    from cimscope.study import Study
    from cimscope.sweep import unique
    if not placements:
        raise InputError("give at least one placement")
    if any(p != "none" for p in placements) and not prims:
        raise InputError("give at least one primitive for the CiM placements")
    if not dispatches:
        raise InputError("give at least one dispatch: all | best")
    return unique([Study(arch=arch, placement=pl, primitive=pr, dispatch=d, **kw)
                   for pl in placements for pr in ([None] if pl == "none" else prims) for d in dispatches])


def workloads_at_the_door(models: list[str], workload_dirs: list[str], *, batch: int, image_size: int, seq: int,
                          phase: str, kv_len: Optional[int], precision: Optional[str], out: Optional[Path],
                          cache_dir: Path, timeout: Optional[float] = None) -> dict[str, Workload]:
    """The workloads of evaluate and compare: model inputs, output folders and the precision spec checked
    first (no export, no torch), then the workloads loaded or exported with the spec's bits applied."""
    from cimscope.study import ModelInputs
    from cimscope.workloads.contain import check_timeout
    ModelInputs(() if workload_dirs else tuple(models), batch=batch, image_size=image_size, seq=seq, phase=phase,
                kv_len=kv_len)
    check_timeout(timeout)
    check_dirs(out, cache_dir)
    if precision:
        from cimscope.pipeline.precision import choose_config
        choose_config(precision)               # checked before any export
    return with_precision(load_workloads(models, workload_dirs, batch=batch, image_size=image_size, seq=seq,
                                         cache_dir=cache_dir, phase=phase, kv_len=kv_len, timeout=timeout),
                          precision)


def register(app: typer.Typer) -> None:
    app.command("evaluate")(guarded(evaluate))
    app.command("compare")(guarded(compare))


def evaluate(
    model: str = typer.Option("resnet50", "--model", help="model name (resnet50, bert-base-uncased, gpt2 ...)"),
    workload: Optional[str] = option("workload"),
    arch: str = option("arch"),
    placement: str = typer.Option("none", "--placement", help="none | rf | smem | l2"),
    primitive: str = typer.Option("analog6T", "--primitive",
                                  help=PRIMITIVES_HELP + " (ignored for none)"),
    engine: str = option("engine"),
    batch: int = option("batch"),
    seq: int = option("seq"),
    image_size: int = option("image_size"),
    phase: str = option("phase"),
    kv_len: Optional[int] = option("kv_len"),
    no_weight_reload: bool = typer.Option(False, "--no-weight-reload",
                                          help="weight-stationary only: error if weights do not fit the CiM"),
    no_interleave: bool = option("no_interleave"),
    resident_weights: bool = option("resident_weights"),
    no_duplicate: bool = option("no_duplicate"),
    rounding: str = option("rounding"),
    dispatch: str = option("dispatch"),
    precision: Optional[str] = option("precision"),
    timeout: Optional[float] = option("timeout"),
    cache_dir: Path = option("cache_dir"),
    top: Optional[int] = typer.Option(None, "--top", help="show only the N slowest operators"),
    out: Optional[Path] = typer.Option(None, "--out", help="write JSON + per-operator CSV here"),
    as_json: bool = typer.Option(False, "--json", help="print the result JSON (only) on stdout"),
) -> None:
    """Evaluate every operator of a network with CiM at one placement (energy, latency, EDP)."""
    from cimscope.gpu.execution import shares_text
    from cimscope.gpu.execution import summary as gpu_summary
    from cimscope.pipeline.network import evaluate as evaluate_workload
    from cimscope.report import network_text, write_network
    from cimscope.study import Study
    from cimscope.sweep import ResultCache
    from cimscope.validation import in_range

    study = Study(arch=arch, placement=placement, primitive=primitive, engine=engine,
                  interleave=not no_interleave, duplicate=not no_duplicate, weight_reload=not no_weight_reload,
                  rounding=rounding, resident_weights=resident_weights, dispatch=dispatch)
    if len(split(workload)) > 1:
        raise InputError(f"evaluate takes one --workload folder, got {len(split(workload))}: use compare for several")
    if top is not None:
        in_range(top, "--top", 1, unit=" (operators shown)")
    wls = workloads_at_the_door([model], split(workload), batch=batch, image_size=image_size, seq=seq, phase=phase,
                                kv_len=kv_len, precision=precision, out=out, cache_dir=cache_dir, timeout=timeout)
    wl = next(iter(wls.values()))
    nr = evaluate_workload(wl, study, cache=ResultCache(cache_dir / "results"), progress=True)
    gs = gpu_summary(wl, "fp16")         # the GPU execution model: NonGEMM shares by NonGEMM Bench class
    files = write(write_network, nr, out) if out is not None else []
    if as_json:
        print_json({**nr.to_dict(), "gpu_execution": gs})
        return
    print(network_text(nr, top=top), file=sys.stderr)
    print(shares_text(gs), file=sys.stderr)
    for f in files:
        print(f"wrote {f}", file=sys.stderr)


def compare(
    model: str = typer.Option("resnet50", "--model", help="model(s), comma separated"),
    workload: Optional[str] = option("workload"),
    arch: str = option("arch"),
    placements: str = typer.Option("none,rf,smem,l2", "--placements", help="comma separated"),
    primitives_: str = typer.Option("analog6T,analog8T,digital6T,digital8T", "--primitives",
                                    help="comma separated; " + PRIMITIVES_HELP),
    engine: str = option("engine"),
    batch: int = option("batch"),
    seq: int = option("seq"),
    image_size: int = option("image_size"),
    phase: str = option("phase"),
    kv_len: Optional[int] = option("kv_len"),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Dask scheduler address (tcp://host:port)"),
    workers: Optional[int] = typer.Option(None, "--workers", help="local worker processes [default: CPUs]"),
    no_weight_reload: bool = typer.Option(False, "--no-weight-reload",
                                          help="weight-stationary only: configurations whose CiM cannot hold "
                                               "an operator's weights report the missing capacity"),
    no_interleave: bool = option("no_interleave"),
    resident_weights: bool = option("resident_weights"),
    no_duplicate: bool = option("no_duplicate"),
    rounding: str = option("rounding"),
    dispatch: str = typer.Option("all", "--dispatch",
                                 help=SHARED_OPTIONS["dispatch"][2] + "; comma separated: all,best compares both"),
    precision: Optional[str] = option("precision"),
    timeout: Optional[float] = option("timeout"),
    cache_dir: Path = option("cache_dir"),
    no_plots: bool = typer.Option(False, "--no-plots", help="skip the PNG plots"),
    out: Optional[Path] = typer.Option(None, "--out", help="write CSV/JSON/plots here"),
    as_json: bool = typer.Option(False, "--json", help="print the comparison JSON (only) on stdout"),
) -> None:
    """Compare CiM placements and primitives over whole networks (every GEMM and NonGEMM operator)."""
    from cimscope.report import compare_json, compare_text, write_compare
    from cimscope.sweep import run_grid

    studies = grid_studies(arch, split(placements), split(primitives_), engine=engine,
                           interleave=not no_interleave, duplicate=not no_duplicate,
                           weight_reload=not no_weight_reload, rounding=rounding, resident_weights=resident_weights,
                           dispatches=tuple(split(dispatch)))
    if workers is not None and workers < 1:
        raise InputError(f"--workers must be >= 1, got {workers}")
    wls = workloads_at_the_door(split(model), split(workload), batch=batch, image_size=image_size, seq=seq,
                                phase=phase, kv_len=kv_len, precision=precision, out=out, cache_dir=cache_dir,
                                timeout=timeout)
    grid = run_grid(wls, studies, workers=workers, scheduler=scheduler, cache_dir=str(cache_dir / "results"),
                    progress=True)
    files = (write(write_compare, grid, out, plots=not no_plots, plot_cache=cache_dir / "plots")
             if out is not None else [])
    if as_json:
        print_json(compare_json(grid))
    else:
        print(compare_text(grid), file=sys.stderr)
    for f in files:
        print(f"wrote {f}", file=sys.stderr)
