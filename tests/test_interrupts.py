"""Ctrl-C, SIGTERM and SIGKILL on a running `cimscope compare`: exit 130 with the cache intact and a rerun
that completes; no process (pool workers, fork server, resource tracker) outlives the run; two runs on one
--out. The runs are real subprocesses on a small exported workload with a local pool of 2 workers."""
import glob
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cimscope import ir
from cimscope.cleanup import alive
from cimscope.evaluate import gemm_op
from cimscope.outlock import LOCK_NAME, OutLock
from cimscope.workloads import save_workload

psutil = pytest.importorskip("psutil")

CLI = [sys.executable, "-m", "cimscope"]
SHAPES = 8                      # x 2 configurations = 16 GEMM tasks, ~0.2-1 s each


@pytest.fixture
def wdir(tmp_path):
    d = tmp_path / "wl"
    ops = [gemm_op(64 + 8 * i, 64 + 16 * i, 64 + 8 * i, name=f"fc{i}") for i in range(SHAPES)]
    save_workload(ir.Workload(model="slow", ops=ops), d)
    return d


def compare_cmd(wdir, cache, out):
    return CLI + ["compare", "--workload", str(wdir), "--arch", "a100_sm", "--placements", "none,rf",
                  "--primitives", "analog6T", "--workers", "2", "--cache-dir", str(cache), "--no-plots",
                  "--out", str(out)]


def start(cmd, tmp_path, name):
    """The run in its own session (process group), as a shell runs a command."""
    env = {**os.environ, "CIMSCOPE_CACHE": str(tmp_path / "mapper-cache")}
    return subprocess.Popen(cmd, stdout=open(tmp_path / f"{name}.out", "w"), stderr=open(tmp_path / f"{name}.err", "w"),
                            env=env, start_new_session=True)


def cache_entries(cache):
    return glob.glob(str(cache / "results" / "*" / "*.json"))


def wait_for(cond, timeout):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if cond():
            return True
        time.sleep(0.05)
    return False


def running_workers(proc):
    """The run's process tree (fork server, resource tracker, pool workers) once some results are cached."""
    kids = psutil.Process(proc.pid).children(recursive=True)
    assert len(kids) >= 3, kids                 # resource tracker + fork server + workers
    return kids


def gone(kids, timeout):
    return wait_for(lambda: not any(alive(k.pid) and k.is_running() for k in kids), timeout)


@pytest.mark.parametrize("sig, group", [(signal.SIGINT, True), (signal.SIGTERM, False)],
                         ids=["ctrl-c to the process group", "sigterm to the run"])
def test_interrupt_exits_130_keeps_the_cache_and_a_rerun_completes(tmp_path, wdir, sig, group):
    cache, out = tmp_path / "cache", tmp_path / "out"
    p = start(compare_cmd(wdir, cache, out), tmp_path, "run")
    assert wait_for(lambda: len(cache_entries(cache)) >= 2, 120), (tmp_path / "run.err").read_text()
    kids = running_workers(p)
    t0 = time.monotonic()
    if group:                # a terminal's Ctrl-C reaches every process of the foreground group
        os.killpg(p.pid, sig)
    else:
        p.send_signal(sig)
    assert p.wait(timeout=15) == 130
    assert time.monotonic() - t0 < 5
    err = (tmp_path / "run.err").read_text()
    assert "interrupted:" in err and "they would be partial" in err and "run the same command again" in err
    assert not (out / "compare.json").exists() and not (out / LOCK_NAME).exists()
    assert gone(kids, 5), [k for k in kids if k.is_running()]
    kept = cache_entries(cache)
    assert 2 <= len(kept) < 2 * SHAPES
    for f in kept:                                   # every entry is whole (atomic writes)
        json.loads(Path(f).read_text())
    again = start(compare_cmd(wdir, cache, out), tmp_path, "again")
    assert again.wait(timeout=180) == 0, (tmp_path / "again.err").read_text()
    stats = json.loads((out / "compare.json").read_text())["stats"]
    assert stats["cache_hits"] >= len(kept) and stats["cache_hits"] + stats["computed"] == 2 * SHAPES


def test_sigkill_of_the_parent_leaves_no_worker(tmp_path, wdir):
    cache, out = tmp_path / "cache", tmp_path / "out"
    p = start(compare_cmd(wdir, cache, out), tmp_path, "run")
    assert wait_for(lambda: len(cache_entries(cache)) >= 2, 120), (tmp_path / "run.err").read_text()
    kids = running_workers(p)
    p.kill()
    p.wait(timeout=5)
    assert gone(kids, 6), [(k.pid, k.cmdline()[-1][:60]) for k in kids if k.is_running()]
    assert (out / LOCK_NAME).read_text() == f"{p.pid}\n"          # left behind, and stale: it does not block
    OutLock(out).acquire().release()


def test_second_run_on_one_out_says_so_and_exits_2(tmp_path, wdir):
    cache, out = tmp_path / "cache", tmp_path / "out"
    first = start(compare_cmd(wdir, cache, out), tmp_path, "first")
    try:
        assert wait_for(lambda: (out / LOCK_NAME).exists(), 120)
        second = subprocess.run(compare_cmd(wdir, tmp_path / "cache2", out), capture_output=True, text=True,
                                timeout=120)
        assert second.returncode == 2
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and f"pid {first.pid}" in lines[0] and "another cimscope run" in lines[0]
        assert not cache_entries(tmp_path / "cache2")
    finally:
        first.send_signal(signal.SIGINT)
        first.wait(timeout=15)


def test_a_stale_lock_does_not_block(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (out / LOCK_NAME).write_text(f"{dead.pid}\n")            # left by a killed run: nobody holds the flock
    lock = OutLock(out).acquire()
    assert (out / LOCK_NAME).read_text() == f"{os.getpid()}\n"
    lock.release()
    assert not (out / LOCK_NAME).exists()
    OutLock(out).acquire().release()


def test_a_held_lock_blocks_another_holder(tmp_path):
    lock = OutLock(tmp_path).acquire()
    try:
        with pytest.raises(Exception, match=f"another cimscope run \\(pid {os.getpid()}\\)"):
            OutLock(tmp_path).acquire()
    finally:
        lock.release()



def test_a_zombie_parent_counts_as_dead():
    """A killed run stays a zombie until its parent (a shell, a test) reaps it: workers must not wait for that."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    assert wait_for(lambda: psutil.Process(child.pid).status() == psutil.STATUS_ZOMBIE, 10)
    assert not alive(child.pid)
    child.wait()
    assert not alive(child.pid) and alive(os.getpid())


def test_ctrl_c_during_export_exits_130(tmp_path):
    """Every command (here export, through the typer app) exits 130 on Ctrl-C with one line, not 0."""
    import signal
    import subprocess
    import sys
    import time
    factory = tmp_path / "slow.py"
    factory.write_text("import time\n\ndef make(batch=1):\n    time.sleep(60)\n")
    p = subprocess.Popen([sys.executable, "-m", "cimscope", "export", f"{factory}:make", "--out", str(tmp_path / "o")],
                         stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    time.sleep(3)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 130, (p.returncode, err)
    assert err.strip().splitlines()[-1] == "cimscope: interrupted"
    assert not out
