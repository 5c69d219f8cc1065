"""YAML as timeloopfe v0.4 reads it (its loader is ruamel round-trip, through Accelergy's ``load_yaml``).

What differs from a plain ``yaml.safe_load``:

* ``!Container``, ``!Component``, ``!Parallel``, ``!Hierarchical``, ``!Nothing``, ``!Pipelined`` tags are kept:
  a tagged mapping becomes a :class:`Tagged` dict that remembers its tag;
* an anchor may be defined again later in the same document (ruamel warns and ignores; PyYAML's composer
  refuses): an alias refers to the most recent definition before it;
* a quoted scalar stays a string and is never evaluated as an expression (:class:`Quoted`);
* ``<<<`` merges a mapping (or a list of mappings) recursively into the mapping holding it (nested dicts merge,
  lists concatenate, the holder's own values win); ``<<`` after YAML's own merge keys does the same one level
  deep (Accelergy's ``merge_check``);
* ``!include_loaded NAME.key.path`` (written by the Jinja2 ``include()`` functions, see ``render.py``) is replaced
  by the value found at ``key.path`` in the already loaded file registered under NAME.
"""
from __future__ import annotations

import copy
from typing import Any, Callable, Optional

import yaml
from yaml.composer import ComposerError
from yaml.events import AliasEvent, MappingStartEvent, ScalarEvent, SequenceStartEvent

from cimscope.errors import InputError

#: Tags of timeloopfe's architecture tree (timeloopfe v4 ArchNodes).
ARCH_TAGS = ("Container", "Component", "Parallel", "Hierarchical", "Nothing", "Pipelined")


class Tagged(dict):
    """A mapping written with a ``!Tag`` (e.g. ``!Component``); ``tag`` is the name without ``!``."""

    def __init__(self, *args: Any, tag: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tag = tag

    def __deepcopy__(self, memo: dict) -> "Tagged":
        return Tagged({copy.deepcopy(k, memo): copy.deepcopy(v, memo) for k, v in self.items()}, tag=self.tag)


class Quoted(str):
    """A scalar that was quoted in the YAML source: a string, never an expression."""


class IncludeRef(str):
    """A pending ``!include_loaded`` reference (resolved after construction)."""


class MultiInclude(list):
    """The files loaded by one ``include_all()``: indexing applies to each file."""


def _compose_node(self: yaml.composer.Composer, parent: Any, index: Any) -> yaml.Node:
    """PyYAML's composition without the duplicate-anchor check: a redefined anchor replaces the earlier one."""
    if self.check_event(AliasEvent):
        event = self.get_event()
        if event.anchor not in self.anchors:
            raise ComposerError(None, None, f"found undefined alias *{event.anchor}", event.start_mark)
        return self.anchors[event.anchor]
    event = self.peek_event()
    anchor = event.anchor
    self.descend_resolver(parent, index)
    if self.check_event(ScalarEvent):
        node = self.compose_scalar_node(anchor)
    elif self.check_event(SequenceStartEvent):
        node = self.compose_sequence_node(anchor)
    else:
        if not self.check_event(MappingStartEvent):
            raise ComposerError(None, None, "expected a node", event.start_mark)
        node = self.compose_mapping_node(anchor)
    self.ascend_resolver()
    return node


class SpecLoader(yaml.SafeLoader):
    """SafeLoader with timeloopfe's tags, repeated anchors and quoted-string tracking."""

    compose_node = _compose_node


def _construct_str(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    value = loader.construct_scalar(node)
    return Quoted(value) if node.style in ("'", '"') else value


def _construct_tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if suffix == "include_loaded":
        return IncludeRef(loader.construct_scalar(node))
    if suffix == "nomerge":
        raise InputError(f"line {node.start_mark.line + 1}: the !nomerge tag is not supported")
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        return Tagged(loader.construct_mapping(node, deep=True), tag=suffix)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    value = loader.construct_scalar(node)
    if suffix in ARCH_TAGS and value in ("", None):
        return Tagged(tag=suffix)
    return value


SpecLoader.add_constructor("tag:yaml.org,2002:str", _construct_str)
SpecLoader.add_multi_constructor("!", _construct_tagged)


def parse_yaml(text: str, where: str) -> Any:
    """Parse rendered YAML text; errors name ``where`` and the line."""
    try:
        return yaml.load(text, Loader=SpecLoader)  # noqa: S506 - SpecLoader derives from SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"{where}{line}: malformed YAML: {problem}") from None


def deep_merge_into(holder: dict, extra: Any, recursive: bool, where: str) -> dict:
    """Accelergy's ``<<<``/``<<`` merge: keys of ``extra`` missing from ``holder`` are added; with ``recursive``,
    nested dicts merge and lists concatenate (holder first)."""
    if isinstance(extra, (list, tuple)):
        combined: dict = {}
        for item in extra:
            combined = deep_merge_into(combined, item, recursive, where)
        extra = combined
    if not isinstance(extra, dict):
        raise InputError(f"{where}: expected a mapping under '<<<' or '<<', found {extra!r}")
    for k, v in extra.items():
        if k not in holder:
            holder[k] = v
        elif not recursive:
            continue
        elif isinstance(holder[k], dict) and isinstance(v, dict):
            holder[k] = deep_merge_into(holder[k], v, recursive, where)
        elif isinstance(holder[k], list) and isinstance(v, list):
            holder[k] = holder[k] + v
    return holder


def resolve_merges(x: Any, where: str) -> Any:
    """Apply every ``<<<`` (and any ``<<`` left over) merge key, innermost first."""
    if isinstance(x, list):
        return [resolve_merges(v, where) for v in x]
    if not isinstance(x, dict):
        return x
    out = Tagged(tag=x.tag) if isinstance(x, Tagged) else {}
    merge_key: Optional[str] = None
    for k, v in x.items():
        if str(k) in ("<<<", "<<"):
            if merge_key is not None:
                raise InputError(f"{where}: a mapping has both '{merge_key}' and '{k}' merge keys; use one")
            merge_key = str(k)
            continue
        out[k] = resolve_merges(v, where)
    if merge_key is not None:
        extra = copy.deepcopy(resolve_merges(x[merge_key], where))
        out = deep_merge_into(out, extra, merge_key == "<<<", where)
    return out


def resolve_includes(x: Any, lookup: Callable[[str], Any]) -> Any:
    """Replace every :class:`IncludeRef` by ``lookup(ref)`` (recursively)."""
    if isinstance(x, IncludeRef):
        return lookup(str(x))
    if isinstance(x, list):
        return type(x)(resolve_includes(v, lookup) for v in x) if isinstance(x, MultiInclude) \
            else [resolve_includes(v, lookup) for v in x]
    if isinstance(x, Tagged):
        return Tagged({k: resolve_includes(v, lookup) for k, v in x.items()}, tag=x.tag)
    if isinstance(x, dict):
        return {k: resolve_includes(v, lookup) for k, v in x.items()}
    return x
