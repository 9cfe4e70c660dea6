"""YAML documents that remember where each value came from, so errors can say ``file:line``.

PyYAML's composer gives nodes with marks; we build plain Python data from them and keep a map
from each value's path (``("escalation", 1, "after")``) to its 1-based line. The loader follows
YAML 1.2's core schema where YAML 1.1 surprises people: ``no``, ``on`` and ``off`` stay strings
(a lead status called ``No`` must not become ``False``) and ``09:00`` is not the number 540.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

Loc = tuple[str | int, ...]


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans and without sexagesimal numbers."""


_Loader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789")
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$"),
    list("-+0123456789."),
)


class YamlError(ValueError):
    """A document that is not valid YAML, or that repeats a key; carries its line."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass(frozen=True)
class Document:
    """A parsed YAML document and the line of every value and key in it."""

    data: Any
    lines: dict[Loc, int]

    def line_of(self, loc: Iterable[str | int]) -> int:
        """The line of the deepest known prefix of ``loc`` (a missing key points at its parent)."""
        path = tuple(loc)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)


def parse_yaml(text: str) -> Document:
    """Parse one YAML document; raise YamlError for syntax errors, duplicate keys and values
    that cannot be built (a date like 2026-02-30, an unknown ``!tag``)."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.composer.ComposerError as exc:
        if exc.problem and "another document" in exc.problem:
            raise YamlError(
                _line(exc.problem_mark), "a file holds a single document; remove the second '---'"
            ) from None
        raise _syntax_error(exc, text) from None
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, text) from None
    lines: dict[Loc, int] = {}
    if node is None:
        return Document(None, {(): 1})
    constructor = _Loader(text)
    return Document(_build(node, (), lines, constructor), lines)


def _syntax_error(exc: yaml.MarkedYAMLError, text: str) -> YamlError:
    """Point at the line a person must fix: where an unclosed quote or bracket opened, not the
    end of the file where the parser gave up."""
    at_end = exc.problem_mark is not None and exc.problem_mark.index >= len(text.rstrip())
    mark = exc.context_mark if at_end and exc.context_mark is not None else exc.problem_mark
    problem = exc.problem or str(exc)
    if exc.context and mark is exc.context_mark:
        problem = f"{exc.context} that is never closed"
    elif problem.startswith("mapping values are not allowed"):
        problem += " (a value containing ': ' needs quotes)"
    return YamlError(_line(mark), f"invalid YAML: {problem}")


def _line(mark: yaml.Mark | None) -> int:
    return mark.line + 1 if mark is not None else 1


def read_yaml(path: Path) -> Document:
    """Read and parse a YAML file (errors carry the line; the caller adds the path)."""
    return parse_yaml(path.read_text(encoding="utf-8"))


def _build(node: yaml.Node, loc: Loc, lines: dict[Loc, int], constructor: _Loader) -> Any:
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise YamlError(key_node.start_mark.line + 1, "merge keys (<<) are not supported")
            key = constructor.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | bool):
                raise YamlError(key_node.start_mark.line + 1, "invalid YAML: keys must be plain")
            if key in result:
                raise YamlError(key_node.start_mark.line + 1, f"duplicate key {key!r}")
            child: Loc = (*loc, key if isinstance(key, str) else str(key))
            result[key] = _build(value_node, child, lines, constructor)
            lines[child] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(item, (*loc, index), lines, constructor) for index, item in enumerate(node.value)
        ]
    try:
        return constructor.construct_object(node, deep=True)
    except (yaml.MarkedYAMLError, ValueError) as exc:
        problem = getattr(exc, "problem", None) or str(exc)
        raise YamlError(lines[loc], f"invalid value: {problem}") from None
