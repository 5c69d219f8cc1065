"""Telling timeloopfe v0.4 source files (Jinja2 top files, a ``nodes:`` architecture tree, ``variables``) from a
processed v0.4 document (``parsed-processed-input.yaml``), without rendering anything: light enough for the CLI's
fast path (no Jinja2 import)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Union

import yaml

from cimscope.errors import InputError
from cimscope.timeloop.spec.yamlload import SpecLoader

#: File suffixes of Jinja2 top files.
SOURCE_SUFFIXES = (".jinja", ".jinja2", ".j2")


def is_template(path: Union[str, Path], text: str) -> bool:
    """A file that must be rendered with Jinja2 first: a Jinja2 suffix, or ``{{``/``{%`` in its text."""
    return Path(path).suffix in SOURCE_SUFFIXES or "{{" in text or "{%" in text


def looks_like_source(doc: Any) -> bool:
    """A loaded top-level mapping written for timeloopfe rather than processed by it."""
    if not isinstance(doc, dict) or doc.get("dumped_by_timeloop_front_end"):
        return False
    arch = doc.get("architecture")
    if isinstance(arch, dict) and "nodes" in arch:
        return True
    return "variables" in doc or any("_ignore" in str(k) for k in doc)


def is_source_spec(inputs: Union[dict, list[Union[str, Path]]]) -> bool:
    """True when the inputs are timeloopfe v0.4 sources (Jinja2 files, a ``nodes:`` architecture tree, a
    ``variables`` key) rather than a processed document; accepts a loaded top-level mapping or file paths."""
    if isinstance(inputs, dict):
        return looks_like_source(inputs)
    for p in inputs:
        path = Path(p)
        if path.suffix in SOURCE_SUFFIXES:
            return True
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if is_template(path, text):
            return True
        try:
            doc = yaml.load(text, Loader=SpecLoader)  # noqa: S506 - SpecLoader derives from SafeLoader
        except (yaml.YAMLError, InputError):
            continue
        if looks_like_source(doc):
            return True
    return False
