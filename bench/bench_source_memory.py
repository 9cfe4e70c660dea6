"""Memory and API calls of one live pass as the org grows.

For each org size, a generated org is served by the emulator in a separate process (so its
memory is not ours), and one pass of the shipped rules reads it through the real client with a
counting sink. Its peak Python allocation (tracemalloc) is printed beside the baseline measured
in the same run: the snapshot path, which loads the whole org and then evaluates it. Streaming
keeps the live pass bounded by one page of records (2,000) and the owners seen, so its peak
levels off while the baseline grows with the org.

    .venv/bin/python bench/bench_source_memory.py                  # 1k, 10k, 100k leads
    .venv/bin/python bench/bench_source_memory.py --leads 1000 5000
"""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from pydantic import SecretStr

from alerter.evaluate import Evaluation, evaluate
from alerter.loader import load_rules
from alerter.records import Snapshot
from alerter.sandbox.generate import DEFAULT_NOW, write_org
from alerter.settings import SalesforceSettings
from alerter.source.live import evaluate_live
from alerter.source.salesforce import SalesforceSource

RULES = load_rules([Path(__file__).resolve().parent.parent / "rules"]).rules
NOW = DEFAULT_NOW


@contextmanager
def served(data: Path) -> Iterator[SalesforceSettings]:
    """``alerter sandbox serve`` in a subprocess; the settings it prints."""
    process = subprocess.Popen(
        [sys.executable, "-m", "alerter", "sandbox", "serve", "--data", str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        values: dict[str, object] = {}
        while len(values) < 7:
            line = process.stdout.readline()
            if not line:
                raise RuntimeError("the emulator exited before it printed its settings")
            name, _, value = line.removeprefix("export ALERTER_SALESFORCE__").strip().partition("=")
            values[name.lower()] = value.strip("'")
        for secret in ("password", "security_token"):
            values[secret] = SecretStr(str(values[secret]))
        yield SalesforceSettings.model_validate({**values, "timeout": 120})
    finally:
        process.terminate()
        process.wait(timeout=30)


def peak(run: Callable[[], object]) -> tuple[float, float, object]:
    """(peak MiB allocated, seconds, result) of one call."""
    gc.collect()
    tracemalloc.start()
    started = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - started
    _, top = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return top / 2**20, seconds, result


def live_pass(settings: SalesforceSettings) -> tuple[int, int]:
    """One pass with a sink that only counts: (evaluations, API calls)."""
    source = SalesforceSource(settings)
    source.connect()
    count = 0

    def sink(_: Evaluation) -> None:
        nonlocal count
        count += 1

    result = evaluate_live(RULES, source, NOW, sink=sink)
    if result.error:
        raise RuntimeError(result.error)
    return count, result.api_calls


def snapshot_pass(data: Path) -> int:
    """The whole org loaded from its file, then evaluated: the contrast."""
    return len(evaluate(RULES, Snapshot.read(data), NOW))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for leads in sorted(args.leads):
            data = Path(folder) / f"org-{leads}.json"
            write_org(data, leads, seed=1, now=NOW)
            size = os.path.getsize(data) / 2**20
            with served(data) as settings:
                live_mib, live_s, counts = peak(partial(live_pass, settings))
            snap_mib, snap_s, _ = peak(partial(snapshot_pass, data))
            evaluated, calls = counts
            rows.append((leads, size, evaluated, calls, live_mib, live_s, snap_mib, snap_s))
    header = (
        "leads",
        "file MiB",
        "evaluated",
        "API calls",
        "live peak MiB",
        "live/baseline",
        "live s",
        "baseline peak MiB",
        "baseline s",
    )
    widths = [len(h) + 2 for h in header]
    print("".join(f"{h:>{w}}" for h, w in zip(header, widths, strict=True)))
    for leads, size, evaluated, calls, live_mib, live_s, snap_mib, snap_s in rows:
        cells = (
            f"{leads}",
            f"{size:.1f}",
            f"{evaluated}",
            f"{calls}",
            f"{live_mib:.1f}",
            f"{live_mib / snap_mib:.2f}",
            f"{live_s:.1f}",
            f"{snap_mib:.1f}",
            f"{snap_s:.1f}",
        )
        print("".join(f"{c:>{w}}" for c, w in zip(cells, widths, strict=True)))


if __name__ == "__main__":
    main()
