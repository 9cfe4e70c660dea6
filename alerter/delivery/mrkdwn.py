"""Slack mrkdwn that lead data cannot take over, and Slack's size limits.

Slack reads three characters as control: ``&``, ``<`` and ``>``. ``<!channel>`` pings a whole
channel, ``<https://evil|click here>`` hides a link behind friendly words, ``<@U123>`` mentions
someone. Every value from Salesforce goes through :func:`escape` and is shown as typed; only
text built here on purpose (:func:`link`) is :class:`Mrkdwn`, which the escaping leaves alone.

Escaping covers what Slack parses inside ``<...>``. A bare ``@channel`` is a mention only when
Slack is asked to find mentions in plain words: by ``link_names``/``parse=full`` on
``chat.postMessage`` (the Slack notifier leaves both off) or by a mrkdwn text object whose
``verbatim`` is false (:mod:`alerter.delivery.render` sets it true on every one). ``*bold*``
and ``_italic_`` in lead data still format; that is cosmetic, and mrkdwn has no escape for it.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

ELLIPSIS = "…"

_CONTROL = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_LINK_SCHEMES = ("http", "https", "mailto")
# An entity or a <link|text> cut in half would show as garbage, or swallow what follows.
_PARTIAL_ENTITY = re.compile(r"&[a-z]{0,3}$")


class Mrkdwn(str):
    """Text that is already safe mrkdwn: built by this module, never taken from data.

    A separate ``str`` subclass rather than ``markupsafe.Markup``: Markup means "safe HTML",
    and mixing it with plain strings would HTML-escape them (``"`` becomes ``&#34;``, which
    Slack shows literally).
    """

    __slots__ = ()


def escape(value: object) -> Mrkdwn:
    """``value`` as mrkdwn that shows exactly its text; already-safe Mrkdwn passes through."""
    if isinstance(value, Mrkdwn):
        return value
    return Mrkdwn(("" if value is None else str(value)).translate(_CONTROL))


def link(url: str, text: object = None) -> Mrkdwn:
    """A ``<url|text>`` link with the text escaped. A URL that is not http(s) or mailto (a
    ``javascript:`` URL from lead data, say) gives the escaped text alone, linking nowhere."""
    label = escape(url if text is None or text == "" else text)
    if urlsplit(url).scheme.lower() not in _LINK_SCHEMES:
        return label
    # Inside <...> the first | ends the URL, so a | of the URL itself must be percent-encoded.
    target = escape(url.replace("|", "%7C"))
    return Mrkdwn(f"<{target}|{label}>")


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending in an ellipsis when cut.

    The cut never splits an entity (``&amp;``) or a ``<link|text>``: the partial piece is
    dropped. Returns the same type of string it is given (Mrkdwn stays Mrkdwn).
    """
    if len(text) <= limit:
        return text
    head = text[: max(limit - len(ELLIPSIS), 0)]
    head = _PARTIAL_ENTITY.sub("", head)
    opened = head.rfind("<")
    if opened > head.rfind(">"):
        head = head[:opened]
    result = head.rstrip() + ELLIPSIS
    return Mrkdwn(result) if isinstance(text, Mrkdwn) else result


def fit_lines(text: str, limit: int) -> str:
    """``text`` cut at a line break to fit ``limit``, saying how many lines were left out
    ("… and 12 more lines"); a first line too long on its own is clipped instead."""
    if len(text) <= limit:
        return text
    lines = text.split("\n")
    fits: tuple[int, str] | None = None
    used = -1  # the length of lines[:keep] joined by line breaks
    for keep in range(1, len(lines)):
        used += len(lines[keep - 1]) + 1
        dropped = len(lines) - keep
        more = f"{ELLIPSIS} and {dropped} more line{'s' if dropped != 1 else ''}"
        if used + 1 + len(more) > limit:
            break
        fits = keep, more
    if fits is None:
        return clip(text, limit)
    result = "\n".join([*lines[: fits[0]], fits[1]])
    return Mrkdwn(result) if isinstance(text, Mrkdwn) else result
