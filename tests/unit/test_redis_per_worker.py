"""The suite's Redis database per pytest-xdist worker (tests/conftest.py): no two workers flush the same one."""

from __future__ import annotations

import pytest

from tests.conftest import _redis_url


@pytest.mark.parametrize(("configured", "worker", "count", "expected"), [
    (None, None, None, "redis://127.0.0.1:6379/15"),  # one process: the default as before
    (None, "gw0", "4", "redis://127.0.0.1:6379/12"),
    (None, "gw3", "4", "redis://127.0.0.1:6379/15"),
    ("redis://127.0.0.1:6379/3", None, None, "redis://127.0.0.1:6379/3"),
    ("redis://127.0.0.1:6379/3", "gw2", "4", "redis://127.0.0.1:6379/5"),
    ("redis://h:6380", "gw1", "2", "redis://h:6380/1"),  # no database named: Redis's 0
])
def test_each_worker_gets_the_base_database_plus_its_index(monkeypatch, configured, worker, count, expected):
    for name, value in (("DROPBRIDGE_TEST_REDIS_URL", configured), ("PYTEST_XDIST_WORKER", worker),
                        ("PYTEST_XDIST_WORKER_COUNT", count)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert _redis_url() == expected
