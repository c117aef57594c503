"""Dashboard users and their sessions. Passwords are hashed with argon2; a session is a random id whose
hash is stored (the cookie carries the id, signed), so logout, a new password or a removed user ends
it at once. Failed logins are limited per account and per address."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from dropbridge.domain.errors import Conflict, NotFound, ValidationError
from dropbridge.domain.model import User, UserSession

from .records import audit

ROLES = ("owner", "staff", "viewer")
MIN_PASSWORD = 10
# Failed logins allowed in the window, per account and per client address.
LOGIN_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20

_hasher = PasswordHasher()
# Verified against when the account does not exist, so a missing account costs the same time.
_DUMMY_HASH = _hasher.hash("not a real password")


class LoginRefused(Exception):
    """Wrong email or password, or too many attempts (`limited`)."""

    def __init__(self, message: str, limited: bool = False):
        super().__init__(message)
        self.limited = limited


@dataclass(frozen=True)
class SessionUser:
    id: int
    email: str
    role: str

    @property
    def can_act(self) -> bool:
        return self.role in ("owner", "staff")

    @property
    def is_owner(self) -> bool:
        return self.role == "owner"


def _normal_email(email: str) -> str:
    email = email.strip().lower()
    if "@" not in email or len(email) > 320 or any(c.isspace() for c in email):
        raise ValidationError(f"not an email address: {email!r}", "email")
    return email


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValidationError(f"a password needs at least {MIN_PASSWORD} characters", "password")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValidationError(f"role is one of {', '.join(ROLES)}", "role")


def add_user(ctx, email: str, role: str, password: str) -> int:
    email = _normal_email(email)
    _check_role(role)
    _check_password(password)
    with ctx.uow() as uow:
        if uow.users.by_email(email) is not None:
            raise Conflict(f"a user {email} exists already")
        now = ctx.clock()
        user = uow.add(User(email=email, password_hash=_hasher.hash(password), role=role, created_at=now,
                            updated_at=now))
        uow.flush()
        audit(uow, ctx, "user.added", f"user:{email}", {"role": role})
        uow.commit()
        return user.id


def list_users(ctx) -> list[dict]:
    with ctx.uow(read_only=True) as uow:
        return [{"id": u.id, "email": u.email, "role": u.role, "created_at": u.created_at,
                 "last_login_at": u.last_login_at} for u in uow.users.all()]


def _existing(uow, email: str) -> User:
    user = uow.users.by_email(email.strip().lower())
    if user is None:
        raise NotFound(f"no user {email}")
    return user


def remove_user(ctx, email: str) -> None:
    with ctx.uow() as uow:
        user = _existing(uow, email)
        if user.role == "owner" and uow.users.count_role("owner") == 1:
            raise Conflict(f"{user.email} is the last owner; add another owner first")
        uow.users.delete(user)
        audit(uow, ctx, "user.removed", f"user:{user.email}")
        uow.commit()


def set_password(ctx, email: str, password: str) -> None:
    """A new password ends every session of the user."""
    _check_password(password)
    with ctx.uow() as uow:
        user = _existing(uow, email)
        user.password_hash, user.updated_at = _hasher.hash(password), ctx.clock()
        uow.users.end_sessions(user.id)
        audit(uow, ctx, "user.password_changed", f"user:{user.email}")
        uow.commit()


def set_role(ctx, email: str, role: str) -> None:
    _check_role(role)
    with ctx.uow() as uow:
        user = _existing(uow, email)
        if user.role == "owner" and role != "owner" and uow.users.count_role("owner") == 1:
            raise Conflict(f"{user.email} is the last owner; add another owner first")
        user.role, user.updated_at = role, ctx.clock()
        audit(uow, ctx, "user.role_changed", f"user:{user.email}", {"role": role})
        uow.commit()


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def log_in(ctx, email: str, password: str, address: str, *, hours: float = 12.0) -> str:
    """A new session id for a correct email and password; LoginRefused otherwise. Too many failures for
    the account or the address in the window refuse even a correct password until the window passes."""
    email = email.strip().lower()[:320]
    address = (address or "unknown")[:64]
    with ctx.uow() as uow:
        now = ctx.clock()
        by_email, by_address = uow.users.failures_since(email, address, now - LOGIN_WINDOW)
        if by_email >= MAX_FAILURES_PER_ACCOUNT or by_address >= MAX_FAILURES_PER_ADDRESS:
            audit(uow, ctx, "user.login_limited", f"user:{email}", {"address": address})
            uow.commit()
            raise LoginRefused("too many failed logins: wait 15 minutes and try again", limited=True)
        user = uow.users.by_email(email)
        try:
            _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
            ok = user is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        if not ok:
            uow.users.add_failure(email, address, now)
            audit(uow, ctx, "user.login_failed", f"user:{email}", {"address": address})
            uow.commit()
            raise LoginRefused("wrong email or password")
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
        token = secrets.token_urlsafe(32)
        uow.add(UserSession(token_hash=_token_hash(token), user_id=user.id, created_at=now,
                            expires_at=now + timedelta(hours=hours)))
        user.last_login_at = now
        uow.users.end_sessions(user.id, now)
        uow.users.forget_failures(email, now - LOGIN_WINDOW)
        audit(uow, ctx, "user.logged_in", f"user:{email}", {"address": address})
        uow.commit()
    return token


def session_user(ctx, token: str) -> SessionUser | None:
    if not token:
        return None
    with ctx.uow(read_only=True) as uow:
        user = uow.users.session_user(_token_hash(token), ctx.clock())
        return SessionUser(user.id, user.email, user.role) if user else None


def log_out(ctx, token: str) -> None:
    with ctx.uow() as uow:
        uow.users.end_session(_token_hash(token))
        uow.commit()
