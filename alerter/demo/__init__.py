"""The embedded demo org: a small sales team on Tuesday 1 December 2026, 16:00 in New York.

Its leads are chosen so the shipped rules show every state: fresh MQLs, one due soon, breaches at
each tier, a lead touched in time, one waiting in a queue, and one untouched for weeks.
"""

from __future__ import annotations

from datetime import datetime
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

DEMO_AT = datetime(2026, 12, 1, 16, 0, tzinfo=ZoneInfo("America/New_York"))


def demo_snapshot_path() -> Path:
    """The demo org's snapshot file, wherever the package is installed."""
    return Path(str(resources.files(__package__).joinpath("org.json")))
