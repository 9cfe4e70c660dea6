"""``alerter sandbox generate`` and ``alerter sandbox serve``: a local org, Slack workspace and
mail server to try alerter on."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

from alerter.errors import UsageError
from alerter.sandbox.generate import DEFAULT_NOW, write_org
from alerter.sandbox.run import running_sandbox


def add_sandbox_commands(commands: Any) -> None:
    """Register ``sandbox generate`` and ``sandbox serve`` on the CLI's subcommands."""
    sandbox = commands.add_parser(
        "sandbox", help="a local Salesforce emulator, Slack workspace and mail server; test orgs"
    )
    actions = sandbox.add_subparsers(dest="action", required=True, metavar="ACTION")

    generate = actions.add_parser("generate", help="write a generated org as a snapshot file")
    generate.add_argument("--leads", type=int, required=True, help="how many leads")
    generate.add_argument("--seed", type=int, default=1, help="the same seed, the same org")
    generate.add_argument("--out", type=Path, required=True, help="the snapshot file to write")
    generate.add_argument(
        "--now",
        type=datetime.fromisoformat,
        default=DEFAULT_NOW,
        help=f"the org's present (default {DEFAULT_NOW.isoformat()})",
    )
    generate.set_defaults(handler=_generate)

    serve = actions.add_parser(
        "serve",
        help="serve a snapshot, a Slack fake and an SMTP sink until interrupted",
        description="Serve the snapshot over HTTPS as a Salesforce org, with a Slack workspace "
        "(plain HTTP) whose members are the org's users and a STARTTLS mail server, until "
        "Ctrl-C or SIGTERM. Prints `export ALERTER_...=...` lines that point alerter at all "
        "three, then a `# ready` comment line.",
    )
    serve.add_argument("--data", type=Path, required=True, help="a snapshot file")
    serve.add_argument("--port", type=int, default=0, help="Salesforce port (default: a free one)")
    serve.add_argument("--page-size", type=int, default=2000, help="records per query page")
    serve.add_argument(
        "--outbox",
        type=Path,
        metavar="DIR",
        help="write each Slack message received to DIR/slack/NNNN.json and each email to "
        "DIR/mail/NNNN.eml",
    )
    serve.set_defaults(handler=_serve)


def _generate(args: argparse.Namespace, settings: object) -> int:
    if args.leads < 0:
        raise UsageError("--leads must be 0 or more")
    if args.now.tzinfo is None:
        raise UsageError("--now needs a time zone, e.g. 2026-12-01T21:00:00+00:00")
    write_org(args.out, args.leads, seed=args.seed, now=args.now)
    print(f"wrote {args.leads} leads to {args.out}")
    return 0


def _serve(args: argparse.Namespace, settings: object) -> int:
    if not args.data.is_file():
        raise UsageError(f"no such snapshot file: {args.data}")
    if args.outbox is not None and args.outbox.exists() and not args.outbox.is_dir():
        raise UsageError(f"--outbox is not a folder: {args.outbox}")
    # A service manager or `kill` stops us with SIGTERM: leave as on Ctrl-C, through the
    # context managers, so the servers close and their certificate files are removed.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        with running_sandbox(
            args.data, page_size=args.page_size, port=args.port, outbox=args.outbox
        ) as sandbox:
            for line in sandbox.export_lines():
                print(line)
            print("# ready")  # the end of the settings, for a script reading them
            sys.stdout.flush()
            smtp = f"{sandbox.smtp.host}:{sandbox.smtp.port}"
            print(f"# Salesforce emulator at {sandbox.salesforce.url}", file=sys.stderr)
            print(f"# Slack fake at {sandbox.slack.url}; SMTP sink at {smtp}", file=sys.stderr)
            if args.outbox is not None:
                print(f"# writing what they receive to {args.outbox}", file=sys.stderr)
            print("# Ctrl-C stops them", file=sys.stderr)
            threading.Event().wait()
    except KeyboardInterrupt:
        print("# stopped", file=sys.stderr)
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


def _interrupt(signum: int, frame: FrameType | None) -> NoReturn:
    raise KeyboardInterrupt
