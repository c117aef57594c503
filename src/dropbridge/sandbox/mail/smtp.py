"""The emulator's SMTP server (aiosmtpd): takes the purchase orders dropbridge sends, with AUTH and
injectable faults, each at the stage where a real server shows it:

- `rate_limit`: MAIL FROM answered `450 4.7.1 ... try again in N seconds` (RFC 3463 4.7.x: policy);
- `token_expired`: MAIL FROM answered `530 5.7.0 Authentication required` (the session's login no longer holds);
- `error_500`: end of data answered `451 4.3.0` (a local error: the message is not taken);
- `timeout_before_accept`: end of data held `seconds`, then `451 4.4.2`, the message not taken;
- `reject`: end of data answered `554 5.7.1 Message rejected`;
- `hang_after_accept`: the message is taken, then the answer held `seconds` (the client times out);
- `drop_after_data`: the message is taken, then the connection closed without an answer (the unknown outcome
  of RFC 5321 6.1: the client cannot tell whether it was delivered)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiosmtpd.smtp import AuthResult, LoginPassword

from dropbridge.sandbox.kit import FaultQueue, hold

FAULT_MODES = ("none", "hang_after_accept", "timeout_before_accept", "error_500", "rate_limit", "reject",
               "token_expired", "drop_after_data")
OPERATION = "orders.create"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class SmtpHandler:
    """aiosmtpd handler: records each message it takes and hands it to `on_message`."""

    def __init__(self, faults: FaultQueue, stopping: threading.Event, on_message: Callable[[Received], None],
                 username: str | None, password: str | None):
        self.faults = faults
        self.stopping = stopping
        self.on_message = on_message
        self.username = username
        self.password = password
        self.lock = threading.Lock()
        self.received: list[Received] = []
        self.attempts = 0  # messages begun (MAIL FROM), faults included

    def authenticate(self, server, session, envelope, mechanism: str, auth_data) -> AuthResult:
        if not isinstance(auth_data, LoginPassword) or self.username is None:
            return AuthResult(success=False, handled=False)
        ok = auth_data.login.decode() == self.username and auth_data.password.decode() == (self.password or "")
        return AuthResult(success=ok, handled=False)

    async def handle_MAIL(self, server, session, envelope, address: str, mail_options: list) -> str:
        with self.lock:
            self.attempts += 1
        if self.username is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        fault = self.faults.take(OPERATION)
        envelope.fault = fault
        if fault is not None and fault.mode == "rate_limit":
            return f"450 4.7.1 Too many messages from this account, try again in {fault.retry_after:g} seconds"
        if fault is not None and fault.mode == "token_expired":
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        fault = getattr(envelope, "fault", None)
        mode = fault.mode if fault is not None else "none"
        if mode == "error_500":
            return "451 4.3.0 Requested action aborted: local error in processing"
        if mode == "reject":
            return "554 5.7.1 Message rejected"
        if mode == "timeout_before_accept":
            await hold(fault.seconds, self.stopping)
            return "451 4.4.2 Timeout while queueing"
        raw = envelope.original_content or envelope.content
        message = Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(raw))
        with self.lock:
            self.received.append(message)
        self.on_message(message)
        if mode == "drop_after_data":
            server.transport.abort()  # taken, and no answer ever comes
            return "250 OK"
        if mode == "hang_after_accept":
            await hold(fault.seconds, self.stopping)
        return f"250 2.0.0 OK queued as {int(time.time() * 1000) % 10**9:09d}"

    def messages(self) -> list[Received]:
        with self.lock:
            return list(self.received)

    def reset(self) -> None:
        with self.lock:
            self.received.clear()
            self.attempts = 0
