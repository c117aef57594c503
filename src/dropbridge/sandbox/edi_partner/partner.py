"""Emulator of an EDI X12 004010 dropship trading partner behind an SFTP server (suppliers.md section 5).

Folders on its server (paths as a client sees them):
- `/outbound`: the retailer (dropbridge) puts 850s and 997s here; the partner collects each file and moves
  it to `/outbound/archive` (so a retailer can tell a collected file from one never sent);
- `/inbound`: the partner puts its 997, 855, 856, 810 (and 846) here, each uploaded under a temporary
  hidden name and renamed; the retailer collects them and moves them to `/inbound/archive`.

What it does with what it collects (every `poll_seconds`):
- every functional group except a 997 gets a 997 (5.7): AK5/AK9 `A`, or `R` with AK3/AK4 when the
  interchange breaks the envelope rules;
- each accepted 850 (5.3) is an order, known by its PO number (BEG03); an 855 (5.4) answers it with BAK02
  `AC` and per line ACK01 `IA` accepted, `IR` rejected (a SKU in `reject_skus`, or not enough in `stock`
  when a stock table is set) or `IB` backordered (a SKU in `backorder_skus`); all lines rejected: `RD`;
- `ship(reference)` (or `ship_after_seconds` after acceptance) sends an 856 (5.5, BSN05 0001: shipment,
  order, pack, item; SCAC UPSN; REF*CN and MAN*CP carry a valid UPS 1Z number) and an 810 (5.6: IT1 per
  shipped line, TDS01 in hundredths, SAC G830 shipping when `shipping` is set);
- 997s the retailer sends are recorded (`received_acks()`), never answered.
Unverified points of section 8 (qualifier choices) are settings: partner and retailer ids, `scac`.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import secrets
import shutil
import tempfile
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from dropbridge.connectors.formats.x12.ack import ack_997
from dropbridge.connectors.formats.x12.x12 import X12Error, X12Writer, parse_interchange
from dropbridge.domain.tracking import make_ups_number
from dropbridge.sandbox.kit import Emulator

from .server import SftpServer

FAULT_MODES = ("none", "hang_after_accept", "hang_during_upload", "timeout_before_accept", "error_500",
               "rate_limit")
OUTBOUND, OUTBOUND_ARCHIVE, INBOUND, INBOUND_ARCHIVE = "outbound", "outbound/archive", "inbound", "inbound/archive"


def _now() -> datetime:
    return datetime.now(UTC)


def _is_temp(name: str) -> bool:
    return name.startswith(".")


class EdiPartnerEmulator(Emulator):
    name = "edi-partner"
    fault_modes = FAULT_MODES

    def __init__(self, *, partner_id: str = "ACMEEDI", retailer_id: str = "DROPBRIDGE",
                 username: str = "dropbridge", password: str | None = None, ship_after_seconds: float | None = 2.0,
                 reject_skus: tuple[str, ...] = (), backorder_skus: tuple[str, ...] = (),
                 stock: dict[str, int] | None = None, shipping: str | None = "4.80", poll_seconds: float = 0.2,
                 scac: str = "UPSN", root: str | Path | None = None, name: str = "edi-partner"):
        self.name = name
        super().__init__()
        self.partner_id, self.retailer_id = partner_id, retailer_id
        self.username, self.password = username, password or secrets.token_hex(12)
        self.ship_after_seconds = ship_after_seconds
        self.reject_skus, self.backorder_skus = set(reject_skus), set(backorder_skus)
        self._stock = dict(stock) if stock is not None else None
        self.shipping = Decimal(shipping) if shipping else None
        self.scac = scac
        self._own_root = root is None
        self.root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="edi-partner-"))
        for folder in (OUTBOUND, OUTBOUND_ARCHIVE, INBOUND, INBOUND_ARCHIVE):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        self.server = SftpServer(self.root, self.username, self.password, self.faults, self.stopping,
                                 self._is_order_upload)
        self._orders: dict[str, dict[str, Any]] = {}
        self._acks: list[dict[str, Any]] = []
        self._unreadable: list[dict[str, str]] = []
        self._controls = itertools.count(1000)
        self._shipper = hashlib.sha1(name.encode()).hexdigest()[:6].upper()
        self._tracking = itertools.count(1)
        self.every(poll_seconds, self._poll)

    # ---- lifecycle ---------------------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0):  # type: ignore[override]
        if self._threads:
            return self
        self.stopping.clear()
        self.server.start(host, port)
        self._threads = [threading.Thread(target=self._loop, args=(s, fn), daemon=True, name=f"{self.name}-poll")
                         for s, fn in self._loops]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        for thread in self._threads:
            thread.join(5)
        self._threads = []
        self.server.stop()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    @property
    def url(self) -> str:
        if not self.server.port:
            raise RuntimeError(f"{self.name} emulator not started")
        return f"sftp://127.0.0.1:{self.server.port}"

    def connection(self) -> dict[str, Any]:
        return {"name": self.name, "base_url": self.url,
                "credentials": {"username": self.username, "password": self.password},
                "config": {"sender_id": self.retailer_id, "receiver_id": self.partner_id,
                           "host_key": self.server.public_host_key, "outbox": f"/{OUTBOUND}",
                           "outbox_archive": f"/{OUTBOUND_ARCHIVE}", "inbox": f"/{INBOUND}",
                           "inbox_archive": f"/{INBOUND_ARCHIVE}", "usage": "test", "receipt_hours": 24}}

    # ---- what tests and people see ------------------------------------------------------------------------

    def inject(self, mode: str, count: int = 1, seconds: float = 30.0, retry_after: float = 1.0) -> None:
        """Queue faults for the next purchase-order uploads (see server.py)."""
        self.faults.inject(mode, count, seconds=seconds, retry_after=retry_after)

    def orders(self) -> list[dict[str, Any]]:
        """Every order collected: {"reference", "file", "lines", "status", "ship_to", "consumer_order"}."""
        with self.lock:
            return [dict(o, lines=[dict(ln) for ln in o["lines"]]) for o in self._orders.values()]

    def purchase_order_files(self) -> list[str]:
        """Every 850 on the server under its final name, collected or not."""
        names = [n for folder in (OUTBOUND, OUTBOUND_ARCHIVE) for n in os.listdir(self.root / folder)
                 if n.startswith("850_") and (self.root / folder / n).is_file()]
        return sorted(names)

    def purchase_orders(self) -> list[dict[str, str]]:
        """Every 850 document on the server under a final name (collected or not, duplicates included), with
        the PO number it carries: [{"file", "reference"}]. What "the orders the partner holds" means on disk."""
        out = []
        for folder in (OUTBOUND, OUTBOUND_ARCHIVE):
            for name in sorted(os.listdir(self.root / folder)):
                path = self.root / folder / name
                if _is_temp(name) or not path.is_file():
                    continue
                try:
                    interchange = parse_interchange(path.read_bytes(), strict=False)
                except X12Error:
                    continue
                for _group, txn in interchange.transactions:
                    if txn.set_id == "850":
                        beg = next((seg for seg in txn.body if seg.tag == "BEG"), None)
                        out.append({"file": f"/{folder}/{name}", "reference": beg.get(3) if beg else ""})
        return out

    def partial_uploads(self) -> list[str]:
        return sorted(n for n in os.listdir(self.root / OUTBOUND) if _is_temp(n))

    def received_acks(self) -> list[dict[str, Any]]:
        """997s the retailer sent: {"file", "functional_id", "group", "status", "sets": [(set, ctl, status)]}."""
        with self.lock:
            return [dict(a) for a in self._acks]

    def unreadable(self) -> list[dict[str, str]]:
        with self.lock:
            return list(self._unreadable)

    def sent(self, prefix: str = "") -> list[str]:
        """Files the partner put in /inbound (still waiting or archived by the retailer)."""
        names = [n for folder in (INBOUND, INBOUND_ARCHIVE) for n in os.listdir(self.root / folder)
                 if (self.root / folder / n).is_file() and not _is_temp(n)]
        return sorted(n for n in names if n.startswith(prefix))

    def waiting(self) -> list[str]:
        """Files in /inbound the retailer has not collected yet."""
        return sorted(n for n in os.listdir(self.root / INBOUND)
                      if (self.root / INBOUND / n).is_file() and not _is_temp(n))

    def drop(self, name: str, content: bytes | str) -> None:
        """Put any file in /inbound (a malformed one, an 846), as the partner's translator would."""
        self._put(name, content.encode() if isinstance(content, str) else content)

    def send_inventory(self, items: dict[str, tuple[int, str]]) -> str:
        """Put an 846 (5.2) in /inbound: per SKU QTY*33 available and CTP*UCP the unit cost; returns its name."""
        now = _now()
        segs: list[list[Any]] = [["ST", "846"], ["BIA", "00", "DD", f"INV{now:%Y%m%d%H%M%S}", f"{now:%Y%m%d}",
                                                 f"{now:%H%M}"], ["N1", "SU", "Acme Supply", "92", self.partner_id]]
        for n, (sku, (qty, cost)) in enumerate(items.items(), start=1):
            segs += [["LIN", n, "VN", sku], ["CTP", None, "UCP", cost], ["QTY", "33", qty, "EA"]]
        segs.append(["CTT", len(items)])
        text = self._writer().write_interchange([("IB", "004010", [segs])], now)
        name = f"846_{now:%Y%m%d%H%M%S%f}.edi"
        self._put(name, text.encode())
        return name

    def read_sent(self, name: str) -> str:
        for folder in (INBOUND, INBOUND_ARCHIVE):
            path = self.root / folder / name
            if path.is_file():
                return path.read_text()
        raise KeyError(name)

    # ---- the partner's side -------------------------------------------------------------------------------

    def _is_order_upload(self, path: str) -> bool:
        name = path.rsplit("/", 1)[-1]
        return _is_temp(name) and name[1:].startswith("850_")

    def _writer(self) -> X12Writer:
        return X12Writer("ZZ", self.partner_id, "ZZ", self.retailer_id,
                         control_numbers=lambda kind: next(self._controls), usage="T")

    def _put(self, name: str, data: bytes) -> None:
        """Upload into /inbound the way a careful translator does: a hidden temporary name, then a rename."""
        temp = self.root / INBOUND / f".{name}.{secrets.token_hex(4)}.part"
        temp.write_bytes(data)
        final = self.root / INBOUND / name
        try:
            os.link(temp, final)
        finally:
            temp.unlink(missing_ok=True)

    def _poll(self) -> None:
        try:
            names = sorted(n for n in os.listdir(self.root / OUTBOUND)
                           if (self.root / OUTBOUND / n).is_file() and not _is_temp(n))
            for name in names:
                path = self.root / OUTBOUND / name
                data = path.read_bytes()
                archived = self.root / OUTBOUND_ARCHIVE / name
                for n in itertools.count(1):
                    try:
                        os.link(path, archived)
                        break
                    except FileExistsError:
                        archived = self.root / OUTBOUND_ARCHIVE / f"{name}.{n}"
                path.unlink()
                self._handle(name, data)
            self._ship_due()
        except Exception as exc:  # noqa: BLE001 - an emulator loop must outlive a bad file
            with self.lock:
                self._unreadable.append({"file": "?", "error": f"{type(exc).__name__}: {exc}"})

    def _handle(self, name: str, data: bytes) -> None:
        try:
            interchange = parse_interchange(data, strict=False)
        except X12Error as exc:
            with self.lock:
                self._unreadable.append({"file": name, "error": str(exc)})
            return
        acked_groups = [g for g in interchange.groups if g.functional_id != "FA"]
        for group in interchange.groups:
            if group.functional_id == "FA":
                for txn in group.transactions:
                    self._record_ack(name, txn)
        if not acked_groups:
            return
        accepted = not interchange.errors
        ack = ack_997(interchange, accepted, [], self._writer(), _now())
        self._put(f"997_{interchange.control_number}.edi", ack.encode())
        if not accepted:
            return
        for group, txn in interchange.transactions:
            if group.functional_id == "PO" and txn.set_id == "850":
                self._take_order(name, txn)

    def _record_ack(self, name: str, txn) -> None:
        entry: dict[str, Any] = {"file": name, "functional_id": None, "group": None, "status": None, "sets": []}
        for seg in txn.body:
            if seg.tag == "AK1":
                entry["functional_id"], entry["group"] = seg.get(1), seg.get(2)
            elif seg.tag == "AK2":
                entry["sets"].append([seg.get(1), seg.get(2), None])
            elif seg.tag == "AK5" and entry["sets"]:
                entry["sets"][-1][2] = seg.get(1)
            elif seg.tag == "AK9":
                entry["status"] = seg.get(1)
        entry["sets"] = [tuple(s) for s in entry["sets"]]
        with self.lock:
            self._acks.append(entry)

    def _take_order(self, name: str, txn) -> None:
        po, lines, ship_to, consumer = None, [], {}, None
        for seg in txn.body:
            if seg.tag == "BEG":
                po = seg.get(3)
            elif seg.tag == "REF" and seg.get(1) == "CO":
                consumer = seg.get(2)
            elif seg.tag == "N1" and seg.get(1) == "ST":
                ship_to["name"] = seg.get(2)
            elif seg.tag == "N3":
                ship_to["address1"] = seg.get(1)
            elif seg.tag == "N4":
                ship_to.update(city=seg.get(1), state=seg.get(2), postal=seg.get(3), country=seg.get(4))
            elif seg.tag == "PO1":
                ids = {seg.get(n): seg.get(n + 1) for n in range(6, len(seg.elements), 2)}
                lines.append({"line_no": seg.get(1), "qty": int(Decimal(seg.get(2))), "price": seg.get(4),
                              "sku": ids.get("VN", ""), "status": "IA"})
        if not po:
            return
        with self.lock:
            if po in self._orders:  # a second 850 for one PO number: a duplicate order; recorded, not re-acked
                self._orders[po]["duplicates"] += 1
                return
            for line in lines:
                if line["sku"] in self.reject_skus:
                    line["status"] = "IR"
                elif line["sku"] in self.backorder_skus:
                    line["status"] = "IB"
                elif self._stock is not None:
                    have = self._stock.get(line["sku"], 0)
                    if have < line["qty"]:
                        line["status"] = "IR"
                    else:
                        self._stock[line["sku"]] = have - line["qty"]
            order = {"reference": po, "file": name, "lines": lines, "ship_to": ship_to, "consumer_order": consumer,
                     "status": "acknowledged", "accepted_at": time.monotonic(), "duplicates": 0}
            if all(ln["status"] == "IR" for ln in lines):
                order["status"] = "rejected"
            self._orders[po] = order
        self._send_855(order)

    def _send_855(self, order: dict[str, Any]) -> None:
        today = _now().strftime("%Y%m%d")
        bak02 = "RD" if order["status"] == "rejected" else "AC"
        segs: list[list[Any]] = [["ST", "855"], ["BAK", "00", bak02, order["reference"], today]]
        for line in order["lines"]:
            segs.append(["PO1", line["line_no"], line["qty"], "EA", line["price"], None, "VN", line["sku"]])
            segs.append(["ACK", line["status"], line["qty"], "EA", "068", today])
        segs.append(["CTT", len(order["lines"]), sum(ln["qty"] for ln in order["lines"])])
        text = self._writer().write_interchange([("PR", "004010", [segs])], _now())
        self._put(f"855_{order['reference']}.edi", text.encode())

    def _ship_due(self) -> None:
        if self.ship_after_seconds is None:
            return
        now = time.monotonic()
        with self.lock:
            due = [o["reference"] for o in self._orders.values()
                   if o["status"] == "acknowledged" and now - o["accepted_at"] >= self.ship_after_seconds]
        for reference in due:
            self.ship(reference)

    def ship(self, reference: str, tracking_number: str | None = None) -> dict[str, Any]:
        """Ship the accepted lines of an order now: an 856 and an 810 go to /inbound. Returns the order."""
        with self.lock:
            order = self._orders[reference]
            if order["status"] == "shipped":
                return dict(order)
            if order["status"] != "acknowledged":
                raise ValueError(f"{reference} is {order['status']}")
            shipped = [ln for ln in order["lines"] if ln["status"] == "IA"]
            number = tracking_number or make_ups_number(self._shipper, "03", next(self._tracking))
            order.update(status="shipped", tracking_number=number)
        now = _now()
        day, clock = now.strftime("%Y%m%d"), now.strftime("%H%M")
        shipment_id = f"SHP{reference}"[:30]
        segs: list[list[Any]] = [
            ["ST", "856"], ["BSN", "00", shipment_id, day, clock, "0001"], ["DTM", "011", day],
            ["HL", 1, None, "S"], ["TD5", None, "2", self.scac, "U", "UPS Ground"], ["REF", "CN", number],
            ["HL", 2, 1, "O"], ["PRF", reference]]
        if order.get("consumer_order"):
            segs.append(["REF", "CO", order["consumer_order"]])
        segs += [["HL", 3, 2, "P"], ["MAN", "CP", number]]
        for n, line in enumerate(shipped, start=4):
            segs += [["HL", n, 3, "I"], ["LIN", line["line_no"], "VN", line["sku"]], ["SN1", None, line["qty"], "EA"]]
        segs.append(["CTT", 3 + len(shipped)])
        text = self._writer().write_interchange([("SH", "004010", [segs])], now)
        self._put(f"856_{reference}.edi", text.encode())

        total = sum((Decimal(ln["price"]) * ln["qty"] for ln in shipped), Decimal(0))
        inv: list[list[Any]] = [["ST", "810"], ["BIG", day, f"INV-{reference}"[:22], day, reference],
                                ["REF", "CN", number], ["N1", "RI", "Acme Supply", "92", self.partner_id],
                                ["ITD", "01", "3", None, None, None, None, "30"], ["DTM", "011", day]]
        for line in shipped:
            inv.append(["IT1", line["line_no"], line["qty"], "EA", line["price"], None, "VN", line["sku"]])
        if self.shipping is not None:
            total += self.shipping
        inv.append(["TDS", int(total * 100)])
        if self.shipping is not None:
            inv.append(["SAC", "C", "G830", None, None, int(self.shipping * 100)])
        inv.append(["CTT", len(shipped)])
        text = self._writer().write_interchange([("IN", "004010", [inv])], now)
        self._put(f"810_{reference}.edi", text.encode())
        with self.lock:
            return dict(self._orders[reference])

    def __del__(self):  # a forgotten emulator should not leave its folder behind
        if getattr(self, "_own_root", False) and not self._threads:
            with contextlib.suppress(Exception):
                shutil.rmtree(self.root, ignore_errors=True)
