"""The ``alerter`` command: the one place that reads settings, the clock and files, and wires
the pieces together.

Exit codes are a contract: 0 ok, 1 rule errors or failed rule tests, 2 usage or configuration
errors (argparse's own usage errors are 2 as well).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import structlog
from pydantic import ValidationError
from rich.console import Console

from alerter import __version__
from alerter.demo import DEMO_AT, demo_snapshot_path
from alerter.evaluate import State, evaluate
from alerter.loader import RuleSet, load_rules, rule_files
from alerter.logs import configure_logging
from alerter.preview import preview_rows, render_json, render_table
from alerter.records import Snapshot, SnapshotError
from alerter.ruletests import find_test_files, run_rule_tests
from alerter.settings import Settings

OK, RULE_ERRORS, USAGE = 0, 1, 2


class UsageError(Exception):
    """A problem with how the command was called or configured (exit code 2)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"alerter: configuration error: {exc}", file=sys.stderr)
        return USAGE
    configure_logging(settings.log_level, settings.log_format)
    try:
        code: int = args.handler(args, settings)
    except UsageError as exc:
        print(f"alerter {args.command}: {exc}", file=sys.stderr)
        return USAGE
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alerter", description="Make sure no sales lead falls through the cracks."
    )
    parser.add_argument("--version", action="version", version=f"alerter {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = commands.add_parser("check", help="validate rule files and calendars")
    check.add_argument("paths", nargs="*", type=Path, help="rule files or folders")
    check.set_defaults(handler=_check)

    test = commands.add_parser("test", help="run rule tests (rules/tests/*.yaml)")
    test.add_argument("paths", nargs="*", type=Path, help="rule folders or test files")
    test.add_argument("--rules", type=Path, help="the rules folder (default: beside the tests)")
    test.set_defaults(handler=_test)

    preview = commands.add_parser("preview", help="what the rules say about some data, now")
    _preview_arguments(preview)
    preview.add_argument("--data", type=Path, help="a snapshot file (JSON, Salesforce REST shape)")
    preview.add_argument("--at", type=_moment, help="evaluate at this ISO time (default: now)")
    preview.set_defaults(handler=_preview)

    demo = commands.add_parser("demo", help="preview the shipped rules on the embedded demo org")
    _preview_arguments(demo)
    demo.set_defaults(handler=_demo, data=None, at=None)

    run = commands.add_parser("run", help="run the service (poll, evaluate, notify)")
    run.add_argument("--once", action="store_true", help="run one cycle and exit")
    run.set_defaults(handler=_run)
    return parser


def _preview_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rules", type=Path, help="the rules folder (default: settings)")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument(
        "--state",
        action="append",
        choices=[s.value for s in State],
        help="show only records in this state (repeatable)",
    )
    parser.add_argument("--explain", action="store_true", help="add the evidence column")


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO time: {text!r}") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no time zone: write e.g. 2026-12-01T16:00-05:00 or 2026-12-01T21:00Z"
        )
    return moment


def _load(paths: Sequence[Path], settings: Settings) -> RuleSet:
    paths = list(paths) or [settings.rules_dir]
    for path in paths:
        if not path.exists():
            raise UsageError(f"no such file or folder: {path}")
    if not rule_files(paths):
        raise UsageError(f"no rule files (*.yaml) in {', '.join(map(str, paths))}")
    return load_rules(paths)


def _print_errors(ruleset: RuleSet) -> None:
    for error in ruleset.errors:
        print(error, file=sys.stderr)


def _check(args: argparse.Namespace, settings: Settings) -> int:
    ruleset = _load(args.paths, settings)
    _print_errors(ruleset)
    if ruleset.errors:
        print(
            f"{len(ruleset.errors)} error(s); {len(ruleset.rules)} valid rule(s)", file=sys.stderr
        )
        return RULE_ERRORS
    calendars = len(ruleset.calendars)
    print(f"ok: {len(ruleset.rules)} rule(s), {calendars} calendar(s)")
    return OK


def _test(args: argparse.Namespace, settings: Settings) -> int:
    paths = list(args.paths) or [settings.rules_dir]
    files = find_test_files(paths)
    if not files:
        raise UsageError(f"no rule test files in {', '.join(map(str, paths))}")
    rules_dir = args.rules or _rules_beside(files[0])
    ruleset = _load([rules_dir], settings)
    _print_errors(ruleset)
    report = run_rule_tests(files, ruleset)
    for error in report.errors:
        print(error, file=sys.stderr)
    for failure in report.failures:
        print(failure)
    passed = report.checked - len(report.failures)
    print(f"rule tests: {passed} of {report.checked} expectations met in {len(files)} file(s)")
    failed = report.failures or report.errors or ruleset.errors
    return RULE_ERRORS if failed else OK


def _rules_beside(test_file: Path) -> Path:
    folder = test_file.parent
    return folder.parent if folder.name == "tests" else folder


def _preview(args: argparse.Namespace, settings: Settings) -> int:
    if args.data is None:
        raise UsageError("reading a live org needs the Salesforce source; pass --data SNAPSHOT")
    return _show(args, settings, args.data, args.at or datetime.now(UTC))


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    return _show(args, settings, demo_snapshot_path(), DEMO_AT)


def _show(args: argparse.Namespace, settings: Settings, data: Path, at: datetime) -> int:
    ruleset = _load([args.rules or settings.rules_dir], settings)
    _print_errors(ruleset)
    try:
        snapshot = Snapshot.read(data)
    except SnapshotError as exc:
        raise UsageError(str(exc)) from None
    evaluations = evaluate(ruleset.rules, snapshot, at)
    if args.state:
        evaluations = [e for e in evaluations if e.state.value in args.state]
    rows = preview_rows(evaluations, ruleset.rules, snapshot)
    if args.format == "json":
        print(render_json(rows))
    else:
        rules = {rule.id: rule for rule in ruleset.rules}
        # Piped output has no terminal width; keep rows on one line rather than wrap at 80.
        console = Console(width=None if sys.stdout.isatty() else 200)
        render_table(rows, rules, at, console, explain=args.explain)
    return RULE_ERRORS if ruleset.errors else OK


def _run(args: argparse.Namespace, settings: Settings) -> int:
    ruleset = _load([settings.rules_dir], settings)
    _print_errors(ruleset)
    structlog.get_logger().error(
        "service.unavailable",
        reason="the Salesforce source and scheduler are not built yet",
        rules=len(ruleset.rules),
    )
    raise UsageError("the service needs the Salesforce source, which is not configured yet")
