"""The `edi_x12` supplier kind against its emulator (dropbridge.sandbox.edi_partner): a real SFTP server.

`can_look_up`: yes, as the connector truly can with this partner: the partner moves the files it collects to
`/outbound/archive`, so an 850 under its final name in the outbox or the archive landed, and one in neither
never did (a partner that deletes collected files is configured without `outbox_archive`, and then the
connector answers CANNOT_KNOW)."""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Iterator

from dropbridge.sandbox.edi_partner import EdiPartnerEmulator
from dropbridge.services.sync_feed import sync_feed


class EdiHarness:
    kind = "edi_x12"
    can_look_up = True
    fault_trials = 30

    def __init__(self, emulator: EdiPartnerEmulator):
        self.emulator = emulator

    def connection(self) -> dict:
        return self.emulator.connection()

    def offer(self, app, supplier_name: str, sku: str, stock: int, cost: str) -> None:
        feed = f"sku,qty,cost\n{sku},{stock},{cost}\n".encode()  # stock comes as files (CSV or 846)
        sync_feed(app.ctx, supplier_name, io.BytesIO(feed), f"{supplier_name}.csv", mode="delta")

    def inject(self, mode: str, count: int = 1, *, seconds: float = 30.0, retry_after: float = 1.0) -> None:
        self.emulator.inject(mode, count, seconds=seconds, retry_after=retry_after)

    def orders(self) -> list[dict[str, str]]:
        # The PO number is our reference and the id the partner knows the order by.
        return [{"reference": o["reference"], "external_id": o["reference"]} for o in self.emulator.purchase_orders()]

    def ship(self, reference: str) -> None:
        deadline = time.monotonic() + 10
        while not any(o["reference"] == reference for o in self.emulator.orders()):
            if time.monotonic() > deadline:
                raise AssertionError(f"the partner never collected the 850 for {reference}")
            time.sleep(0.05)
        self.emulator.ship(reference)


@contextlib.contextmanager
def open_harness(webhook_url: str | None = None) -> Iterator[EdiHarness]:
    emulator = EdiPartnerEmulator(ship_after_seconds=None)
    emulator.start()
    try:
        yield EdiHarness(emulator)
    finally:
        emulator.stop()
