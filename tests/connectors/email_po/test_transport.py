"""The email_po connector over real SMTP and IMAP (the mail emulator on localhost): one message per PO with
its attachments and our Message-ID; each SMTP failure classified by when it happened (nothing handed over:
NotSent, safe to send again; handed over and no answer: RetryableError, outcome unknown); the mailbox
read from where it was left, and from the start when its UIDVALIDITY changes."""

from __future__ import annotations

import email
import email.policy

import pytest

from dropbridge.connectors.registry import Registry
from dropbridge.domain.errors import AuthExpired, NotSent, PermanentError, RateLimited, RetryableError
from dropbridge.domain.money import Money
from dropbridge.sandbox.mail import MailEmulator, ups_number
from dropbridge.services.ports import (
    Address,
    Branding,
    Placement,
    SupplierOrderItem,
    SupplierOrderLineRequest,
    SupplierOrderRequest,
)

REQUEST = SupplierOrderRequest(
    reference="db-3-1-1", ship_to=Address(name="Jane Doe", address1="1 Main St", city="Springfield",
                                          country_code="US"),
    items=[SupplierOrderItem("TEE", 2)], lines=(SupplierOrderLineRequest("TEE", 2, Money(850, "USD"), title="Tee"),),
    branding=Branding(store_name="Acme Tees", message="Thanks!", customer_order_number="#1001"), currency="USD")


@pytest.fixture
def mail():
    emu = MailEmulator(confirm_after=None, ship_after=None)
    emu.start()
    yield emu
    emu.stop()


def _connector(conn, **changes):
    registry = Registry.default()
    credentials = {**conn["credentials"], **changes.pop("credentials", {})}
    config = {**registry.validate("supplier", "email_po", "", credentials, conn["config"]), **changes, "timeout": 2}
    return registry.build("supplier", "email_po", "", credentials, config)


def test_one_message_per_po_with_the_po_as_csv_and_pdf_and_the_packing_slip(mail):
    placed = _connector(mail.connection()).place_order(REQUEST)
    assert placed.placement == Placement.AWAITING_ACK and placed.external_id == ""
    (received,) = mail.messages()
    assert received.rcpt_tos == ["orders@supplier.example"] and received.mail_from == "purchasing@shop.example"
    msg = email.message_from_bytes(received.raw, policy=email.policy.default)
    assert msg["Message-ID"] == "<po.db-3-1-1@shop.example>" and "db-3-1-1" in msg["Subject"]
    parts = {p.get_filename(): p for p in msg.iter_attachments()}
    assert sorted(parts) == ["PO-db-3-1-1.csv", "PO-db-3-1-1.pdf", "packing-slip-db-3-1-1.pdf"]
    assert "db-3-1-1,#1001,1,TEE,Tee,2,8.50,USD,Jane Doe" in parts["PO-db-3-1-1.csv"].get_content()
    assert parts["PO-db-3-1-1.pdf"].get_content().startswith(b"%PDF")
    assert "2 x TEE - Tee @ 8.50 USD" in msg.get_body(("plain",)).get_content()


@pytest.mark.parametrize(("mode", "error", "stored"), [
    ("error_500", NotSent, 0),  # 451 at the end of data: not taken
    ("rate_limit", RateLimited, 0),  # 450 4.7.1 at MAIL FROM
    ("token_expired", AuthExpired, 0),  # 530 at MAIL FROM
    ("reject", PermanentError, 0),  # 554 at the end of data
    ("drop_after_data", RetryableError, 1),  # taken, then no answer: the unknown outcome
    ("hang_after_accept", RetryableError, 1),
])
def test_smtp_failures_say_whether_the_po_may_have_been_delivered(mail, mode, error, stored):
    mail.faults.inject(mode, seconds=5, retry_after=7)
    with pytest.raises(error) as info:
        _connector(mail.connection()).place_order(REQUEST)
    assert len(mail.messages()) == stored
    if stored:
        assert not isinstance(info.value, NotSent)  # it may have arrived: never sent again on our own
    if mode == "rate_limit":
        assert info.value.retry_after == 7


def test_refused_connections_and_wrong_passwords_deliver_nothing(mail):
    conn = mail.connection()
    with pytest.raises(AuthExpired):
        _connector(conn, credentials={"smtp_password": "wrong"}).place_order(REQUEST)
    closed = {**conn, "config": {**conn["config"], "smtp": {**conn["config"]["smtp"], "port": mail.imap_port}}}
    with pytest.raises(NotSent):  # an IMAP server answers there, not SMTP: refused before any data
        _connector(closed).place_order(REQUEST)
    assert mail.messages() == []


def test_the_mailbox_is_read_from_where_it_was_left_and_again_when_its_uidvalidity_changes(mail):
    connector = _connector(mail.connection())
    connector.place_order(REQUEST)
    mail.supplier.confirm("db-3-1-1")
    first = connector.collect(None, 10)
    assert len(first.documents) == 1 and first.documents[0].event_id.startswith("<reply.1.db-3-1-1@")
    connector.collected(first.documents)
    assert mail.mailbox()[0]["flags"] == ["\\Seen"]
    assert connector.collect(first.cursor, 10).documents == []
    mail.supplier.ship("db-3-1-1")
    second = connector.collect(first.cursor, 10)
    assert [d.handle for d in second.documents] == ["2"]
    mail.store.reset_uidvalidity()
    again = connector.collect(second.cursor, 10)
    assert [d.handle for d in again.documents] == ["1", "2"]  # the inbox's Message-ID key keeps them single


def test_a_wrong_mailbox_password_is_an_authentication_error(mail):
    with pytest.raises(AuthExpired):
        _connector(mail.connection(), credentials={"imap_password": "nope"}).collect(None, 10)


def test_the_emulated_supplier_uses_valid_ups_numbers():
    number = ups_number("482910", 21)
    body = number[2:17]
    total = sum(int(ch) * (2 if i % 2 else 1) for i, ch in enumerate(body))
    assert len(number) == 18 and int(number[-1]) == (10 - total % 10) % 10
