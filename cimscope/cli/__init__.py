"""The ``cimscope`` command line. Each subcommand lives in its own module with a ``register(app)``
function; the library (and torch, pandas, the engines) is imported inside the commands, so ``--help`` and
``version`` start in a fraction of a second.

``cimscope model`` (the drop-in for timeloop-model, often called once per mapping by scripts) takes a
light path: :func:`main` hands its arguments to the typer-free :func:`cimscope.cli.model.run` without
importing typer or the other subcommand modules. Every other command builds the typer app
(:func:`build_app`).

Errors derived from :class:`cimscope.errors.CimscopeError` are printed as one line on stderr with exit
status 2: users see what was wrong, never a traceback from deep inside.
"""
from __future__ import annotations

import sys
from typing import Any, Callable

from cimscope import __version__
from cimscope.errors import CimscopeError

# One module per subcommand; order here is the order in --help.
SUBCOMMAND_MODULES = ("export", "estimate", "model", "mapper", "evaluate", "bitfluid", "profile")
# Subcommands dispatched without typer: name -> module whose ``run(argv)`` parses and runs them.
LIGHT_SUBCOMMANDS = {"model": "cimscope.cli.model"}


def build_app() -> Any:
    """The typer application with every subcommand registered (imports typer and the command modules)."""
    import importlib

    import typer

    app = typer.Typer(
        name="cimscope",
        help="What kind of compute-in-memory to use, when it pays off, and where to put it "
             "(Timeloop/Accelergy compatible).",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )

    @app.callback()
    def root() -> None:
        """cimscope: CiM what/when/where on top of Timeloop/Accelergy. Run a subcommand with --help."""

    for name in SUBCOMMAND_MODULES:
        importlib.import_module(f"cimscope.cli.{name}").register(app)

    @app.command("version")
    def version() -> None:
        """Print the cimscope version."""
        print(__version__)

    return app


def __getattr__(name: str) -> Any:
    """``cimscope.cli.app`` stays importable (built on first access, not at import)."""
    if name == "app":
        return build_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def light_runner(argv: list[str]) -> Callable[[list[str]], None] | None:
    """The typer-free ``run`` of the subcommand named by ``argv[0]``, or None when it needs the typer app."""
    if not argv or argv[0] not in LIGHT_SUBCOMMANDS:
        return None
    import importlib
    return importlib.import_module(LIGHT_SUBCOMMANDS[argv[0]]).run


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        light = light_runner(argv)
        if light is not None:
            light(argv[1:])
            return 0
        return run_app(argv)
    except CimscopeError as exc:
        print(f"cimscope: error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:          # argparse --help (exit 0) in a light subcommand
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except KeyboardInterrupt:
        print("cimscope: aborted", file=sys.stderr)
        return 130


def run_app(argv: list[str]) -> int:
    """Run the typer app on ``argv``; typer/click exits and usage errors become exit codes."""
    import typer

    try:
        rc = build_app()(args=argv, standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        print("cimscope: aborted", file=sys.stderr)
        return 130
    except CimscopeError:
        raise
    except Exception as exc:
        # click usage errors (typer may vendor its own click, so recognise them by their interface)
        if hasattr(exc, "show") and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()
            return exc.exit_code
        raise
    # with standalone_mode=False click returns what the command returns, or 1 on Ctrl-C (it then returns
    # typer's 130 for an Abort it caught itself): pass an integer code on instead of dropping it
    if rc == 130:
        print("cimscope: interrupted", file=sys.stderr)
    return rc if isinstance(rc, int) else 0


if __name__ == "__main__":
    sys.exit(main())
