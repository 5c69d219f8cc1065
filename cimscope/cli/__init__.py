"""The ``cimscope`` command line. Each subcommand lives in its own module with a ``register(app)``
function; the library (and torch, pandas, the engines) is imported inside the commands, so ``--help`` and
``version`` start in a fraction of a second.

Errors derived from :class:`cimscope.errors.CimscopeError` are printed as one line on stderr with exit
status 2: users see what was wrong, never a traceback from deep inside.
"""
from __future__ import annotations

import sys

import typer

from cimscope import __version__
from cimscope.errors import CimscopeError

app = typer.Typer(
    name="cimscope",
    help="What kind of compute-in-memory to use, when it pays off, and where to put it "
         "(Timeloop/Accelergy compatible).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)



@app.callback()
def _root() -> None:
    """cimscope: CiM what/when/where on top of Timeloop/Accelergy. Run a subcommand with --help."""


# One module per subcommand; order here is the order in --help.
from cimscope.cli import (  # noqa: E402
    export, estimate, model, mapper, evaluate, bitfluid, profile,
)

for _module in (export, estimate, model, mapper, evaluate, bitfluid, profile):
    _module.register(app)


@app.command("version")
def version() -> None:
    """Print the cimscope version."""
    print(__version__)


def main(argv: list[str] | None = None) -> int:
    try:
        app(args=argv, standalone_mode=False)
    except CimscopeError as exc:
        print(f"cimscope: error: {exc}", file=sys.stderr)
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        print("cimscope: aborted", file=sys.stderr)
        return 130
    except Exception as exc:
        # click usage errors (typer may vendor its own click, so recognise them by their interface)
        if hasattr(exc, "show") and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()
            return exc.exit_code
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
