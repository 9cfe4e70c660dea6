"""Errors in YAML files, said the way a marketing-ops person can act on them.

pydantic reports a location inside the data (``("escalation", 1, "after")``) and a message
written for programmers. Here the location becomes a line of the file and a field path, union
tags are dropped, a container that failed only because of an item inside it stays quiet, and an
unknown key gets a suggestion from the keys valid at that very spot.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from alerter.yamlsource import Document, Loc


@dataclass(frozen=True, order=True)
class RuleError:
    """One problem in one file, at one line."""

    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


_PLAIN = {
    "model_type": "expected a mapping of keys",
    "model_attributes_type": "expected a mapping of keys",
    "dict_type": "expected a mapping of keys",
    "tuple_type": "expected a list",
    "list_type": "expected a list",
    "too_short": "give at least one item",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "string_type": "expected text",
}


def validation_errors(
    path: Path, document: Document, root: type[BaseModel], prefix: Loc, details: list[ErrorDetails]
) -> list[RuleError]:
    """Turn pydantic's errors for the model ``root`` (validated from the data at ``prefix``)
    into ``path:line: field: message``."""
    located = [(_data_loc(document.data, (*prefix, *d["loc"]), d["type"]), d) for d in details]
    unknown = {
        loc: _unknown_key(root, document.data, prefix, loc)
        for loc, d in located
        if d["type"] == "extra_forbidden"
    }
    suggested = {(loc[:-1], suggestion) for loc, (_, suggestion) in unknown.items()}
    result = []
    for loc, detail in located:
        kind = detail["type"]
        # A container that failed only because an item inside failed adds nothing; nor does a
        # missing key that an unknown key beside it was surely meant to be.
        if any(
            other is not detail
            and other_loc[: len(loc)] == loc
            and (len(other_loc) > len(loc) or kind == "too_short")
            for other_loc, other in located
        ) or (kind == "missing" and (loc[:-1], loc[-1]) in suggested):
            continue
        if kind == "extra_forbidden":
            where, message = loc[:-1], unknown[loc][0]
        elif kind == "missing":
            where, message = loc[:-1], f"missing key {loc[-1]!r}"
        else:
            message = _PLAIN.get(kind) or detail["msg"].removeprefix("Value error, ")
            where, message = loc, message.replace("Input should be", "expected")
        result.append(RuleError(path, document.line_of(loc), say(where, message)))
    return list(dict.fromkeys(result))


def unknown_key_error(path: Path, document: Document, root: type[BaseModel], loc: Loc) -> RuleError:
    """An unknown key found outside pydantic (e.g. at the top of calendars.yaml)."""
    message, _ = _unknown_key(root, document.data, (), loc)
    return RuleError(path, document.line_of(loc), say(loc[:-1], message))


def say(loc: Loc, message: str) -> str:
    """Prefix a message with its field path, e.g. ``escalation[1].after: ...``."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return f"{path}: {message}" if path else message


def _data_loc(data: Any, loc: Loc, kind: str) -> Loc:
    """Keep the parts of pydantic's location that exist in the data, dropping union tags; a
    missing or unknown key (the last part) is kept so the message can name it."""
    names_key = kind in ("missing", "extra_forbidden")
    result: list[str | int] = []
    node = data
    for index, part in enumerate(loc):
        found, child = _step(node, part)
        if found:
            node = child
        elif not (names_key and index == len(loc) - 1 and isinstance(node, dict)):
            continue
        result.append(part)
    return tuple(result)


def _step(node: Any, part: str | int) -> tuple[bool, Any]:
    if isinstance(node, dict):
        return part in node, node.get(part)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return True, node[part]
    return False, None


def _unknown_key(root: type[BaseModel], data: Any, prefix: Loc, loc: Loc) -> tuple[str, str | None]:
    """The message for an unknown key, and the key it probably meant."""
    key = str(loc[-1])
    parent_data = data
    for part in loc[:-1]:
        parent_data = _step(parent_data, part)[1]
    model = _model_at(root, _at(data, prefix), loc[len(prefix) : -1], parent_data)
    if model is None:
        return f"unknown key {key!r}", None
    valid = sorted(info.alias or name for name, info in model.model_fields.items())
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
    if close:
        return f"unknown key {key!r} (did you mean {close[0]!r}?)", close[0]
    return f"unknown key {key!r} (expected one of: {', '.join(valid)})", None


def _at(data: Any, loc: Loc) -> Any:
    for part in loc:
        data = _step(data, part)[1]
    return data


def _model_at(root: type[BaseModel], data: Any, loc: Loc, parent: Any) -> type[BaseModel] | None:
    """The model that validates the mapping at ``loc`` (unions resolved by the keys present)."""
    annotation: Any = root
    node = data
    for part in loc:
        model = _pick(annotation, node)
        if isinstance(part, str) and model is not None:
            fields = {info.alias or name: info for name, info in model.model_fields.items()}
            if part not in fields:
                return None
            annotation = fields[part].annotation
        else:
            annotation = _element(annotation)
        node = _step(node, part)[1]
    return _pick(annotation, parent)


def _pick(annotation: Any, node: Any) -> type[BaseModel] | None:
    candidates = list(_models_in(annotation))
    if not candidates:
        return None
    keys = set(node) if isinstance(node, dict) else set()

    def overlap(model: type[BaseModel]) -> int:
        return len(keys & {info.alias or name for name, info in model.model_fields.items()})

    return max(candidates, key=overlap)


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    origin = get_origin(annotation)
    if origin is Annotated:
        yield from _models_in(get_args(annotation)[0])
    elif origin is Union or origin is types.UnionType:
        for arg in get_args(annotation):
            yield from _models_in(arg)
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation


def _element(annotation: Any) -> Any:
    """The item type of a tuple, list or dict annotation (through Annotated and Optional)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _element(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        items = [_element(arg) for arg in get_args(annotation) if arg is not type(None)]
        return next((item for item in items if item is not None), None)
    if origin in (tuple, list):
        return get_args(annotation)[0]
    if origin is dict:
        return get_args(annotation)[1]
    return None
