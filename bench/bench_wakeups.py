"""Deadline to Slack message: how late is a breach told, with a 5-minute poll?

Runs the drill (``alerter.sandbox.drill``): ``alerter run`` as a real process against the
sandbox, with N leads whose deadlines fall 0.4 s apart between two polls. Prints the delay from
each deadline to its Slack message (read from the Slack fake's arrival times), and, measured in
the same run, the baseline a poll-only service would give: each deadline told at the first poll
after it (the first poll's time plus whole poll intervals). Also the API calls per cycle (a
full poll or a wake-up) from ``/metrics``.

    .venv/bin/python bench/bench_wakeups.py              # 60 leads
    .venv/bin/python bench/bench_wakeups.py --leads 200
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
from datetime import timedelta
from pathlib import Path

from alerter.sandbox.drill import run_drill
from alerter.settings import Settings

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
POLL = "5m"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        result = run_drill(
            Path(work), templates_dir=TEMPLATES, leads=args.leads, touched=2, poll_interval=POLL
        )
    if result.missing or result.first_poll is None:
        raise SystemExit(f"drill incomplete: missing {result.missing}\n{result.log[-2000:]}")
    interval = Settings(poll_interval=POLL).poll_interval
    baseline = [
        _poll_only_delay(d - result.first_poll, interval) for d in result.deadlines.values()
    ]
    print(f"{len(result.delays)} leads nudged, poll interval {POLL}, exit code {result.exit_code}")
    print(f"{'':24}{'median':>10}{'worst':>10}")
    print(f"{'with wake-ups (s)':24}{result.median:>10.3f}{result.worst:>10.3f}")
    print(
        f"{'poll only, baseline (s)':24}{statistics.median(baseline):>10.1f}{max(baseline):>10.1f}"
    )
    cycles = result.metrics.get("alerter_cycles_total", 0)
    wakeups = result.metrics.get("alerter_wakeups_total", 0)
    calls = result.metrics.get("alerter_salesforce_api_calls_total", 0)
    print(
        f"cycles {cycles:.0f} ({wakeups:.0f} wake-ups), API calls {calls:.0f}, "
        f"{result.api_calls_per_cycle:.2f} per cycle"
    )


def _poll_only_delay(since_first_poll: timedelta, interval: timedelta) -> float:
    """From a deadline to the first poll at or after it, polls every ``interval`` from the
    first one."""
    polls = math.ceil(since_first_poll / interval)
    return (interval * polls - since_first_poll).total_seconds()


if __name__ == "__main__":
    main()
