from __future__ import annotations

import io
from datetime import datetime
from types import SimpleNamespace

import pytest

from dropbridge.connectors.formats.feeds.types import FeedBatch, FeedFormatError, ParsedRow, RowError
from dropbridge.connectors.formats.x12.x12 import X12Writer
from dropbridge.connectors.suppliers.edi_x12.inbound import gs1_check_digit, normalize_gtin, read_846

from .conftest import sample_text

USD = SimpleNamespace(currency="USD")


def read_all(data: str | bytes, spec=USD, **kw) -> list[FeedBatch]:
    raw = data.encode() if isinstance(data, str) else data
    return list(read_846(io.BytesIO(raw), name="inv.edi", spec=spec, **kw))


def build_846(body: list[list], *, extra_sets: list[list[list]] = ()) -> str:
    w = X12Writer("ZZ", "ACME01", "ZZ", "RETAILER", control_numbers=lambda kind: 5)
    sets = [[["ST", "846"], *body], *extra_sets]
    return w.write_interchange([("IB", "004010", sets)], datetime(2024, 3, 15, 14, 5))


def test_sample_846_rows_exact():
    batches = read_all(sample_text("846"))
    assert batches == [
        FeedBatch(
            rows=[
                ParsedRow(
                    line=6,
                    sku="ACME-TS-BLK-M",
                    stock=42,
                    cost_minor=None,
                    currency="USD",
                    lead_time_days=5,
                    gtin="00012345678905",
                    catalog={
                        "locations": {"WH-EAST": 30, "WH-WEST": 12},
                        "prices": {"RES": 1999},
                        "title": "Tee Black M",
                    },
                ),
                ParsedRow(
                    line=12,
                    sku="ACME-TS-BLK-L",
                    stock=0,
                    cost_minor=None,
                    currency="USD",
                    lead_time_days=None,
                    gtin="00012345678912",
                    catalog=None,
                ),
            ],
            errors=[],
        )
    ]


def test_batches_respect_batch_size_and_spec_without_currency():
    batches = read_all(sample_text("846"), spec=object(), batch_size=1)
    assert [[r.line for r in b.rows] for b in batches] == [[6], [12]]
    assert batches[0].rows[0].currency == "USD"


def test_items_quantities_costs_and_errors():
    text = build_846(
        [
            ["BIA", "00", "DD", "INV1", "20240315"],
            ["CUR", "SE", "EUR"],
            ["LIN", "1", "UP", "012345678905", "SK", "BUYER-1"],  # 6: SK preferred over UP
            ["CTP", None, "UCP", "7.25"],
            ["CTP", None, "MSR", "19.99"],
            ["QTY", "33", "5", "EA"],
            ["LIN", "2", "VN", "NEG"],  # 10: negative quantity
            ["QTY", "33", "-3", "EA"],
            ["LIN", "3", "VN", "ABC"],  # 12: not a number
            ["QTY", "33", "abc", "EA"],
            ["LIN", "4", "VN", "NOQTY"],  # 14: no quantity at all
            ["QTY", "17", "9", "EA"],
            ["LIN", "5", "VN", "SDQONLY", "EN", "4006381333931"],  # 16: stock = SDQ sum
            ["SDQ", "EA", "92", "A", "3", "B", "4"],
            ["SDQ", "EA", "92", "A", "1"],
            ["DTM", "018", "20240301"],  # available in the past: lead 0
            ["LIN", "6", "VN", "BADUPC", "UP", "012345678900"],  # 20: bad check digit: row kept
            ["QTY", "33", "2.0", "EA"],
            ["DTM", "018", "2024-03-20"],  # 22: bad date: row kept
            ["CTP", None, "WHL", "1.999"],  # 23: sub-cent cost: row kept
            ["LIN", "7"],  # 24: no product id
            ["QTY", "33", "1", "EA"],
            ["CTT", "7"],
        ]
    )
    [batch] = read_all(text)
    assert batch.rows == [
        ParsedRow(6, "BUYER-1", 5, 725, "EUR", None, "00012345678905", {"prices": {"MSR": 1999}}),
        ParsedRow(16, "SDQONLY", 8, None, "EUR", 0, "04006381333931", {"locations": {"A": 4, "B": 4}}),
        ParsedRow(20, "BADUPC", 2, None, "EUR", None, None, None),
    ]
    assert [(e.line, e.field, e.reason) for e in batch.errors] == [
        (10, "QTY", "QTY*33 quantity '-3' is negative"),
        (12, "QTY", "QTY*33 quantity 'abc' is not a number"),
        (14, "QTY", "no QTY*33 (quantity available) and no SDQ"),
        (20, "gtin", "LIN UP '012345678900' has check digit 0, expected 5; GTIN ignored, row kept"),
        (20, "DTM", "DTM at segment 22: '2024-03-20' is not CCYYMMDD; row kept"),
        (20, "CTP", "CTP at segment 23: 1.999 has more than 2 decimals for EUR; price ignored, row kept"),
        (24, "LIN", "no product id in LIN"),
    ]
    assert batch.errors[0].raw == "LIN*2*VN*NEG"


def test_configurable_sku_qualifiers_and_qty33_total_wins_over_sdq():
    text = build_846(
        [
            ["BIA", "00", "DD", "INV1", "20240315"],
            ["LIN", "1", "UP", "012345678905", "VN", "V-1", "BP", "B-1"],
            ["SDQ", "EA", "92", "A", "3"],
            ["QTY", "33", "10", "EA"],
        ]
    )
    [batch] = read_all(text, sku_qualifiers=["BP", "VN"])
    assert [(r.sku, r.stock, r.catalog) for r in batch.rows] == [("B-1", 10, {"locations": {"A": 3}})]
    [batch] = read_all(text, sku_qualifiers=["XX"])
    assert batch.rows[0].sku == "012345678905"  # the first pair when no preferred qualifier is present


def test_non_846_sets_are_skipped_but_an_interchange_without_846_is_refused():
    text = build_846(
        [["BIA", "00", "DD", "I", "20240315"], ["LIN", "1", "VN", "X"], ["QTY", "33", "1"]],
        extra_sets=[[["ST", "997"], ["AK1", "PO", "1"], ["AK9", "A", "1", "1", "1"]]],
    )
    assert [r.sku for b in read_all(text) for r in b.rows] == ["X"]
    with pytest.raises(FeedFormatError) as info:
        read_all(sample_text("850"))
    assert str(info.value) == "inv.edi: the interchange holds no 846 transaction set"


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        ("IEA*1*000000101~\n", "", 17, "missing IEA for ISA13 000000101"),
        ("SE*13*0001", "SE*14*0001", 15, "SE01 is 14, but transaction 0001 has 13 segments from ST to SE"),
        (
            "ACME01         ",
            "ACME01",
            1,
            "ISA segment is 97 characters, expected 106 (ISA06 is 6 characters, expected 15)",
        ),
    ],
)
def test_bad_envelope_is_a_feed_format_error_with_the_segment_position(old, new, line, message):
    with pytest.raises(FeedFormatError) as info:
        read_all(sample_text("846").replace(old, new, 1))
    assert info.value.line == line
    assert str(info.value) == f"line {line}: inv.edi: X12 envelope: {message}"


def test_truncated_846_raises_after_rows_so_the_run_fails_rather_than_zeroing():
    text = sample_text("846").split("LIN*2")[0]
    seen: list[RowError | ParsedRow] = []
    with pytest.raises(FeedFormatError, match="missing SE for ST02 0001"):
        for batch in read_846(io.BytesIO(text.encode()), name="inv.edi", spec=USD, batch_size=1):
            seen.extend(batch.rows)
    assert [r.sku for r in seen] == []  # the open item is never flushed without its trailer


def test_gtin_helpers():
    assert gs1_check_digit("01234567890") == 5
    assert normalize_gtin("012345678905") == "00012345678905"
    assert normalize_gtin("4006381333931") == "04006381333931"
    assert normalize_gtin("96385074") == "00000096385074"
    assert normalize_gtin("10012345678902") == "10012345678902"
    with pytest.raises(ValueError, match="expected 5"):
        normalize_gtin("012345678901")
    with pytest.raises(ValueError, match="digit GTIN"):
        normalize_gtin("12345")
