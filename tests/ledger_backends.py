"""The ledger suite's backends: every ledger test runs on SQLite and on PostgreSQL.

Loaded by the ``test_ledger*`` modules through ``pytest_plugins``. PostgreSQL comes from
``ALERTER_TEST_POSTGRES_URL`` (``.ci/run`` sets it); each test gets a schema of its own, put
first on the connection's ``search_path``, and dropped afterwards.
"""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from ledger_support import POLICY
from sqlalchemy import create_engine, make_url, text

from alerter.ledger.store import Ledger

POSTGRES_ENV = "ALERTER_TEST_POSTGRES_URL"
EXAMPLE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL for an empty ledger on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"PostgreSQL ledger tests need {POSTGRES_ENV}, e.g. {EXAMPLE_URL}")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def ledger(state_url: str) -> Iterator[Ledger]:
    """A migrated, empty ledger with a small retry policy and a seeded jitter."""
    opened = Ledger.connect(state_url, outbox=POLICY, rng=random.Random(7))
    try:
        yield opened
    finally:
        opened.close()
