"""Shared fixtures: real databases (SQLite always, PostgreSQL when it answers), a bootstrapped app.

Service-backed tests skip with a reason when the service is absent, and fail instead when
DROPBRIDGE_REQUIRE_SERVICES=1 (CI sets it after making sure the services run)."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path

import pytest

REQUIRE = os.environ.get("DROPBRIDGE_REQUIRE_SERVICES") == "1"
if os.environ.get("PYTEST_XDIST_WORKER"):
    # An xdist worker starts with COLUMNS=80 in its environment. Rich fixes a console's width from COLUMNS
    # when the console is made (dropbridge.cli.output, at import), so the tests that set a wider COLUMNS for
    # the in-process CLI would see tables squeezed to 80 columns in a worker and not in a plain run.
    os.environ.pop("COLUMNS", None)
    os.environ.pop("LINES", None)
PG_ADMIN_URL = os.environ.get("DROPBRIDGE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _redis_url() -> str:
    """Each pytest-xdist worker flushes its own Redis database: gwN uses the base database + N. The base is
    DROPBRIDGE_TEST_REDIS_URL's; by default 15 without xdist, and with `-n K` workers 16-K..15 (the top K of
    Redis's 16 databases, so a plain run and a parallel one both stay off the low databases apps use)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    index = int(worker[2:]) if worker.startswith("gw") else 0
    configured = os.environ.get("DROPBRIDGE_TEST_REDIS_URL")
    if configured is None:
        workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
        configured = f"redis://127.0.0.1:6379/{max(16 - workers, 0)}"
    base, _, db = configured.rstrip("/").rpartition("/")
    if not db.isdigit():  # no database in the URL: Redis's 0
        base, db = configured.rstrip("/"), "0"
    return f"{base}/{int(db) + index}"


REDIS_URL = _redis_url()


def pytest_sessionstart(session):
    """Compile the package once. Where PYTHONDONTWRITEBYTECODE is set (CI machines set it), every `dropbridge`
    process the tests start would compile every module again: most of a second per CLI call, hundreds of calls.
    Under pytest-xdist the controller does it before the workers start."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
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


def _migrated(url: str) -> None:
    from dropbridge.storage.db import make_engine
    from dropbridge.storage.migrate import upgrade

    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def pg_template(pg_server):
    """A PostgreSQL database migrated to head once per session (per xdist worker): the databases of tests that
    use `app` are copies of it, instead of each running every migration again (a second or more per test).
    Migrating from scratch stays tested: the template itself, SQLite, and tests that take `db_url` alone."""
    name = f"dropbridge_template_{uuid.uuid4().hex[:12]}"
    pg_server.execute(f'CREATE DATABASE "{name}"')
    _migrated(f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}")
    yield name
    pg_server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url(pg_server, request):
    """A fresh PostgreSQL database per test, dropped afterwards: empty, or a copy of the migrated template when
    the test uses `app` (which would migrate it to head anyway)."""
    name = f"dropbridge_test_{uuid.uuid4().hex[:12]}"
    if "app" in request.fixturenames:
        _create_from(pg_server, name, request.getfixturevalue("pg_template"))
    else:
        pg_server.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    pg_server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _create_from(pg_server, name: str, template: str) -> None:
    import psycopg

    for attempt in range(50):  # the template's last session may still be closing ("being accessed by others")
        try:
            pg_server.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            return
        except psycopg.errors.ObjectInUse:
            if attempt == 49:
                raise
            time.sleep(0.1)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """The SQLite counterpart of `pg_template`: a database file migrated once, copied for each `app`."""
    path = tmp_path_factory.mktemp("template") / "dropbridge.db"
    _migrated(f"sqlite:///{path}")
    return path


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
def app(request, tmp_path, db_url):
    """A bootstrapped, migrated dropbridge (no worker running)."""
    from dropbridge.bootstrap import bootstrap
    from dropbridge.storage.migrate import upgrade

    prefix = "sqlite:///"
    if db_url.startswith(prefix) and not Path(db_url[len(prefix):]).exists():
        shutil.copyfile(request.getfixturevalue("sqlite_template"), db_url[len(prefix):])
    built = bootstrap(make_settings(tmp_path, db_url))
    upgrade(built.engine)  # at head already (a copy of the template): a check that it is
    yield built
    built.close()
