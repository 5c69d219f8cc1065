"""No worker outlives the run that started it.

:func:`watch_parent` is the initializer of every local pool worker: the worker ignores SIGINT (Ctrl-C in a
terminal reaches the whole process group; the parent decides what stops), asks Linux to kill it when its
parent process dies (``prctl(PR_SET_PDEATHSIG)``; with the forkserver start method that parent is the fork
server, which exits when the run's process does), and polls, every :data:`POLL_S` seconds, whether the process
that started the run is still alive (portable, and it covers the fork server surviving), exiting at once when
it is not. :func:`stop_pool` terminates a pool's workers instead of waiting for their tasks (Ctrl-C, SIGTERM,
an error in the caller).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

#: How often a worker checks that the run's process is alive, s.
POLL_S = 0.5
#: How long a terminated worker may take to exit before it is killed, s.
TERMINATE_WAIT_S = 2.0
PR_SET_PDEATHSIG = 1          # <linux/prctl.h>


def set_parent_death_signal(sig: int = signal.SIGTERM) -> bool:
    """Linux: deliver ``sig`` to this process when its parent dies. False where unavailable."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, dead but not yet reaped by its parent, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:       # exists, owned by someone else
        return True
    try:                          # Linux: /proc/PID/stat is "pid (comm) STATE ..."
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] not in (["Z"], ["X"])


def watch_parent(run_pid: int) -> None:
    """Pool initializer: ignore SIGINT, die with the parent, exit when process ``run_pid`` is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    set_parent_death_signal(signal.SIGKILL)
    parent = os.getppid()

    def poll() -> None:
        while True:
            if os.getppid() != parent or not alive(run_pid):
                os._exit(1)
            time.sleep(POLL_S)

    threading.Thread(target=poll, name="cimscope-watch-parent", daemon=True).start()


def stop_pool(pool: ProcessPoolExecutor) -> None:
    """Terminate ``pool``'s workers now (running tasks are abandoned, queued ones cancelled)."""
    terminate = getattr(pool, "terminate_workers", None)          # Python >= 3.14
    if terminate is not None:
        terminate()
        return
    # Python < 3.14 has no public call: the executor keeps its worker processes in ``_processes``
    procs = list((getattr(pool, "_processes", None) or {}).values())
    for p in procs:
        if p.is_alive():
            p.terminate()
    pool.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + TERMINATE_WAIT_S
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()
            p.join(1.0)
