"""One run writes an --out folder at a time.

A run that writes results into a folder first takes an exclusive ``fcntl.flock`` on ``DIR/.cimscope.lock``
(the file holds the run's pid, for the message). A second run on the same folder gets one line naming the
holder and exit 2 (:class:`cimscope.errors.InputError`) instead of mixing its files with the first's. The
kernel drops a flock when its holder dies, however it dies, so a lock file left by a killed run (dead pid,
nobody holding the lock) never blocks. On release the file is removed; :func:`acquire` re-checks after
locking that the file it locked is still the one at the path, so a removal racing with it cannot let two
runs in.

:func:`lock_out` takes the lock for the rest of the command; :func:`release_all` (called when a CLI command
ends, :mod:`cimscope.cli.guard`) lets it go.
"""
from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Optional

from cimscope.errors import InputError

LOCK_NAME = ".cimscope.lock"


class OutLock:
    """An exclusive lock on folder ``folder`` held by this process until :meth:`release`."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self.fd: Optional[int] = None

    def acquire(self) -> "OutLock":
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
                os.close(fd)
                raise InputError(f"--out {str(self.folder)!r} is being written by another cimscope run (pid "
                                 f"{holder}); wait for it to end or choose another --out") from None
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)           # the holder removed the file between our open and lock: lock the new one
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            os.unlink(self.path)   # while still locked: nobody else can hold this file
        except FileNotFoundError:
            pass
        os.close(self.fd)          # closing drops the flock
        self.fd = None


HELD: list[OutLock] = []


def lock_out(folder: str | os.PathLike) -> OutLock:
    """Lock ``folder`` (an existing --out) until :func:`release_all`; InputError when another run holds it.
    Locking a folder this process already holds is a no-op."""
    for held in HELD:
        if held.folder.resolve() == Path(folder).resolve():
            return held
    lock = OutLock(folder).acquire()
    HELD.append(lock)
    return lock


def release_all() -> None:
    """Release every lock :func:`lock_out` took in this process."""
    while HELD:
        HELD.pop().release()
