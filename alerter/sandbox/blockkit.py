"""Block Kit limits as Slack enforces them on ``chat.postMessage``, for the Slack fake.

Kept apart from the fake's protocol handling: these are Slack's published limits, checked the way
Slack reports them (``errors`` entries with a JSON pointer), so a message our templates build
too large fails here as it would in a real workspace rather than being cut or accepted.
"""

from __future__ import annotations

from typing import Any

MAX_BLOCKS = 50

_TEXT_TYPES = ("plain_text", "mrkdwn")
_CHECKED_BLOCKS = ("section", "header", "context", "actions")
_OTHER_BLOCKS = ("divider", "image", "rich_text", "markdown", "input", "file", "video")  # unchecked


def block_errors(blocks: Any) -> list[str]:
    """Slack's ``errors`` for blocks past Block Kit's limits (empty: the blocks are fine): at
    most 50 blocks of known types; section text 3,000 characters and at most 10 fields of 2,000;
    header plain text 150; context at most 10 elements with text up to 3,000; actions at most 25
    elements, a button's plain text 75 and its value 2,000. No text may be empty."""
    if not isinstance(blocks, list):
        return ["must provide an array [json-pointer:/blocks]"]
    errors = [f"no more than {MAX_BLOCKS} items allowed [json-pointer:/blocks]"]
    errors = errors if len(blocks) > MAX_BLOCKS else []
    for index, block in enumerate(blocks):
        at, kind = f"/blocks/{index}", block.get("type") if isinstance(block, dict) else None
        if not isinstance(block, dict) or kind not in _CHECKED_BLOCKS + _OTHER_BLOCKS:
            errors.append(f"unsupported type: {kind} [json-pointer:{at}/type]")
        elif kind == "header":
            _text(errors, block.get("text"), 150, f"{at}/text", plain=True)
        elif kind == "section":
            if "text" in block or "fields" not in block:  # one of the two is required
                _text(errors, block.get("text"), 3000, f"{at}/text")
            fields = _items(errors, block, "fields", 10, at) if "fields" in block else []
            for where, field in fields:
                _text(errors, field, 2000, where)
        elif kind in ("context", "actions"):
            most = 10 if kind == "context" else 25
            for where, item in _items(errors, block, "elements", most, at):
                if item.get("type") in _TEXT_TYPES:
                    _text(errors, item, 3000, where)
                elif item.get("type") == "button":
                    _text(errors, item.get("text"), 75, f"{where}/text", plain=True)
                    _limit(errors, item.get("value"), 2000, f"{where}/value")
    return errors


def _items(errors: list[str], block: dict[str, Any], key: str, most: int, at: str) -> list[Any]:
    """``(json pointer, item)`` for each object in ``block[key]``, after checking its length."""
    items = block.get(key)
    if not isinstance(items, list) or not items:
        errors.append(f"must provide an array with at least 1 item [json-pointer:{at}/{key}]")
        return []
    if len(items) > most:
        errors.append(f"no more than {most} items allowed [json-pointer:{at}/{key}]")
    return [(f"{at}/{key}/{n}", item) for n, item in enumerate(items) if isinstance(item, dict)]


def _text(errors: list[str], obj: Any, limit: int, at: str, *, plain: bool = False) -> None:
    if not isinstance(obj, dict):
        errors.append(f"must provide an object [json-pointer:{at}]")
    elif obj.get("type") not in (("plain_text",) if plain else _TEXT_TYPES):
        errors.append(f"must be a valid enum value [json-pointer:{at}/type]")
    elif not isinstance(obj.get("text"), str) or not obj["text"]:
        errors.append(f"must be more than 0 characters [json-pointer:{at}/text]")
    else:
        _limit(errors, obj["text"], limit, f"{at}/text")


def _limit(errors: list[str], value: Any, limit: int, at: str) -> None:
    if isinstance(value, str) and len(value) > limit:
        errors.append(f"must be less than {limit + 1} characters [json-pointer:{at}]")
