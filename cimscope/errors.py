"""Errors that name the problem. The CLI prints their message and exits 2; no deep traceback reaches users."""
from __future__ import annotations

from typing import Iterable


class CimscopeError(Exception):
    """Base class: the message alone must tell the user what was wrong and what to do."""


class InputError(CimscopeError):
    """Malformed or inconsistent user input (YAML, attributes, options)."""


class UnknownNameError(InputError):
    """A name (model, component, arch, placement, primitive, attribute ...) that is not known."""

    def __init__(self, what: str, name: str, valid: Iterable[str], hint: str = "") -> None:
        self.what, self.name, self.valid = what, name, sorted(valid)
        msg = f"unknown {what} {name!r}; valid {what}s: {', '.join(self.valid)}"
        super().__init__(msg + (f". {hint}" if hint else ""))


class ExportError(CimscopeError):
    """A model that cannot be captured or exported."""


class MappingError(CimscopeError):
    """A mapping that is invalid for its problem/architecture, or no valid mapping exists."""


class EngineError(CimscopeError):
    """An external engine (timeloop-model, timeloop-mapper, accelergy) is missing or failed."""
