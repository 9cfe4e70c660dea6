"""Numbered files of what the fakes accepted: ``DIR/slack/0001.json``, ``DIR/mail/0001.eml``.

An outbox lets a person (``alerter sandbox serve --outbox DIR``) or a test read what alerter
sent without asking the fake. Files are never overwritten: numbering goes on after the highest
number already in the folder, so a restarted sandbox adds to the outbox of the last run, and the
file is created exclusively, so two writers (two threads, or two sandboxes sharing a folder)
never take the same number.
"""

from __future__ import annotations

from pathlib import Path


def write_numbered(folder: Path, suffix: str, content: bytes) -> Path:
    """Write ``content`` to ``folder/NNNN<suffix>`` (at least 4 digits, one past the highest
    number there) and return the path; the folder is created if needed."""
    folder.mkdir(parents=True, exist_ok=True)
    while True:
        path = folder / f"{_highest(folder, suffix) + 1:04d}{suffix}"
        try:
            with path.open("xb") as file:
                file.write(content)
        except FileExistsError:  # another writer took this number between the scan and here
            continue
        return path


def _highest(folder: Path, suffix: str) -> int:
    numbers = (
        int(path.name.removesuffix(suffix))
        for path in folder.iterdir()
        if path.name.endswith(suffix) and path.name.removesuffix(suffix).isdigit()
    )
    return max(numbers, default=0)
