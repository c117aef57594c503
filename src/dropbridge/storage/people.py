"""Dashboard users, their sessions and failed logins."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, insert, select

from dropbridge.domain import model as m

from . import tables as t
from .repositories import _Repo


class UserRepo(_Repo):
    def by_email(self, email: str) -> m.User | None:
        return self.session.scalar(select(m.User).where(t.users.c.email == email))

    def all(self) -> list[m.User]:
        return list(self.session.scalars(select(m.User).order_by(t.users.c.email)))

    def count_role(self, role: str) -> int:
        return self.session.scalar(select(func.count()).where(t.users.c.role == role))

    def delete(self, user: m.User) -> None:
        self.session.execute(delete(t.user_sessions).where(t.user_sessions.c.user_id == user.id))
        self.session.delete(user)

    def session_user(self, token_hash: str, now: datetime) -> m.User | None:
        return self.session.scalar(
            select(m.User).join(t.user_sessions, t.user_sessions.c.user_id == t.users.c.id)
            .where(t.user_sessions.c.token_hash == token_hash, t.user_sessions.c.expires_at > now))

    def end_session(self, token_hash: str) -> None:
        self.session.execute(delete(t.user_sessions).where(t.user_sessions.c.token_hash == token_hash))

    def end_sessions(self, user_id: int, now: datetime | None = None) -> None:
        """Every session of a user; with `now`, only expired ones (tidying at login)."""
        q = delete(t.user_sessions).where(t.user_sessions.c.user_id == user_id)
        if now is not None:
            q = q.where(t.user_sessions.c.expires_at <= now)
        self.session.execute(q)

    def failures_since(self, email: str, address: str, since: datetime) -> tuple[int, int]:
        la = t.login_attempts
        by_email = self.session.scalar(select(func.count()).where(la.c.email == email, la.c.at >= since))
        by_address = self.session.scalar(select(func.count()).where(la.c.address == address, la.c.at >= since))
        return int(by_email), int(by_address)

    def add_failure(self, email: str, address: str, now: datetime) -> None:
        self.session.execute(insert(t.login_attempts).values(email=email, address=address, at=now))

    def forget_failures(self, email: str, before: datetime) -> None:
        """A successful login clears its account's failures; old rows go too."""
        la = t.login_attempts
        self.session.execute(delete(la).where(la.c.email == email))
        self.session.execute(delete(la).where(la.c.at < before))
