"""Shared fixtures: real databases (SQLite always, PostgreSQL when it answers), a bootstrapped app.

Service-backed tests skip with a reason when the service is absent, and fail instead when
DROPBRIDGE_REQUIRE_SERVICES=1 (CI sets it after making sure the services run)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

REQUIRE = os.environ.get("DROPBRIDGE_REQUIRE_SERVICES") == "1"
PG_ADMIN_URL = os.environ.get("DROPBRIDGE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("DROPBRIDGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def pytest_sessionstart(session):
    """Compile the package once. Where PYTHONDONTWRITEBYTECODE is set (CI machines set it), every `dropbridge`
    process the tests start would compile every module again: most of a second per CLI call, hundreds of calls."""
    import compileall

    import dropbridge

    compileall.compile_dir(Path(dropbridge.__file__).parent, quiet=1)


def _unavailable(what: str, why: str):
    if REQUIRE:
        pytest.fail(f"{what} is required (DROPBRIDGE_REQUIRE_SERVICES=1) but unavailable: {why}")
    pytest.skip(f"{what} not available ({why}); set DROPBRIDGE_TEST_PG_URL / start it to run this test")


@pytest.fixture(scope="session")
def pg_server():
    try:
        import psycopg
    except ImportError as exc:
        _unavailable("PostgreSQL driver psycopg", str(exc))
    try:
        conn = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except Exception as exc:
        _unavailable("PostgreSQL", str(exc).strip().splitlines()[0] if str(exc) else type(exc).__name__)
    yield conn
    conn.close()


@pytest.fixture
def pg_url(pg_server):
    """A fresh PostgreSQL database per test, dropped afterwards."""
    name = f"dropbridge_test_{uuid.uuid4().hex[:12]}"
    pg_server.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    pg_server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def redis_url():
    try:
        import redis

        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        client.ping()
    except Exception as exc:
        _unavailable("Redis", str(exc))
    client.flushdb()
    yield REDIS_URL
    client.flushdb()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path: Path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'dropbridge.db'}"
    return request.getfixturevalue("pg_url")


def make_settings(tmp_path: Path, db_url: str, **overrides):
    from cryptography.fernet import Fernet

    from dropbridge.config import Settings

    values = dict(data_dir=tmp_path, database_url=db_url, queue_url=f"sqlite:///{tmp_path / 'queue.db'}",
                  secret_keys=Fernet.generate_key().decode(), http_timeout_seconds=5, job_lease_seconds=10,
                  sweep_interval_seconds=0.5, tracking_poll_seconds=3600,
                  order_pull_seconds=3600, feed_check_seconds=3600, catalog_check_seconds=3600,
                  job_backoff_base_seconds=0.2,
                  job_backoff_max_seconds=1.0)
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def app(tmp_path, db_url):
    """A bootstrapped, migrated dropbridge (no worker running)."""
    from dropbridge.bootstrap import bootstrap
    from dropbridge.storage.migrate import upgrade

    built = bootstrap(make_settings(tmp_path, db_url))
    upgrade(built.engine)
    yield built
    built.close()
