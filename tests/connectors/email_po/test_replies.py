"""What a supplier's reply says, read by the email_po mapping: replies shaped as common mail programs write
them (a reply quoting the PO, a reply with a CSV attached, tracking in the text, an out-of-office)."""

from __future__ import annotations

from email.message import EmailMessage

from dropbridge.connectors.suppliers.email_po.mapping import facts_from_email, message_id
from dropbridge.services.ports import OrderAcknowledged, ShipmentReported, SupplierOrderItem, Unrecognised

PO_ID = message_id("db-7-2-1", "po@shop.example")


def _reply(body: str, *, subject: str = "Re: Purchase order db-7-2-1 from Shop", in_reply_to: str | None = PO_ID,
           attachments=(), **headers) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Wholesale <orders@wholesale.example>"
    msg["To"] = "po@shop.example"
    msg["Subject"] = subject
    msg["Date"] = "Mon, 07 Dec 2026 10:00:00 +0000"
    msg["Message-ID"] = "<r1@wholesale.example>"
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    for k, v in headers.items():
        msg[k.replace("_", "-")] = v
    msg.set_content(body)
    for name, data in attachments:
        msg.add_attachment(data, maintype="text", subtype="csv", filename=name)
    return bytes(msg)


def test_a_confirmation_acknowledges_the_po_with_the_suppliers_order_number():
    raw = _reply("Hi,\n\nWe confirm your order. Order number: 55123\n\nOn Mon, Shop wrote:\n> Purchase order "
                 "db-7-2-1\n> Tracking: <carrier> <tracking number>\n")
    assert facts_from_email(raw) == [OrderAcknowledged(reference="db-7-2-1", external_id="55123")]


def test_a_tracking_csv_attached_reports_each_parcel_with_its_lines():
    sheet = (b"PO Number,Carrier,Tracking Number,SKU,Qty\r\n"
             b"db-7-2-1,UPS,1Z999AA10123456784,TEE,2\r\n"
             b"db-7-2-1,UPS,1Z999AA10123456784,MUG,1\r\n"
             b",USPS,9400111899223197428490,CAP,1\r\n")
    facts = facts_from_email(_reply("Shipped, see attached.", attachments=[("tracking.csv", sheet)]))
    assert [(f.update.reference, f.update.carrier, f.update.tracking_number, f.update.items) for f in facts] == [
        ("db-7-2-1", "UPS", "1Z999AA10123456784", [SupplierOrderItem("TEE", 2), SupplierOrderItem("MUG", 1)]),
        ("db-7-2-1", "USPS", "9400111899223197428490", [SupplierOrderItem("CAP", 1)]),  # the reply's PO
    ]


def test_bad_rows_of_an_attached_csv_are_reported_and_the_good_ones_kept():
    sheet = b"po_number,carrier,tracking_number\ndb-7-2-1,DHL,JD014600006281230704\ndb-7-2-1,,123\n"
    facts = facts_from_email(_reply("Tracking attached", attachments=[("t.csv", sheet)]))
    assert isinstance(facts[0], Unrecognised) and "line 3: carrier: missing" in facts[0].reason
    assert [f.update.tracking_number for f in facts if isinstance(f, ShipmentReported)] == ["JD014600006281230704"]


def test_tracking_numbers_in_the_text_with_their_carrier_and_quoted_text_ignored():
    raw = _reply("Your order shipped today.\nTracking number: RR123456785CN\nUPS tracking 1Z999AA10123456784\n\n"
                 "> Tracking: UPS 1Z12345E0205271688\n", in_reply_to=None)
    facts = facts_from_email(raw)
    assert [(f.update.reference, f.update.carrier, f.update.tracking_number) for f in facts] == [
        ("db-7-2-1", "China Post", "RR123456785CN"), ("db-7-2-1", "UPS", "1Z999AA10123456784")]


def test_what_is_not_understood_is_kept_for_a_person():
    refusal = facts_from_email(_reply("Sorry, item TEE is out of stock and we cannot ship this order."))
    assert isinstance(refusal[0], Unrecognised) and "refuse or question" in refusal[0].reason
    away = facts_from_email(_reply("I am away until Monday.", subject="Automatic reply: Purchase order db-7-2-1",
                                   Auto_Submitted="auto-replied"))
    assert isinstance(away[0], Unrecognised) and "automatic reply" in away[0].reason
    stray = facts_from_email(_reply("We confirm.", subject="Hello", in_reply_to=None))
    assert isinstance(stray[0], Unrecognised) and "names no purchase order" in stray[0].reason
    vague = facts_from_email(_reply("Noted."))
    assert isinstance(vague[0], Unrecognised) and "nothing dropbridge understands" in vague[0].reason


def test_a_copy_of_our_own_po_in_the_mailbox_says_nothing():
    msg = EmailMessage()
    msg["From"] = "Shop <po@shop.example>"
    msg["Message-ID"] = PO_ID
    msg["Subject"] = "Purchase order db-7-2-1 from Shop"
    msg.set_content("Purchase order db-7-2-1 ... Tracking: <carrier> <tracking number>")
    assert facts_from_email(bytes(msg), from_email="po@shop.example") == []
