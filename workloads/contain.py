"""User code (``path/to/file.py:factory`` models) run contained: what it can do wrong becomes one error line.

:func:`contained` wraps loading the factory file, calling the factory and capturing the module it returns
(torch.export / torch.fx run its ``forward``):

* **stdout captured**: what the user code prints goes to stderr (Python ``print`` through ``sys.stdout`` and
  writes to file descriptor 1 alike), so ``--json`` stays one JSON document on stdout;
* **a timeout** (``timeout_s``, default :data:`DEFAULT_TIMEOUT_S`): a ``SIGALRM`` timer
  (``signal.setitimer``) interrupts the user code and the run ends with :class:`ExportError`. Chosen over a
  child process because the built ``nn.Module`` of a factory file cannot be pickled back to the parent and
  torch need not be imported twice. Limits, on purpose: a Python signal handler runs between bytecodes, so
  one single native call (a huge torch kernel) is stopped when it returns;
* both need the main thread of the process (stdout and the timer are process-wide): in another thread (a
  Dask thread worker) the user code runs without redirection and without a timer, and only the next point
  applies; a process-pool worker or the CLI runs it in its main thread;
* **sys.exit / SystemExit** and any other exception raised by the user code are reported as an
  :class:`ExportError` (the CLI prints one line and exits 2). ``KeyboardInterrupt`` passes through: Ctrl-C
  still interrupts the run.

Nested use (the factory is built inside a contained capture) arms one timer and redirects once.
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from typing import Iterator, Optional

from cimscope.errors import CimscopeError, ExportError
from cimscope.validation import FACTORY_TIMEOUT_S, FinitePositiveFloat, validate

#: Seconds a factory file's code may run by default (one source: :data:`cimscope.validation.FACTORY_TIMEOUT_S`).
DEFAULT_TIMEOUT_S: float = FACTORY_TIMEOUT_S

_state = threading.local()                  # depth of nested contained() blocks, per thread


class _TimedOut(BaseException):
    """Raised by the SIGALRM handler; a BaseException so user code's ``except Exception`` cannot swallow it."""


def check_timeout(timeout_s: Optional[float], where: str = "--timeout") -> Optional[float]:
    """``timeout_s`` checked: None (no limit) or a finite number of seconds > 0 (ints taken as floats)."""
    if timeout_s is None:
        return None
    if isinstance(timeout_s, int) and not isinstance(timeout_s, bool):
        timeout_s = float(timeout_s)
    return validate(FinitePositiveFloat, timeout_s, where, "a finite number of seconds > 0")


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Python-level and file-descriptor-level stdout sent to stderr for the duration of the block."""
    saved_fd: Optional[int] = None
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        saved_fd = os.dup(1)
        os.dup2(2, 1)
    except (OSError, ValueError, AttributeError):   # no real fd 1/2 (embedded interpreter): Python level only
        saved_fd = None
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        if saved_fd is not None:
            try:
                sys.stderr.flush()
            except (OSError, ValueError):
                pass
            os.dup2(saved_fd, 1)
            os.close(saved_fd)


@contextlib.contextmanager
def _alarm(timeout_s: Optional[float]) -> Iterator[None]:
    if timeout_s is None or not hasattr(signal, "setitimer"):
        yield
        return

    def on_alarm(_signum, _frame):
        raise _TimedOut()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def contained(spec: str, timeout_s: Optional[float] = DEFAULT_TIMEOUT_S) -> Iterator[None]:
    """Run the block as user code of factory ``spec``: stdout to stderr, stopped after ``timeout_s`` seconds
    (None: no limit), SystemExit and exceptions turned into one-line :class:`ExportError`s (see the module)."""
    depth = getattr(_state, "depth", 0)
    if depth:
        yield
        return
    _state.depth = depth + 1
    main = _in_main_thread()
    try:
        with (_stdout_to_stderr() if main else contextlib.nullcontext()), _alarm(timeout_s if main else None):
            yield
    except _TimedOut:
        raise ExportError(f"{spec}: the model's code did not finish within {timeout_s:g} s (--timeout); "
                          f"it was stopped. Check it for an endless loop, or give a larger --timeout") from None
    except SystemExit as exc:
        raise ExportError(f"{spec}: the model's code called sys.exit({exc.code!r}); a factory must return "
                          f"an nn.Module or (nn.Module, example_inputs), not exit") from None
    except CimscopeError:
        raise
    except Exception as exc:
        msg = " ".join(str(exc).split())[:300]
        raise ExportError(f"{spec}: the model's code raised {type(exc).__name__}: {msg}") from exc
    finally:
        _state.depth = depth
