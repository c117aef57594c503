"""The `email_po` supplier kind against the mail emulator (dropbridge.sandbox.mail): real SMTP and IMAP on
localhost. An emailed order cannot be looked up, so the suites check that it is never resent on our own."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator

from dropbridge.sandbox.mail import MailEmulator
from dropbridge.services.sync_feed import sync_feed


class EmailPoHarness:
    kind = "email_po"
    can_look_up = False
    fault_trials = 30
    fault_modes = ("none", "hang_after_accept", "timeout_before_accept", "error_500", "rate_limit", "reject",
                   "token_expired", "drop_after_data")

    def __init__(self, emulator: MailEmulator):
        self.emulator = emulator

    def connection(self) -> dict:
        return self.emulator.connection()

    def offer(self, app, supplier_name: str, sku: str, stock: int, cost: str) -> None:
        feed = f"sku,qty,cost\n{sku},{stock},{cost}\n".encode()  # its stock comes by feed file
        sync_feed(app.ctx, supplier_name, io.BytesIO(feed), f"{supplier_name}.csv", mode="delta")

    def inject(self, mode: str, count: int = 1, *, seconds: float = 30.0, retry_after: float = 1.0) -> None:
        self.emulator.faults.inject(mode, count, seconds=seconds, retry_after=retry_after)

    def orders(self) -> list[dict[str, str]]:
        return [{"reference": po["reference"], "external_id": ""} for po in self.emulator.purchase_orders()]

    def ship(self, reference: str) -> None:
        self.emulator.supplier.ship(reference)  # a reply with a tracking CSV lands in the mailbox


@contextlib.contextmanager
def open_harness(webhook_url: str | None = None) -> Iterator[EmailPoHarness]:
    emulator = MailEmulator(confirm_after=None, ship_after=None)
    emulator.start()
    try:
        yield EmailPoHarness(emulator)
    finally:
        emulator.stop()
