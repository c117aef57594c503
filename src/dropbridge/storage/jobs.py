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

    def claim_batch(self, job_ids: list[int], sizes: dict[str, int], now: datetime, lease_until: datetime,
                    claim: str, *, fill: tuple[str, ...] = ()
                    ) -> tuple[list[tuple[int, str, dict, int]], list[int], dict[str, list[int]]]:
        """Claim the claimable among `job_ids` and, for each of their kinds in `sizes` (the batched ones), other
        due jobs of that kind, at most `sizes[kind]` jobs of it in all, under one claim (a message whose jobs
        another batch took still serves the rest of their kind's due work). Returns the claimed
        [(id, kind, payload, attempts)], the ids of `job_ids` left due because their kind's batch was full, and
        the due ones of a kind not in `sizes`, by kind (left alone, for the caller to run one at a time).
        The fill is taken with SKIP LOCKED on PostgreSQL, so concurrent workers split the due work and never
        wait on or share a row; SQLite has one writer at a time. Kinds in `fill` are filled even when none of
        `job_ids` is of them."""
        due = or_(and_(t.jobs.c.status == "pending", t.jobs.c.available_at <= now),
                  and_(t.jobs.c.status == "in_flight", t.jobs.c.lease_until < now))
        rows = self.session.execute(select(t.jobs.c.id, t.jobs.c.kind, due)
                                    .where(t.jobs.c.id.in_(sorted(set(job_ids)))).order_by(t.jobs.c.id)).all()
        wanted, left, counts, skipped = [], [], dict.fromkeys(fill, 0), {}
        for job_id, kind, is_due in rows:
            if kind not in sizes:
                if is_due:
                    skipped.setdefault(kind, []).append(job_id)
                continue
            counts[kind] = counts.get(kind, 0) + int(bool(is_due))
            if is_due:
                (left if kind in sizes and counts[kind] > sizes[kind] else wanted).append(job_id)
        claimed = self._claim_where(t.jobs.c.id.in_(wanted), due, now, lease_until, claim) if wanted else []
        for kind in sorted(counts.keys() & sizes.keys()):
            room = sizes[kind] - sum(1 for c in claimed if c[1] == kind)
            if room <= 0:
                continue
            more = (select(t.jobs.c.id).where(t.jobs.c.kind == kind, due).order_by(t.jobs.c.available_at, t.jobs.c.id)
                    .limit(room).with_for_update(skip_locked=True))
            claimed += self._claim_where(t.jobs.c.id.in_(more.scalar_subquery()), due, now, lease_until, claim)
        return claimed, left, skipped

    def _claim_where(self, which, due, now, lease_until, claim) -> list[tuple[int, str, dict, int]]:
        rows = self.session.execute(
            update(t.jobs).where(which, due)
            .values(status="in_flight", claim=claim, lease_until=lease_until, attempts=t.jobs.c.attempts + 1,
                    updated_at=now)
            .returning(t.jobs.c.id, t.jobs.c.kind, t.jobs.c.payload, t.jobs.c.attempts)
            .execution_options(synchronize_session=False)
        )
        return [(r.id, r.kind, dict(r.payload or {}), r.attempts) for r in rows.all()]

    def finish_done(self, job_ids: list[int], claim: str, now: datetime) -> int:
        """Close many claims as done in one statement; how many were still ours."""
        result = self.session.execute(
            update(t.jobs)
            .where(t.jobs.c.id.in_(job_ids), t.jobs.c.claim == claim, t.jobs.c.status == "in_flight")
            .values(status="done", updated_at=now, lease_until=None, claim=None, last_error=None)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount

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

