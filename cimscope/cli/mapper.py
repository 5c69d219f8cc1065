"""`cimscope mapper`: placeholder registration, replaced by the owning module's implementation."""
from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    pass
