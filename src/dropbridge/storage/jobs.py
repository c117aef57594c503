"""The outbox's rows: claim, finish, due work, and people putting failed work back in line."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, or_, select, update

from dropbridge.domain import model as m

from . import tables as t
from .repositories import _Repo


class JobRepo(_Repo):
    """The transactional outbox: rows are the record of owed work; the queue only carries job ids."""

    def by_key(self, key: str) -> m.Job | None:
        return self.session.scalar(select(m.Job).where(t.jobs.c.key == key))

    def claim(self, job_id: int, now: datetime, lease_until: datetime, claim: str) -> bool:
        """pending (and due) or in_flight with an expired lease -> in_flight under our claim; atomic."""
        result = self.session.execute(
            update(t.jobs)
            .where(
                t.jobs.c.id == job_id,
                or_(
                    and_(t.jobs.c.status == "pending", t.jobs.c.available_at <= now),
                    and_(t.jobs.c.status == "in_flight", t.jobs.c.lease_until < now),
                ),
            )
            .values(
                status="in_flight",
                claim=claim,
                lease_until=lease_until,
                attempts=t.jobs.c.attempts + 1,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    def finish(self, job_id: int, claim: str, now: datetime, *, status: str, error: str | None = None,
               available_at: datetime | None = None) -> bool:
        """Close our claim: done, failed, or back to pending for a retry. False if we lost the claim."""
        values = {"status": status, "updated_at": now, "lease_until": None, "claim": None, "last_error": error}
        if available_at is not None:
            values["available_at"] = available_at
        result = self.session.execute(
            update(t.jobs)
            .where(t.jobs.c.id == job_id, t.jobs.c.claim == claim, t.jobs.c.status == "in_flight")
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    def due(self, now: datetime, limit: int = 500) -> list[int]:
        q = (
            select(t.jobs.c.id)
            .where(
                or_(
                    and_(t.jobs.c.status == "pending", t.jobs.c.available_at <= now),
                    and_(t.jobs.c.status == "in_flight", t.jobs.c.lease_until < now),
                )
            )
            .order_by(t.jobs.c.available_at)
            .limit(limit)
        )
        return list(self.session.scalars(q))

    def counts(self) -> dict[str, int]:
        rows = self.session.execute(select(t.jobs.c.status, func.count()).group_by(t.jobs.c.status))
        return dict(rows.all())



class JobAdminRepo(_Repo):
    """People's actions on owed work: put failed jobs back in line."""

    def requeue(self, key: str, now: datetime) -> int | None:
        """A failed (or done) job back to pending, due now; returns its id, None if no such job."""
        job = self.session.scalar(select(m.Job).where(t.jobs.c.key == key))
        if job is None or job.status == "in_flight":
            return None
        job.status, job.available_at, job.attempts, job.updated_at = "pending", now, 0, now
        return job.id

