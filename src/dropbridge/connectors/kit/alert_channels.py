"""How alerts leave: email over SMTP (STARTTLS or TLS, with authentication) and webhooks signed with
HMAC-SHA256 over the exact body (`X-Dropbridge-Signature: sha256=<hex>`). Failures are classified so the
outbox retries what may work later (server down, 4xx SMTP codes, HTTP 5xx) and stops on refusals."""

from __future__ import annotations

import hashlib
import hmac
import smtplib
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

from dropbridge.domain.errors import PermanentError, RetryableError
from dropbridge.services.alert_delivery import payload_bytes
from dropbridge.services.ports import AlertMessage

from .http import build_client

SIGNATURE_HEADER = "X-Dropbridge-Signature"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class SmtpEmail:
    def __init__(self, host: str, port: int, *, tls: str = "starttls", username: str | None = None,
                 password: str | None = None, sender: str, ca_file: str | None = None, timeout: float = 15.0):
        if tls not in ("starttls", "ssl", "none"):
            raise ValueError("DROPBRIDGE_SMTP_TLS is one of starttls, ssl, none")
        self.host, self.port, self.tls = host, port, tls
        self.username, self.password, self.sender = username, password, sender
        self.ca_file, self.timeout = ca_file, timeout

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)

    def send(self, to: str, message: AlertMessage) -> None:
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = self.sender, to, message.subject
        mail["Message-ID"] = message.message_id
        mail["Date"] = formatdate(time.time(), usegmt=True)
        mail.set_content(message.text)
        try:
            if self.tls == "ssl":
                client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self._context())
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with client:
                if self.tls == "starttls":
                    client.starttls(context=self._context())
                if self.username:
                    client.login(self.username, self.password or "")
                client.send_message(mail)
        except smtplib.SMTPAuthenticationError as exc:
            raise PermanentError(f"SMTP login refused: {exc.smtp_code}") from None
        except smtplib.SMTPResponseException as exc:
            cls = RetryableError if 400 <= exc.smtp_code < 500 else PermanentError
            raise cls(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentError(f"SMTP refused the recipient {to}") from exc
        except (OSError, smtplib.SMTPException) as exc:  # down, unreachable, TLS or protocol trouble
            raise RetryableError(f"SMTP {self.host}:{self.port}: {type(exc).__name__}: {exc}") from None


class SignedWebhook:
    def __init__(self, timeout: float = 10.0):
        self.timeout = timeout

    def post(self, url: str, secret: str | None, message: AlertMessage) -> None:
        body = payload_bytes(message)
        headers = {"Content-Type": "application/json", "X-Dropbridge-Delivery": message.message_id.strip("<>"),
                   "User-Agent": "dropbridge-alerts"}
        if secret:
            headers[SIGNATURE_HEADER] = sign(secret, body)
        try:
            with build_client(timeout=self.timeout) as client:
                response = client.post(url, content=body, headers=headers)
        except Exception as exc:  # connection refused, timeout, DNS: the receiver may be back later
            raise RetryableError(f"webhook {url}: {type(exc).__name__}: {exc}") from None
        if response.status_code >= 500 or response.status_code in (408, 425, 429):
            raise RetryableError(f"webhook {url} answered {response.status_code}", status=response.status_code)
        if response.status_code >= 400:
            raise PermanentError(f"webhook {url} refused with {response.status_code}", status=response.status_code)


@dataclass
class AlertChannels:
    email: SmtpEmail | None
    webhook: SignedWebhook


def build_alert_channels(settings) -> AlertChannels:
    email = None
    if settings.smtp_host:
        email = SmtpEmail(settings.smtp_host, settings.smtp_port, tls=settings.smtp_tls,
                          username=settings.smtp_username, password=settings.smtp_password,
                          sender=settings.smtp_from, ca_file=settings.smtp_ca_file,
                          timeout=settings.smtp_timeout_seconds)
    return AlertChannels(email=email, webhook=SignedWebhook(timeout=settings.http_timeout_seconds))
