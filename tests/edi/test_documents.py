from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from dropbridge.connectors.formats.x12.x12 import X12Error, X12Writer, parse_interchange
from dropbridge.connectors.suppliers.edi_x12.mapping import build_850, parse_810, parse_855, parse_856

from .conftest import SAMPLE_TIME, sample_text


def only_txn(text: str):
    [(_group, txn)] = list(parse_interchange(text).transactions)
    return txn


def write(segments, fid="SH", controls=1) -> str:
    w = X12Writer("ZZ", "ACME01", "ZZ", "RETAILER", control_numbers=lambda kind: controls)
    return w.write_interchange([(fid, "004010", [segments])], SAMPLE_TIME)


def test_build_850_reproduces_the_sample():
    segments = build_850(
        "PO123456",
        date(2024, 3, 15),
        ("Jane Doe", "19749 Dearborn St", "Apt 2", "Chatsworth", "CA", "91311", "US"),
        [(1, 2, Decimal("9.5"), "ACME-TS-BLK-M", "012345678905", "Tee Black M")],
        consumer_order="WEB-100045",
        requested_ship_date=date(2024, 3, 18),
        ship_service="UPSG",
        ship_to_phone="8185550100",
    )
    w = X12Writer("ZZ", "RETAILER", "ZZ", "ACME01", control_numbers=lambda kind: 102)
    assert w.write_interchange([("PO", "004010", [segments])], SAMPLE_TIME) == sample_text("850")


def test_build_850_minimal_with_two_lines():
    segments = build_850(
        "PO9",
        date(2024, 1, 2),
        ("Bo", "1 Main St", None, "Austin", "TX", "73301", "US"),
        [(1, 3, Decimal("10"), "SKU-A", None), (2, 1, Decimal("0.125"), "SKU-B", "012345678905")],
    )
    assert segments == [
        ["ST", "850"],
        ["BEG", "00", "DS", "PO9", None, "20240102"],
        ["N1", "ST", "Bo"],
        ["N3", "1 Main St", None],
        ["N4", "Austin", "TX", "73301", "US"],
        ["PO1", 1, 3, "EA", "10.00", None, "VN", "SKU-A"],
        ["PO1", 2, 1, "EA", "0.125", None, "VN", "SKU-B", "UP", "012345678905"],
        ["CTT", 2, 4],
    ]
    text = write(segments, "PO")
    assert "N3*1 Main St~" in text and "PO1*1*3*EA*10.00**VN*SKU-A~" in text
    with pytest.raises(ValueError, match="positive int"):
        build_850(
            "PO9", date(2024, 1, 2), ("B", "1", None, "A", "TX", "1", "US"), [(1, 0, Decimal(1), "S", None)]
        )
    with pytest.raises(TypeError, match="Decimal"):
        build_850("PO9", date(2024, 1, 2), ("B", "1", None, "A", "TX", "1", "US"), [(1, 1, 9.5, "S", None)])


def test_parse_855_sample():
    assert parse_855(only_txn(sample_text("855"))) == {
        "po_number": "PO123456",
        "purpose": "00",
        "ack_type": "AC",
        "date": "20240315",
        "lines": [
            {
                "line_no": "1",
                "qty": 2,
                "unit_price": Decimal("9.50"),
                "vendor_sku": "ACME-TS-BLK-M",
                "upc": "012345678905",
                "acks": [
                    {"status": "IA", "qty": 2, "uom": "EA", "date_qualifier": "068", "date": "20240318"}
                ],
            }
        ],
    }


def test_parse_855_mixed_line_statuses():
    text = write(
        [
            ["ST", "855"],
            ["BAK", "00", "AC", "PO9", "20240102"],
            ["PO1", "1", "3", "EA", "10.00", None, "VN", "A"],
            ["ACK", "IA", "2", "EA"],
            ["ACK", "IB", "1", "EA", "068", "20240110"],
            ["PO1", "2", "1", "EA", "5.00", None, "SK", "B"],
            ["ACK", "IR", "1", "EA"],
            ["CTT", "2", "4"],
        ],
        "PR",
    )
    result = parse_855(only_txn(text))
    assert [(ln["vendor_sku"], [a["status"] for a in ln["acks"]]) for ln in result["lines"]] == [
        ("A", ["IA", "IB"]),
        ("B", ["IR"]),
    ]


def test_parse_856_sample():
    assert parse_856(only_txn(sample_text("856"))) == [
        {
            "shipment_id": "SHP778812",
            "ship_date": "20240316",
            "carrier_scac": "UPSN",
            "service": "UPS Ground",
            "po_number": "PO123456",
            "consumer_order": "WEB-100045",
            "tracking_numbers": ["1Z999AA10123456784"],
            "items": [("ACME-TS-BLK-M", 2)],
        }
    ]


def test_parse_856_two_orders_with_own_packages():
    text = write(
        [
            ["ST", "856"],
            ["BSN", "00", "SHP1", "20240316", "1630", "0001"],
            ["HL", "1", None, "S"],
            ["TD5", None, "2", "FDEG", "M"],
            ["HL", "2", "1", "O"],
            ["PRF", "PO-A"],
            ["HL", "3", "2", "P"],
            ["MAN", "CP", "TRK-A1"],
            ["HL", "4", "3", "I"],
            ["LIN", "1", "VN", "SKU-1"],
            ["SN1", None, "2", "EA"],
            ["HL", "5", "3", "I"],
            ["LIN", "2", "UP", "012345678905"],
            ["SN1", None, "1", "EA"],
            ["HL", "6", "1", "O"],
            ["PRF", "PO-B"],
            ["HL", "7", "6", "P"],
            ["MAN", "GM", "00000123450000000018"],
            ["MAN", "CP", "TRK-B1"],
            ["HL", "8", "7", "I"],
            ["LIN", "1", "VN", "SKU-2"],
            ["SN1", None, "4", "EA"],
            ["CTT", "8"],
        ]
    )
    result = parse_856(only_txn(text))
    assert [(r["po_number"], r["carrier_scac"], r["tracking_numbers"], r["items"]) for r in result] == [
        ("PO-A", "FDEG", ["TRK-A1"], [("SKU-1", 2), ("012345678905", 1)]),
        ("PO-B", "FDEG", ["TRK-B1"], [("SKU-2", 4)]),
    ]


def test_parse_810_sample():
    assert parse_810(only_txn(sample_text("810"))) == {
        "invoice_no": "INV-5521",
        "invoice_date": "20240316",
        "po_number": "PO123456",
        "po_date": "20240315",
        "currency": None,
        "lines": [("ACME-TS-BLK-M", 2, Decimal("9.50"))],
        "total_minor": 2380,
        "charges": [("G830", 480)],
    }


def test_parse_810_allowance_is_negative_and_wrong_set_is_refused():
    text = write(
        [
            ["ST", "810"],
            ["BIG", "20240316", "INV-1", None, "PO-1"],
            ["CUR", "SE", "USD"],
            ["IT1", "1", "3", "EA", "2.5", None, "VN", "S"],
            ["TDS", "700"],
            ["SAC", "A", "C310", None, None, "50"],
            ["CTT", "1"],
        ],
        "IN",
    )
    result = parse_810(only_txn(text))
    assert (result["currency"], result["lines"], result["total_minor"], result["charges"]) == (
        "USD",
        [("S", 3, Decimal("2.5"))],
        700,
        [("C310", -50)],
    )
    with pytest.raises(X12Error) as info:
        parse_810(only_txn(sample_text("855")))
    assert (info.value.message, info.value.segment_position) == ("expected a 810 transaction set, got 855", 3)


def test_parse_errors_name_the_segment():
    text = write([["ST", "810"], ["BIG", "20240316", "INV-1"], ["TDS", "12.34"]], "IN")
    with pytest.raises(X12Error) as info:
        parse_810(only_txn(text))
    assert (info.value.message, info.value.segment_position, info.value.segment_tag) == (
        "TDS01 '12.34' is not an N2 number",
        5,
        "TDS",
    )
