"""`MailEmulator`: SMTP (aiosmtpd) and IMAP (imap.py) on 127.0.0.1, with a supplier that answers purchase
orders by email (supplier.py), for `dropbridge sandbox run mail`, the tests and the demo.

- SMTP takes mail for anyone after AUTH (PLAIN or LOGIN, without TLS: localhost only) with the emulator's
  SMTP credentials; faults are injected on it (smtp.py lists them).
- IMAP serves one mailbox, the buyer's (`buyer_address`: dropbridge's `from_email`), with its own login;
  the supplier's replies are filed there.
- HTTP control on `url` (no auth): `POST /_control/faults {"mode", "count", "seconds", "retry_after"}`,
  `GET /_control/messages` (what reached SMTP), `GET /_control/mailbox` (the IMAP folder),
  `POST /_control/reply {"reference", "kind": "confirm"|"ship"|"text", "text"}`, `POST /_control/reset`.
  Errors: `{"error": {"code", "message"}}`, unknown routes too.

`connection()` is what `dropbridge supplier add NAME --kind email_po` takes."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import logging
import secrets
import socket
import threading
import time
from typing import Any

from aiosmtpd.smtp import SMTP
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from dropbridge.sandbox.kit import Emulator
from dropbridge.sandbox.kit.controls import add_fault_controls
from dropbridge.sandbox.kit.errors import install_error_envelope

from .imap import serve_session
from .smtp import FAULT_MODES, Received, SmtpHandler
from .store import MailStore
from .supplier import Supplier


class _QuietLegacyNote(logging.Filter):
    """aiosmtpd logs a deprecation note on every successful AUTH (its own backward compatibility)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "login_data is deprecated" not in record.getMessage()



def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status)


def _bound_socket(host: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    sock.listen(64)
    sock.setblocking(False)
    return sock


class MailEmulator(Emulator):
    name = "mail"
    fault_modes = FAULT_MODES

    def __init__(self, *, supplier_address: str = "orders@supplier.example",
                 buyer_address: str = "purchasing@shop.example",
                 smtp_username: str | None = "dropbridge", smtp_password: str | None = None,
                 imap_username: str | None = None, imap_password: str | None = None,
                 confirm_after: float | None = 1.0, ship_after: float | None = 3.0, carrier: str = "UPS",
                 tracking_in_body: bool = False, name: str = "mail", currency: str = "USD"):
        self.name = name
        super().__init__()
        aiosmtpd_log = logging.getLogger("mail.log")
        if not any(isinstance(f, _QuietLegacyNote) for f in aiosmtpd_log.filters):
            aiosmtpd_log.addFilter(_QuietLegacyNote())
        self.supplier_address = supplier_address
        self.buyer_address = buyer_address
        self.smtp_username = smtp_username
        self.smtp_password = smtp_password if smtp_password is not None else secrets.token_hex(8)
        self.imap_username = imap_username or buyer_address
        self.imap_password = imap_password or secrets.token_hex(8)
        self.currency = currency
        self.store = MailStore()
        self.supplier = Supplier(self.store, supplier_address, confirm_after=confirm_after, ship_after=ship_after,
                                 carrier=carrier, tracking_in_body=tracking_in_body)
        self.smtp = SmtpHandler(self.faults, self.stopping, self._received, smtp_username,
                                self.smtp_password if smtp_username else None)
        self.smtp_port = self.imap_port = 0
        self._mail_loop: asyncio.AbstractEventLoop | None = None
        self._mail_thread: threading.Thread | None = None
        self._servers: list[asyncio.AbstractServer] = []
        self.app = self._build_app()
        self.every(0.05, lambda: self.supplier.due(time.monotonic()))

    # ---- what tests and the demo ask ---------------------------------------------------------------------

    def messages(self) -> list[Received]:
        """Every message the SMTP server took, in order."""
        return self.smtp.messages()

    def purchase_orders(self) -> list[dict[str, Any]]:
        """The POs the SMTP server took: reference, subject, attachment names, recipients."""
        out = []
        for m in self.messages():
            msg = email.message_from_bytes(m.raw, policy=email.policy.default)
            out.append({"reference": str(msg.get("X-Dropbridge-Reference", "")),
                        "message_id": str(msg.get("Message-ID", "")), "subject": str(msg.get("Subject", "")),
                        "to": m.rcpt_tos, "from": m.mail_from,
                        "attachments": [p.get_filename() for p in msg.iter_attachments()],
                        "received_at": m.received_at.isoformat()})
        return out

    def mailbox(self) -> list[dict[str, Any]]:
        out = []
        for m in self.store.messages("INBOX"):
            msg = email.message_from_bytes(m.raw, policy=email.policy.default)
            out.append({"uid": m.uid, "subject": str(msg.get("Subject", "")), "flags": sorted(m.flags),
                        "in_reply_to": str(msg.get("In-Reply-To", ""))})
        return out

    def deliver(self, raw: bytes) -> int:
        """File any message in the buyer's mailbox (as if it arrived from outside); returns its UID."""
        return self.store.append("INBOX", raw)

    def reset(self) -> None:
        self.faults.clear()
        self.smtp.reset()
        self.supplier.reset()

    def _received(self, message: Received) -> None:
        self.supplier.receive(message.raw, message.rcpt_tos, time.monotonic())

    # ---- lifecycle -------------------------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0):
        if self._mail_loop is not None:
            return super().start(host, port)
        loop = asyncio.new_event_loop()
        self._mail_loop = loop
        self._mail_thread = threading.Thread(target=loop.run_forever, name=f"{self.name}-mail", daemon=True)
        self._mail_thread.start()
        asyncio.run_coroutine_threadsafe(self._open(host), loop).result(10)
        return super().start(host, port)

    async def _open(self, host: str) -> None:
        loop = asyncio.get_running_loop()
        smtp_sock, imap_sock = _bound_socket(host), _bound_socket(host)
        self.smtp_port, self.imap_port = smtp_sock.getsockname()[1], imap_sock.getsockname()[1]
        auth = {"authenticator": self.smtp.authenticate} if self.smtp_username else {}
        smtp = await loop.create_server(
            lambda: SMTP(self.smtp, hostname="mail.emulator", auth_require_tls=False, **auth), sock=smtp_sock)
        imap = await asyncio.start_server(lambda r, w: serve_session(self.store, self._imap_login, r, w),
                                          sock=imap_sock)
        self._servers = [smtp, imap]

    def _imap_login(self, user: str, password: str) -> bool:
        return secrets.compare_digest(user, self.imap_username) and secrets.compare_digest(password, self.imap_password)

    def stop(self) -> None:
        super().stop()  # sets `stopping` first: held answers end
        loop, self._mail_loop = self._mail_loop, None
        if loop is None:
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._close(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        if self._mail_thread is not None:
            self._mail_thread.join(5)
        loop.close()

    async def _close(self) -> None:
        for server in self._servers:
            server.close()
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._servers = []

    def connection(self) -> dict[str, Any]:
        credentials = {"imap_username": self.imap_username, "imap_password": self.imap_password}
        if self.smtp_username:
            credentials.update(smtp_username=self.smtp_username, smtp_password=self.smtp_password)
        return {"name": self.name, "base_url": "", "credentials": credentials,
                "config": {"currency": self.currency, "order_email": self.supplier_address,
                           "from_email": self.buyer_address,
                           "smtp": {"host": "127.0.0.1", "port": self.smtp_port, "security": "none"},
                           "imap": {"host": "127.0.0.1", "port": self.imap_port, "security": "none"}}}

    # ---- HTTP control ----------------------------------------------------------------------------------------

    def _build_app(self) -> FastAPI:
        app = FastAPI(title="mail emulator control", docs_url=None, redoc_url=None)
        install_error_envelope(app, lambda request, status, why: _error(status, "not_found" if status == 404
                                                                        else "invalid", why))
        add_fault_controls(app, self, lambda status, message: _error(status, "invalid", message))

        @app.get("/_control/messages")
        async def control_messages():
            return {"messages": self.purchase_orders()}

        @app.get("/_control/mailbox")
        async def control_mailbox():
            return {"messages": self.mailbox()}

        @app.post("/_control/reply")
        async def control_reply(request: Request):
            try:
                body = await request.json()
                reference, kind = str(body["reference"]), str(body.get("kind", "confirm"))
            except (ValueError, KeyError, TypeError):
                return _error(422, "invalid", "body: {\"reference\", \"kind\": confirm|ship|text, \"text\"}")
            if reference not in self.supplier.orders:
                return _error(404, "not_found", f"no purchase order {reference} reached {self.supplier_address}")
            if kind == "confirm":
                self.supplier.confirm(reference)
            elif kind == "ship":
                self.supplier.ship(reference)
            elif kind == "text":
                self.supplier.say(reference, str(body.get("text", "")))
            else:
                return _error(422, "invalid", f"kind {kind!r}: confirm, ship or text")
            return {"ok": True, "mailbox": self.mailbox()}

        @app.post("/_control/reset")
        async def control_reset():
            self.reset()
            return {"reset": True}

        return app
