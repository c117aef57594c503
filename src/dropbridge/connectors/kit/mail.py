"""Email transport: hand a message to an SMTP server (smtplib, TLS and authentication) and read a mailbox over
IMAP (imapclient). No message content is interpreted here.

Sending is done step by step rather than with `sendmail`, because what a failure means depends on when it
happens: before the message data is handed over, nothing can have been delivered (`NotSent`, safe to
send again); after the data went out and before the server answered (a dropped connection, a timeout), the
server may have queued it (`RetryableError`: the outcome is unknown, and an email cannot be looked up)."""

from __future__ import annotations

import contextlib
import re
import smtplib
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from typing import Any

from dropbridge.domain.errors import (
    AuthExpired,
    ConfigurationError,
    ExternalError,
    NotSent,
    PermanentError,
    RateLimited,
    RetryableError,
)

SECURITY = ("starttls", "tls", "none")  # STARTTLS on a plain port, implicit TLS (465/993), or none (a local relay)
DEFAULT_RATE_LIMIT_WAIT = 60.0
_RETRY_IN = re.compile(r"(?:retry|try again)\D{0,20}?(\d{1,5})\s*(s|sec|seconds?|m|min|minutes?)\b", re.I)


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
    return context


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    security: str = "starttls"
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0
    ca_file: str | None = None  # a private CA for the server's certificate


def _enhanced(text: str) -> str:
    match = re.match(r"\s*([245]\.\d{1,3}\.\d{1,3})", text)
    return match.group(1) if match else ""


def _retry_after(text: str) -> float:
    match = _RETRY_IN.search(text)
    if not match:
        return DEFAULT_RATE_LIMIT_WAIT
    value = float(match.group(1))
    return value * 60 if match.group(2).lower().startswith("m") else value


def classify_reply(code: int, reply: bytes | str, what: str) -> ExternalError:
    """An SMTP answer other than success, as the error class that says what to do next. Only for answers
    the server gave before it took the message: it did not take it."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    message = f"{what}: SMTP {code} {text}".strip()
    enhanced = _enhanced(text)
    if code in (530, 534, 535) or enhanced in ("5.7.8", "5.7.9"):  # authentication required, or refused
        return AuthExpired(message, status=code)
    if 400 <= code < 500:
        throttled = enhanced.startswith("4.7.") or re.search(r"rate|too many|try again later", text, re.I)
        if throttled:
            return RateLimited(message, status=code, retry_after=_retry_after(text))
        return NotSent(message, status=code)
    return PermanentError(message, status=code)


def _normalise(data: bytes) -> bytes:
    """CRLF line ends and dot-stuffing (RFC 5321 4.5.2), ending with the terminating dot line."""
    data = re.sub(rb"\r\n|\r|\n", b"\r\n", data)
    data = re.sub(rb"(?m)^\.", b"..", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


def _connect(server: SmtpServer) -> smtplib.SMTP:
    if server.security not in SECURITY:
        raise ConfigurationError(f"smtp.security must be one of {', '.join(SECURITY)}, not {server.security!r}")
    context = tls_context(server.ca_file)
    if server.security == "tls":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(server.host, server.port, timeout=server.timeout, context=context)
    else:
        smtp = smtplib.SMTP(server.host, server.port, timeout=server.timeout)
    try:
        code, reply = smtp.ehlo()
        if code != 250:
            raise classify_reply(code, reply, "EHLO")
        if server.security == "starttls":
            if not smtp.has_extn("starttls"):
                raise ConfigurationError(f"SMTP server {server.host}:{server.port} offers no STARTTLS; set "
                                         "smtp.security to \"tls\" (implicit TLS) or, for a local relay only, \"none\"")
            code, reply = smtp.starttls(context=context)
            if code != 220:
                raise classify_reply(code, reply, "STARTTLS")
            smtp.ehlo()
        if server.username:
            try:
                smtp.login(server.username, server.password or "")
            except smtplib.SMTPAuthenticationError as exc:
                raise AuthExpired(f"SMTP login as {server.username} refused: {exc.smtp_code} "
                                  f"{exc.smtp_error.decode('utf-8', 'replace')}", status=exc.smtp_code) from None
            except smtplib.SMTPNotSupportedError:
                raise ConfigurationError(f"SMTP server {server.host}:{server.port} offers no authentication "
                                         "(over this connection); check smtp.security") from None
    except BaseException:
        _close(smtp)
        raise
    return smtp


def _close(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def send_message(server: SmtpServer, message: EmailMessage, *, sender: str, recipients: Iterable[str]) -> str:
    """Hand `message` to the server for `recipients`; returns the server's answer to the data (its queue id,
    usually). Raises NotSent, RateLimited, AuthExpired, PermanentError or ConfigurationError when the
    server did not take it, and RetryableError when it may have (the answer never came)."""
    data = _normalise(message.as_bytes(policy=SMTP_POLICY))
    where = f"SMTP {server.host}:{server.port}"
    try:
        smtp = _connect(server)
    except ssl.SSLCertVerificationError as exc:
        raise ConfigurationError(f"{where}: certificate not trusted ({exc.verify_message}); set smtp.ca_file "
                                 "to its CA") from None
    except (OSError, smtplib.SMTPException) as exc:  # refused, reset, timed out, TLS failed: nothing sent
        raise NotSent(f"{where}: {type(exc).__name__}: {exc}") from exc
    try:
        try:
            code, reply = smtp.mail(sender)
            if code != 250:
                raise classify_reply(code, reply, f"{where} MAIL FROM")
            accepted = 0
            refused = []
            for rcpt in recipients:
                code, reply = smtp.rcpt(rcpt)
                if code in (250, 251):
                    accepted += 1
                else:
                    refused.append((rcpt, code, reply))
            if refused and not accepted:
                rcpt, code, reply = refused[0]
                raise classify_reply(code, reply, f"{where} RCPT TO {rcpt}")
            smtp.putcmd("data")
            code, reply = smtp.getreply()
            if code != 354:
                raise classify_reply(code, reply, f"{where} DATA")
            smtp.send(data)
        except ExternalError:
            raise
        except (OSError, smtplib.SMTPException) as exc:  # the terminating dot never went out: not delivered
            raise NotSent(f"{where}: {type(exc).__name__}: {exc}") from exc
        try:
            code, reply = smtp.getreply()
        except (OSError, smtplib.SMTPException) as exc:
            raise RetryableError(f"{where}: no answer after the message was sent ({type(exc).__name__}: {exc}); "
                                 "it may have been delivered") from exc
        if code != 250:
            raise classify_reply(code, reply, f"{where} end of data")
        return reply.decode("utf-8", "replace")
    finally:
        _close(smtp)


# ---- IMAP ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImapServer:
    host: str
    port: int
    username: str
    password: str
    security: str = "tls"
    folder: str = "INBOX"
    timeout: float = 30.0
    ca_file: str | None = None


class Mailbox:
    """One IMAP session on one folder: `with Mailbox(server) as box:`. Messages are read with BODY.PEEK, so
    reading marks nothing; `mark_seen` does, once the caller has stored them."""

    def __init__(self, server: ImapServer):
        from imapclient import IMAPClient
        from imapclient.exceptions import IMAPClientError, LoginError

        if server.security not in SECURITY:
            raise ConfigurationError(f"imap.security must be one of {', '.join(SECURITY)}, not "
                                     f"{server.security!r}")
        where = f"IMAP {server.host}:{server.port}"
        self.where = where
        context = tls_context(server.ca_file)
        try:
            self.client = IMAPClient(server.host, port=server.port, ssl=server.security == "tls",
                                     ssl_context=context, timeout=server.timeout)
        except ssl.SSLCertVerificationError as exc:
            raise ConfigurationError(f"{where}: certificate not trusted ({exc.verify_message}); set imap.ca_file "
                                     "to its CA") from None
        except (OSError, IMAPClientError) as exc:
            raise RetryableError(f"{where}: {type(exc).__name__}: {exc}") from exc
        try:
            if server.security == "starttls":
                self.client.starttls(context)
            self.client.login(server.username, server.password)
            selected = self.client.select_folder(server.folder)
        except LoginError as exc:
            self.close()
            raise AuthExpired(f"{where}: login as {server.username} refused: {exc}") from None
        except (OSError, IMAPClientError) as exc:
            self.close()
            raise RetryableError(f"{where}: {type(exc).__name__}: {exc}") from exc
        self.uidvalidity = int(selected.get(b"UIDVALIDITY", 0))
        self._errors = (OSError, IMAPClientError)

    def messages_after(self, last_uid: int, limit: int) -> list[tuple[int, bytes]]:
        """(uid, raw message) for messages with a UID above `last_uid`, oldest first, at most `limit`."""
        try:
            uids = sorted(u for u in self.client.search(["UID", f"{last_uid + 1}:*"]) if u > last_uid)[:limit]
            if not uids:
                return []
            fetched = self.client.fetch(uids, ["BODY.PEEK[]"])
        except self._errors as exc:
            raise RetryableError(f"{self.where}: {type(exc).__name__}: {exc}") from exc
        return [(uid, bytes(fetched[uid][b"BODY[]"])) for uid in uids if uid in fetched]

    def mark_seen(self, uids: list[int]) -> None:
        if not uids:
            return
        try:
            self.client.add_flags(uids, [b"\\Seen"])
        except self._errors as exc:
            raise RetryableError(f"{self.where}: {type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        try:
            self.client.logout()
        except Exception:  # noqa: BLE001 - leaving anyway
            with contextlib.suppress(Exception):
                self.client.shutdown()

    def __enter__(self) -> Mailbox:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

