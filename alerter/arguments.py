"""Argument types shared by the command-line modules: argparse turns their errors into a
usage message (exit 2)."""

from __future__ import annotations

import argparse
from datetime import datetime


def moment(text: str) -> datetime:
    """An ISO 8601 time with a zone (``2026-12-01T16:00-05:00``, ``2026-12-01T21:00Z``)."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO time: {text!r}") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no time zone: write e.g. 2026-12-01T16:00-05:00 or 2026-12-01T21:00Z"
        )
    return value
