"""``python -m alerter`` is the ``alerter`` command."""

from alerter.cli import main

raise SystemExit(main())
