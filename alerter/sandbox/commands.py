"""``alerter sandbox generate`` and ``alerter sandbox serve``: a local org to try alerter on."""

from __future__ import annotations

import argparse
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from alerter.errors import UsageError
from alerter.sandbox.generate import DEFAULT_NOW, write_org
from alerter.sandbox.run import emulator_settings, export_lines, running_emulator


def add_sandbox_commands(commands: Any) -> None:
    """Register ``sandbox generate`` and ``sandbox serve`` on the CLI's subcommands."""
    sandbox = commands.add_parser("sandbox", help="a local Salesforce emulator and test orgs")
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

    serve = actions.add_parser("serve", help="serve a snapshot over HTTPS until interrupted")
    serve.add_argument("--data", type=Path, required=True, help="a snapshot file")
    serve.add_argument("--port", type=int, default=0, help="default: a free port")
    serve.add_argument("--page-size", type=int, default=2000, help="records per query page")
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
    with running_emulator(args.data, page_size=args.page_size, port=args.port) as emulator:
        for line in export_lines(emulator_settings(emulator)):
            print(line)
        print(f"# Salesforce emulator at {emulator.url}; Ctrl-C stops it", file=sys.stderr)
        sys.stdout.flush()
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("# stopped", file=sys.stderr)
    return 0
