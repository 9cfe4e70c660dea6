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

from pydantic import ValidationError
from rich.console import Console

from alerter import __version__
from alerter.arguments import moment
from alerter.delivery.render import check_templates
from alerter.demo import DEMO_AT, demo_snapshot_path
from alerter.demo.delivery import deliver_demo, render_arrivals
from alerter.errors import ConfigurationError, SourceError, UsageError
from alerter.evaluate import Evaluation, State, evaluate
from alerter.ledger import commands as ledger_commands
from alerter.loader import RuleSet, load_rules, rule_files
from alerter.logs import configure_logging
from alerter.preview import preview_rows, render_json, render_table
from alerter.records import Snapshot, SnapshotError
from alerter.ruletests import find_test_files, run_rule_tests
from alerter.sandbox.commands import add_sandbox_commands
from alerter.sandbox.run import emulator_settings, running_emulator
from alerter.service.app import Service
from alerter.service.scheduler import Scheduler
from alerter.settings import SalesforceSettings, Settings
from alerter.source.live import evaluate_live
from alerter.source.online_check import check_online
from alerter.source.salesforce import SalesforceSource

OK, RULE_ERRORS, USAGE = 0, 1, 2
CYCLE_FAILED = 1  # run --once: the cycle could not read the org or the ledger


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
    check.add_argument(
        "--online", action="store_true", help="also check the fields against the live org"
    )
    check.set_defaults(handler=_check)

    test = commands.add_parser("test", help="run rule tests (rules/tests/*.yaml)")
    test.add_argument("paths", nargs="*", type=Path, help="rule folders or test files")
    test.add_argument("--rules", type=Path, help="the rules folder (default: beside the tests)")
    test.set_defaults(handler=_test)

    preview = commands.add_parser("preview", help="what the rules say about some data, now")
    _preview_arguments(preview)
    preview.add_argument(
        "--data",
        type=Path,
        help="a snapshot file (JSON, Salesforce REST shape); default: the "
        "live org from settings, read-only",
    )
    preview.add_argument("--at", type=moment, help="evaluate at this ISO time (default: now)")
    preview.set_defaults(handler=_preview)

    demo = commands.add_parser(
        "demo",
        help="the shipped rules on the embedded demo org: preview, then one delivered cycle",
    )
    _preview_arguments(demo)
    demo.set_defaults(handler=_demo)

    add_sandbox_commands(commands)
    ledger_commands.register(commands)

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
    errors = list(ruleset.errors) + check_templates(ruleset, settings.templates_dir)
    if args.online and ruleset.rules:
        source = SalesforceSource(settings.salesforce)
        try:
            source.connect()
            errors += check_online(ruleset, source)
        except (ConfigurationError, SourceError) as exc:
            raise UsageError(str(exc)) from None
    for error in sorted(errors):
        print(error, file=sys.stderr)
    if errors:
        summary = f"{len(errors)} error(s); {len(ruleset.rules)} valid rule(s)"
        print(summary, file=sys.stderr)
        return RULE_ERRORS
    where = " and match the org" if args.online else ""
    counts = f"{len(ruleset.rules)} rule(s), {len(ruleset.calendars)} calendar(s)"
    print(f"ok: {counts}, their templates render{where}")
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
    at = args.at or datetime.now(UTC)
    ruleset = _load([args.rules or settings.rules_dir], settings)
    _print_errors(ruleset)
    if args.data is None:
        failed = _show_live(args, ruleset, settings.salesforce, at)
    else:
        try:
            snapshot = Snapshot.read(args.data)
        except SnapshotError as exc:
            raise UsageError(str(exc)) from None
        _show(args, ruleset, evaluate(ruleset.rules, snapshot, at), snapshot, at)
        failed = False
    return RULE_ERRORS if ruleset.errors or failed else OK


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    """The shipped rules on the demo org, served by the emulator and read like a live org."""
    ruleset = _load([args.rules or settings.rules_dir], settings)
    _print_errors(ruleset)
    with running_emulator(demo_snapshot_path(), now=DEMO_AT) as emulator:
        failed = _show_live(args, ruleset, emulator_settings(emulator), DEMO_AT)
    if args.format == "table" and not failed:
        if settings.log_level == "info":  # the service's progress lines would bury the tables
            configure_logging("warning", settings.log_format)
        rules_dir = args.rules or settings.rules_dir
        result, arrivals = deliver_demo(settings.model_copy(update={"rules_dir": rules_dir}))
        render_arrivals(arrivals, result, Console())
        failed = not result.poll.ok
    return RULE_ERRORS if ruleset.errors or failed else OK


def _show_live(
    args: argparse.Namespace, ruleset: RuleSet, salesforce: SalesforceSettings, at: datetime
) -> bool:
    """Preview from a live org (read-only); True when some rule could not be evaluated."""
    source = SalesforceSource(salesforce)
    try:
        source.connect()
    except (ConfigurationError, SourceError) as exc:
        raise UsageError(str(exc)) from None
    result = evaluate_live(ruleset.rules, source, at)
    for rule_id, error in result.disabled.items():
        print(f"alerter: rule {rule_id} disabled: {error}", file=sys.stderr)
    if result.error is not None:
        raise UsageError(result.error)
    _show(args, ruleset, result.evaluations, result.owners, at)
    usage = (
        f"; org usage {result.daily_usage[0]}/{result.daily_usage[1]}" if result.daily_usage else ""
    )
    print(f"{result.api_calls} Salesforce API call(s){usage}", file=sys.stderr)
    return bool(result.disabled)


def _show(
    args: argparse.Namespace,
    ruleset: RuleSet,
    evaluations: list[Evaluation],
    lookups: Snapshot,
    at: datetime,
) -> None:
    if args.state:
        evaluations = [e for e in evaluations if e.state.value in args.state]
    rows = preview_rows(evaluations, ruleset.rules, lookups)
    if args.format == "json":
        print(render_json(rows))
    else:
        rules = {rule.id: rule for rule in ruleset.rules}
        # Piped output has no terminal width; keep rows on one line rather than wrap at 80.
        console = Console(width=None if sys.stdout.isatty() else 200)
        render_table(rows, rules, at, console, explain=args.explain)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.once:
        settings = settings.model_copy(update={"health_port": None})
    service = Service(settings)
    try:
        service.start()
    except ConfigurationError as exc:
        service.stop()
        raise UsageError(str(exc)) from None
    try:
        if args.once:
            result = service.cycle()
            return OK if result.poll.ok else CYCLE_FAILED
        Scheduler(service).run()
        return OK
    finally:
        service.stop()
