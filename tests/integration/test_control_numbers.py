"""Control numbers (EDI ISA13/GS06/ST02) never repeat per owner, on SQLite and PostgreSQL, even when
several threads allocate at once; each is committed before it is handed out."""

from __future__ import annotations

import threading

import pytest

from dropbridge.domain.errors import ConfigurationError
from dropbridge.storage.control_numbers import SqlControlNumbers


def test_numbers_are_unique_per_owner_and_kind_and_remember_their_reference(app):
    numbers = SqlControlNumbers(app.engine)
    assert [numbers.allocate("supplier:1", "interchange", "db-1-1-1") for _ in range(3)] == [1, 2, 3]
    assert numbers.allocate("supplier:1", "group", "db-1-1-1") == 1
    assert numbers.allocate("supplier:2", "interchange", "db-2-1-1", start=500) == 500
    assert numbers.allocate("supplier:2", "interchange", "db-2-2-1", start=500) == 501
    assert numbers.reference_of("supplier:1", "group", 1) == "db-1-1-1"
    assert numbers.reference_of("supplier:1", "group", 2) is None
    assert numbers.numbers_for("supplier:1", "db-1-1-1") == [("interchange", 1), ("interchange", 2),
                                                             ("interchange", 3), ("group", 1)]
    again = SqlControlNumbers(app.engine)  # a new process (after a crash) carries on, never back
    assert again.allocate("supplier:1", "interchange") == 4
    with pytest.raises(ConfigurationError, match="used up"):
        again.allocate("supplier:3", "interchange", start=9, maximum=8)


def test_concurrent_allocations_never_collide(app):
    numbers = SqlControlNumbers(app.engine)
    got: list[int] = []
    lock = threading.Lock()

    def worker():
        for _ in range(10):
            n = numbers.allocate("supplier:9", "group", "r")
            with lock:
                got.append(n)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == list(range(1, 41))
