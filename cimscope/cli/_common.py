"""Helpers shared by CLI subcommands: JSON output and key=value attribute parsing."""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from cimscope.errors import InputError


#: Width of human tables on stderr when it is not a terminal (a file, a pipe, CI): rich's default of 80
#: columns would truncate their cells with an ellipsis.
PIPE_WIDTH = 200


def stderr_console(**kwargs: Any) -> Any:
    """A rich console on stderr: the terminal's width on a terminal, PIPE_WIDTH columns otherwise."""
    from rich.console import Console
    return Console(stderr=True, width=None if sys.stderr.isatty() else PIPE_WIDTH, **kwargs)


def print_json(obj: Any) -> None:
    """``--json``: one JSON document on stdout and nothing else."""
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")
    sys.stdout.flush()


def parse_attrs(pairs: list[str] | None) -> dict[str, Any]:
    """Parse ``--attr name=value`` pairs; values are read as YAML scalars (numbers, booleans, strings)."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise InputError(f"attribute {pair!r} is not of the form name=value")
        key, value = pair.split("=", 1)
        key = key.strip()
        if not key:
            raise InputError(f"attribute {pair!r} has an empty name")
        try:
            out[key] = yaml.safe_load(value) if value.strip() else value
        except yaml.YAMLError:
            out[key] = value
    return out


def writable_dir(path: Any, option: str = "--out") -> Any:
    """Create folder ``path`` and check that files can be written in it, before any long work starts.
    InputError (one line: the option, the folder, the OS reason) otherwise. Returns ``path``."""
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise InputError(f"{option} {str(path)!r} is not a writable folder ({exc.strerror or exc})") from None
    return path
