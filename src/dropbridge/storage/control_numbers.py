"""Control numbers that never repeat per owner (services/ports.ControlNumbers): each allocation is its own
committed transaction, taken before the document carrying it is written. Concurrent allocators meet on the
unique (owner, kind, number) constraint and the loser takes the next one."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError

from dropbridge.domain.errors import ConfigurationError, RetryableError

from . import tables as t

_ATTEMPTS = 50


class SqlControlNumbers:
    def __init__(self, engine: Engine):
        self._engine = engine.execution_options(sqlite_immediate=True)
        self._reader = engine

    def allocate(self, owner: str, kind: str, reference: str = "", *, start: int = 1,
                 maximum: int = 999_999_999) -> int:
        c = t.control_numbers.c
        for _ in range(_ATTEMPTS):
            try:
                with self._engine.begin() as conn:
                    current = conn.scalar(select(func.max(c.number)).where(c.owner == owner, c.kind == kind))
                    number = max(current or 0, start - 1) + 1
                    if number > maximum:
                        raise ConfigurationError(f"{owner}: {kind} control numbers are used up ({maximum}); "
                                                 "agree a new range with the partner")
                    conn.execute(insert(t.control_numbers).values(owner=owner, kind=kind, number=number,
                                                                  reference=reference[:200] or None,
                                                                  allocated_at=datetime.now(UTC)))
                return number
            except IntegrityError:
                continue  # another process took this number: take the next
            except OperationalError as exc:  # a database that is busy or gone: try again later
                raise RetryableError(f"control number for {owner}: {exc.orig}") from exc
        raise RetryableError(f"control number for {owner}: {_ATTEMPTS} concurrent allocations collided")

    def reference_of(self, owner: str, kind: str, number: int) -> str | None:
        c = t.control_numbers.c
        with self._reader.connect() as conn:
            return conn.scalar(select(c.reference).where(c.owner == owner, c.kind == kind, c.number == number))

    def numbers_for(self, owner: str, reference: str) -> list[tuple[str, int]]:
        c = t.control_numbers.c
        with self._reader.connect() as conn:
            rows = conn.execute(select(c.kind, c.number).where(c.owner == owner, c.reference == reference)
                                .order_by(c.id))
            return [(kind, number) for kind, number in rows]
