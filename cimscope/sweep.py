"""Run a grid of (model, architecture, placement, primitive) evaluations on a local process pool or on a Dask
cluster, with per-operator results cached on disk so that a re-run resumes instead of recomputing.

The unit of work is one GEMM operator shape under one :class:`cimscope.study.Study`
(:func:`cimscope.study.result_key`: shape, the study's fields, the placed architecture with its ERT): the one
result cache of cimscope is keyed on it. Equal shapes within and
across models are computed once. Workers only compute; the calling process writes every result to the cache
as soon as it arrives (atomic writes: an interrupted run keeps everything finished so far) and assembles the
network results (NonGEMM operators are costed there: they take microseconds).

Interrupts: Ctrl-C, or SIGTERM (turned into the same interrupt), stops a sweep at once: local pool workers are
terminated, not waited for (:mod:`cimscope.cleanup`; they also exit by themselves within a second when the
run's process is killed), tasks submitted to a Dask cluster are cancelled, the results finished so far stay in
the cache, a line on stderr says how many, and KeyboardInterrupt propagates: the CLI exits 130 and writes no
output files (they would describe part of the grid only); the same command run again resumes from the cache.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from tqdm import tqdm

from cimscope import ir
from cimscope.atomic import write_json
from cimscope.cleanup import stop_pool, watch_parent
from cimscope.errors import CimscopeError, InputError
from cimscope.pipeline.network import assemble, baseline_of, dispatched, op_evaluation
from cimscope.pipeline.nongemm import evaluate_nongemm
from cimscope.pipeline.residency import check_capacity
from cimscope.study import Study, result_key

DEFAULT_CACHE_DIR = ".cimscope_cache/results"
#: The module workers compute with (mapper, models): imported where GEMMs are computed, not by the parent.
GEMM_MODULE = "cimscope.pipeline.gemm"


class ResultCache:
    """Per-operator results on disk, one JSON file per key (``root/ab/abcdef....json``)."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self.hits = 0
        self.misses = 0
        self.writes = 0

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> Optional[dict]:
        p = self._path(key)
        try:
            value = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            self.misses += 1
            return None
        except (OSError, ValueError):
            self.misses += 1               # unreadable entry: recompute and replace it
            return None
        self.hits += 1
        return value

    def put(self, key: str, value: dict) -> None:
        write_json(self._path(key), value)
        self.writes += 1

    def stats(self) -> dict:
        return {"hits": self.hits, "misses": self.misses, "writes": self.writes, "dir": str(self.root)}


def compute(op_dict: dict, cfg: Study) -> tuple[Optional[dict], Optional[str]]:
    """Worker body: one GEMM result, or the error message (bad configurations do not stop the grid)."""
    from cimscope.pipeline.gemm import evaluate_gemm      # the mapper and models: only where GEMMs are computed
    op = ir.Op.from_dict(op_dict)
    try:
        return evaluate_gemm(op, cfg), None
    except CimscopeError as exc:
        return None, f"{type(exc).__name__}: operator {op.name} ({op.module or op.target}): {exc}"


@dataclass
class GridResult:
    """Network results of a grid, keyed by (model, config label), plus what the run did."""

    networks: dict[tuple[str, str], ir.NetworkResult]
    errors: dict[tuple[str, str], str]
    configs: list
    models: list[str]
    stats: dict[str, Any] = field(default_factory=dict)


def unique(configs: list[Study]) -> list[Study]:
    """``configs`` without repeats, in order."""
    seen: set = set()
    out = []
    for c in configs:
        if c not in seen:
            seen.add(c)
            out.append(c)
    return out


def gemm_tasks(workloads: dict[str, ir.Workload], configs: list[Study], errors: dict
               ) -> dict[str, tuple[ir.Op, Study]]:
    """The unique (GEMM shape, Study) tasks by result key; resident-weight configurations whose weights do
    not fit are recorded in ``errors`` instead."""
    tasks: dict[str, tuple[ir.Op, Study]] = {}
    for model, wl in workloads.items():
        for cfg in configs:
            if cfg.resident_weights:           # the network's weights must fit where they reside
                try:
                    check_capacity(wl, cfg)
                except InputError as exc:
                    errors[(model, cfg.label())] = str(exc)
                    continue
            for c in ([cfg, baseline_of(cfg)] if cfg.dispatch == "best" else [cfg]):
                for op in wl.gemm_ops():
                    tasks.setdefault(result_key(op, c), (op, c))
    return tasks


def run_dask(todo: list[str], tasks: dict, finish, scheduler: Optional[str], client: Any) -> None:
    """Compute ``todo`` on a Dask cluster (``client``, or a new client of ``scheduler``)."""
    own = None
    if client is None:
        try:
            from dask.distributed import Client
        except ImportError as exc:  # pragma: no cover - dask is a dependency
            raise InputError(f"--scheduler needs dask.distributed: {exc}") from None
        try:
            own = client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise InputError(f"cannot reach the Dask scheduler at {scheduler!r}: {exc}") from None
    try:
        from dask.distributed import as_completed as dask_completed
        futs = {}
        for key in todo:
            op, cfg = tasks[key]
            futs[client.submit(compute, op.to_dict(), cfg, key=f"cimscope-{key}", pure=False)] = key
        try:
            for f in dask_completed(list(futs)):
                value, err = f.result()
                finish(futs[f], value, err)
        except BaseException:              # Ctrl-C, SIGTERM: nothing of ours keeps running on the cluster
            client.cancel(list(futs))
            raise
    finally:
        if own is not None:
            own.close()


def run_local(todo: list[str], tasks: dict, finish, workers: Optional[int]) -> str:
    """Compute ``todo`` in this process or on a local process pool; returns the backend's name."""
    n = workers if workers is not None else (os.cpu_count() or 1)
    if n <= 1 or len(todo) == 1:
        for key in todo:
            op, cfg = tasks[key]
            finish(key, *compute(op.to_dict(), cfg))
        return "in-process"
    # forkserver (spawn where unavailable): forking this possibly multi-threaded process (tqdm, dask, BLAS
    # threads) could deadlock the children
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if ctx.get_start_method() == "forkserver":
        ctx.set_forkserver_preload([GEMM_MODULE])   # imported once by the fork server, not by every worker
    # workers ignore SIGINT and exit when this process dies (cimscope.cleanup.watch_parent); on any exception
    # here (Ctrl-C, SIGTERM, an error in finish) they are terminated, not waited for
    pool = ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=watch_parent, initargs=(os.getpid(),))
    try:
        futs = {pool.submit(compute, tasks[k][0].to_dict(), tasks[k][1]): k for k in todo}
        for f in as_completed(futs):
            finish(futs[f], *f.result())
    except BaseException:
        stop_pool(pool)
        raise
    pool.shutdown(wait=True)
    return f"process pool ({n})"


def rows_of(wl: ir.Workload, cfg: Study, results: dict, failures: dict
            ) -> tuple[list[Optional[ir.OpEvaluation]], list[str]]:
    """Operator rows of ``wl`` under ``cfg`` from the GEMM records (NonGEMM costed here); a failed GEMM's row
    is None and its error is in the second list."""
    rows: list[Optional[ir.OpEvaluation]] = []
    errs: list[str] = []
    for op in wl.ops:
        err = ""
        if op.is_gemm:
            key = result_key(op, cfg)
            err = failures.get(key, "")
            rows.append(None if err else op_evaluation(op, results[key], cfg.arch))
        else:
            rows.append(op_evaluation(op, evaluate_nongemm(op, cfg), cfg.arch))
        errs.append(err)
    return rows, errs


def network_of(wl: ir.Workload, cfg: Study, results: dict, failures: dict) -> ir.NetworkResult | str:
    """One (workload, configuration) network, or the first GEMM error (``dispatch="best"``: a GEMM CiM
    cannot run goes to the tensor cores)."""
    rows, errs = rows_of(wl, cfg, results, failures)
    if cfg.dispatch == "best":
        base_rows, base_errs = rows_of(wl, baseline_of(cfg), results, failures)
        first = next((e for e in base_errs if e), "")
        return first or dispatched(wl, cfg, rows, errs, base_rows)
    first = next((e for e in errs if e), "")
    return first or assemble(wl, cfg, rows)


@contextmanager
def sigterm_raises():
    """Within the block, SIGTERM raises KeyboardInterrupt (as Ctrl-C does) so that the workers are stopped
    and the cache keeps what is done; the previous handler is restored after. Main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def interrupted_message(total: int, cache: Optional[ResultCache]) -> str:
    """What an interrupted sweep kept, for stderr (the CLI writes no outputs for an interrupted sweep)."""
    if cache is None:
        return f"interrupted: nothing kept of {total} GEMM tasks (no result cache). No results written."
    return (f"interrupted: {cache.hits + cache.writes} of {total} GEMM task results are in the result cache "
            f"{cache.root}; run the same command again to resume. No results written: they would be partial.")


def networks_of(workloads: dict[str, ir.Workload], configs: list[Study], results: dict, failures: dict,
                errors: dict) -> dict[tuple[str, str], ir.NetworkResult]:
    """Assemble every (model, configuration) from the GEMM records (NonGEMM operators costed here)."""
    networks: dict[tuple[str, str], ir.NetworkResult] = {}
    for model, wl in workloads.items():
        for cfg in configs:
            if (model, cfg.label()) in errors:
                continue
            nr = network_of(wl, cfg, results, failures)
            if isinstance(nr, str):
                errors[(model, cfg.label())] = nr
            else:
                networks[(model, cfg.label())] = nr
    return networks


def run_grid(workloads: dict[str, ir.Workload], configs: list, *, workers: Optional[int] = None,
             scheduler: Optional[str] = None, client: Any = None, cache_dir: Optional[str] = DEFAULT_CACHE_DIR,
             progress: bool = True) -> GridResult:
    """Evaluate every workload under every :class:`cimscope.study.Study`.

    ``scheduler``: a Dask scheduler address (``tcp://host:8786``, or the ``inproc://`` address of an
    in-process ``distributed.LocalCluster``); ``client``: an existing ``distributed.Client``. Otherwise a
    local process pool of ``workers`` processes (default: the CPU count; 1 runs in this process).
    """
    t0 = time.perf_counter()
    cache = ResultCache(cache_dir) if cache_dir else None
    configs = unique(configs)
    errors: dict[tuple[str, str], str] = {}
    tasks = gemm_tasks(workloads, configs, errors)
    results: dict[str, dict] = {}
    failures: dict[str, str] = {}
    for key in tasks:
        r = cache.get(key) if cache is not None else None
        if r is not None:
            results[key] = r
    todo = [k for k in tasks if k not in results]
    hits = len(results)
    bar = None
    if progress and todo:
        bar = tqdm(total=len(todo), desc="GEMM shapes x configurations", unit="task")

    def finish(key: str, value: Optional[dict], err: Optional[str]) -> None:
        if err is not None:
            failures[key] = err
        else:
            results[key] = value
            if cache is not None:
                cache.put(key, value)
        if bar is not None:
            bar.update(1)

    backend = "none"
    try:
        with sigterm_raises():
            if todo and (client is not None or scheduler):
                backend = "dask"
                run_dask(todo, tasks, finish, scheduler, client)
            elif todo:
                backend = run_local(todo, tasks, finish, workers)
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        print(interrupted_message(len(tasks), cache), file=sys.stderr)
        raise
    if bar is not None:
        bar.close()
    networks = networks_of(workloads, configs, results, failures, errors)
    stats = {"gemm_tasks": len(tasks), "cache_hits": hits, "computed": len(todo) - len(failures),
             "failed": len(failures), "backend": backend, "seconds": time.perf_counter() - t0,
             "cache_dir": str(cache.root) if cache is not None else None}
    return GridResult(networks=networks, errors=errors, configs=configs, models=list(workloads), stats=stats)
