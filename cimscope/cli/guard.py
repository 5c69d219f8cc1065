"""What every writing command does on the way out: Ctrl-C (or SIGTERM, which the sweep turns into the same
interrupt, :func:`cimscope.sweep.sigterm_raises`) exits 130 after the sweep has stopped its workers, and the
--out locks (:mod:`cimscope.outlock`) are released on every exit path."""
from __future__ import annotations

import functools
import sys
from typing import Any, Callable

from cimscope.outlock import release_all

#: The exit status of a run stopped by Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130


def guarded(command: Callable[..., Any]) -> Callable[..., Any]:
    """``command`` with interrupts turned into exit 130 and its --out locks released however it ends.
    (SystemExit: typer would return a KeyboardInterrupt to its caller as a plain value, not an exit status.)"""
    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except KeyboardInterrupt:
            print("cimscope: interrupted", file=sys.stderr)
            raise SystemExit(EXIT_INTERRUPTED) from None
        finally:
            release_all()
    return run
