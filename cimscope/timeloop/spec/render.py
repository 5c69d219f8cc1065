"""Jinja2 top files and includes, as timeloopfe v0.4 renders them (through Accelergy's ``load_yaml``).

Every input file (``.yaml``, ``.jinja``, ``.jinja2``) is first rendered as a Jinja2 template (undefined names are
errors) with the user's data (``jinja_data``) and these functions:

* ``include(path, 'key.sub')`` / ``include_all(glob, 'key')``: load another file (rendered the same way) and put
  its value at ``key.sub`` here (``include_all``: the list of that value in every matching file);
* ``include_text(path)``: paste another file's rendered text here (its anchors then exist in this file);
* ``add_to_path(dir)``: search ``dir`` too for later relative paths; ``cwd()``: this file's folder;
  ``path_exists(p)``, ``find_path(p)``, ``find_paths(glob)``.

A relative path is looked up next to the current file first, then in each added folder, in order. Rendering
happens in a sandboxed Jinja2 environment: a template cannot reach Python objects beyond these functions.
"""
from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from cimscope.errors import InputError
from cimscope.timeloop.spec.yamlload import (MultiInclude, parse_yaml, resolve_includes, resolve_merges)


def find_paths(p: str, cur_file: str, include_dirs: list[str]) -> list[str]:
    """All files matching ``p`` (a glob) next to ``cur_file`` and in ``include_dirs``, first found first."""
    roots = [""] if os.path.isabs(p) else [os.path.dirname(cur_file)] + list(include_dirs)
    found: list[str] = []
    searched = []
    for d in roots:
        pattern = os.path.abspath(os.path.join(d, p))
        searched.append(pattern)
        for g in sorted(glob.glob(pattern)):
            real = os.path.realpath(g)
            if real not in found:
                found.append(real)
    if not found:
        raise InputError(f"{cur_file}: cannot find {p!r}; looked in {', '.join(searched)}")
    return found


@dataclass
class RenderSession:
    """The state of one load: loaded includes by name, and the chain of files being rendered (cycle check)."""

    data: dict = field(default_factory=dict)
    loaded: dict = field(default_factory=dict)
    stack: list = field(default_factory=list)
    files: list = field(default_factory=list)

    def lookup(self, ref: str) -> Any:
        name, *keys = ref.split(".")
        if name not in self.loaded:
            raise InputError(f"!include_loaded {ref}: no include named {name!r}")
        found = self.loaded[name]
        for k in keys:
            if isinstance(found, MultiInclude):
                found = MultiInclude(_index(f, k, ref) for f in found)
            else:
                found = _index(found, k, ref)
        return list(found) if isinstance(found, MultiInclude) else found


def _index(found: Any, key: str, ref: str) -> Any:
    if isinstance(found, dict) and key in found:
        return found[key]
    have = ", ".join(map(str, found)) if isinstance(found, dict) else type(found).__name__
    raise InputError(f"include of {ref.split('.')[0]}: key {key!r} not found (keys there: {have})")


def render_text(path: str, session: RenderSession, include_dirs: list[str]) -> str:
    """Render one file as a Jinja2 template; returns the text (includes registered in ``session``)."""
    include_dirs = list(include_dirs)
    counter = [0]

    def include(p: str, indices: str = "", single: bool = True) -> str:
        paths = find_paths(str(p), path, include_dirs)
        if single and len(paths) > 1:
            raise InputError(f"{path}: include({p!r}) matches {len(paths)} files; use include_all() for several")
        docs = [load_document(q, session, include_dirs) for q in paths]
        name = f"inc{len(session.loaded)}_{counter[0]}"
        counter[0] += 1
        session.loaded[name] = docs[0] if single else MultiInclude(docs)
        indices = str(indices).lstrip(".")
        return f"!include_loaded {name}" + (f".{indices}" if indices else "")

    def include_all(p: str, indices: str = "") -> str:
        return include(p, indices, single=False)

    def include_text(p: str) -> str:
        return "\n".join(render_text(q, session, include_dirs) for q in find_paths(str(p), path, include_dirs))

    def add_to_path(p: str) -> str:
        for q in find_paths(str(p), path, include_dirs):
            include_dirs.append(q)
        return ""

    def path_exists(p: str) -> bool:
        try:
            find_paths(str(p), path, include_dirs)
        except InputError:
            return False
        return True

    env = SandboxedEnvironment(loader=jinja2.FileSystemLoader(os.path.dirname(path)), undefined=jinja2.StrictUndefined)
    env.globals.update(
        cwd=lambda: os.path.dirname(path), include=include, include_all=include_all, include_text=include_text,
        add_to_path=add_to_path, path_exists=path_exists,
        find_path=lambda p: find_paths(str(p), path, include_dirs)[0],
        find_paths=lambda p: find_paths(str(p), path, include_dirs))
    if path in session.stack:
        raise InputError(f"{path}: includes itself (through {' -> '.join(session.stack)})")
    session.stack.append(path)
    try:
        return env.get_template(os.path.basename(path)).render(session.data)
    except jinja2.TemplateSyntaxError as exc:
        raise InputError(f"{exc.filename or path}:{exc.lineno}: Jinja2 syntax error: {exc.message}") from None
    except jinja2.UndefinedError as exc:
        raise InputError(f"{path}: Jinja2: {exc.message} (give it as Jinja2 template data)") from None
    except jinja2.TemplateError as exc:
        raise InputError(f"{path}: Jinja2: {exc}") from None
    finally:
        session.stack.pop()


def load_document(path: str, session: RenderSession, include_dirs: Optional[list[str]] = None) -> Any:
    """Render and parse one file; includes and merge keys resolved."""
    path = os.path.realpath(os.path.abspath(path))
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    session.files.append(path)
    text = render_text(path, session, include_dirs or [])
    doc = parse_yaml(text, path)
    doc = resolve_includes(doc, session.lookup)
    return resolve_merges(doc, path)


def load_top_files(paths: list[Path], jinja_data: Optional[dict] = None) -> list[tuple[str, dict]]:
    """Each input file rendered and parsed: (path, top-level mapping), in the order given (duplicates once)."""
    if not paths:
        raise InputError("no input files given")
    session = RenderSession(data=dict(jinja_data or {}))
    out: list[tuple[str, dict]] = []
    seen: set[str] = set()
    for p in paths:
        real = os.path.realpath(os.path.abspath(str(p)))
        if real in seen:
            continue
        seen.add(real)
        doc = load_document(real, session)
        if doc is None:
            raise InputError(f"{p}: the file is empty")
        if not isinstance(doc, dict):
            raise InputError(f"{p}: expected a mapping at top level (keys such as architecture, problem, "
                             f"variables), found a {type(doc).__name__}")
        out.append((str(p), doc))
    return out
