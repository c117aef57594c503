import gzip
import io
import sys
import types
from pathlib import Path

import pytest

from dropbridge.connectors.formats.feeds import samples
from dropbridge.connectors.formats.feeds.convert import is_fatal
from dropbridge.connectors.formats.feeds.reader import dry_run, read_feed, sniff_format
from dropbridge.connectors.formats.feeds.spec import FeedSpec
from dropbridge.connectors.formats.feeds.types import FeedBatch, FeedFormatError, ParsedRow, RowError

SAMPLES = Path(__file__).parent / "samples"
NO_CATALOG = None


def catalog(**kw):
    base = {"title": None, "description": None, "parent_sku": None, "options": {}, "images": [],
            "brand": None, "mpn": None, "msrp_minor": None, "map_minor": None, "weight": None,
            "weight_unit": None, "category": None, "status": None}
    base.update(kw)
    return base


def read(data: bytes | Path, spec: FeedSpec | None = None, name: str = "feed.csv", batch_size: int = 10_000):
    if isinstance(data, Path):
        name, data = data.name, data.read_bytes()
    rows, errors = [], []
    for batch in read_feed(io.BytesIO(data), name=name, spec=spec or FeedSpec(), batch_size=batch_size):
        assert isinstance(batch, FeedBatch)
        rows += batch.rows
        errors += batch.errors
    return rows, errors


def brief(errors):
    return [(e.line, e.field, e.reason) for e in errors]


def test_committed_samples_match_the_generator(tmp_path):
    written = samples.write_all(tmp_path)
    for name, path in written.items():
        if name.endswith(".xlsx"):
            continue  # zip timestamps differ
        assert path.read_bytes() == (SAMPLES / name).read_bytes(), name


def test_clean_csv():
    rows, errors = read(SAMPLES / "clean.csv")
    assert rows == [
        ParsedRow(2, "TS-BLK-M", 42, 1250, "USD", None, "00012345678905", catalog(title="Tee Black M")),
        ParsedRow(3, "TS-BLK-L", 0, 1250, "USD", None, "00012345678912", catalog(title="Tee Black L")),
        # a quoted value spanning two physical lines: the next record starts on line 6
        ParsedRow(4, "MUG-01", 7, 123450, "USD", None, None, catalog(title='Mug, "big"\r\nceramic')),
        ParsedRow(6, "CAP-01", 3, 500, "USD", None, None, catalog(title="Cap")),  # $4.9950 rounds half-even
    ]
    assert errors == []


def test_bom_utf8():
    rows, errors = read(SAMPLES / "bom.csv")
    assert rows == [ParsedRow(2, "CAFE-1", 5, 320, "USD", None, None, catalog(title="Café crème"))]
    assert errors == []


def test_cp1252():
    rows, errors = read(SAMPLES / "cp1252.csv")
    assert rows == [ParsedRow(2, "CAFE-2", 4, 210, "USD", None, None, catalog(title="Café \u201cnoir\u201d"))]
    assert errors == []


def test_cp1252_accent_after_a_long_ascii_head_switches_silently():
    lines = [b"sku,qty,cost,title"] + [b"A%06d,1,1.00,plain" % i for i in range(20_000)]
    lines.append("LATE,2,3.00,Crème brûlée".encode("cp1252"))
    data = b"\n".join(lines) + b"\n"
    assert len(data) > 2 * 64 * 1024
    rows, errors = read(data)
    assert errors == []
    assert rows[-1] == ParsedRow(20_002, "LATE", 2, 300, "USD", None, None, catalog(title="Crème brûlée"))


def test_invalid_utf8_line_in_a_utf8_file_is_decoded_and_reported():
    lines = ["sku,qty,cost,title", "U1,1,1.00,Café"] + [f"A{i:06d},1,1.00,plain" for i in range(20_000)]
    data = "\n".join(lines).encode() + b"\nBAD,2,3.00,Cr\xe8me\nAFTER,1,1.00,ok\n"
    rows, errors = read(data)
    assert rows[-2:] == [
        ParsedRow(20_003, "BAD", 2, 300, "USD", None, None, catalog(title="Crème")),
        ParsedRow(20_004, "AFTER", 1, 100, "USD", None, None, catalog(title="ok")),
    ]
    assert brief(errors) == [(20_003, "encoding", "bytes not valid UTF-8 were read as Windows-1252")]
    assert not is_fatal(errors[0])


def test_utf16_with_bom():
    data = "sku\tqty\tcost\tname\nW-1\t2\t3.50\tÜber\n".encode("utf-16")
    rows, errors = read(data, name="export.txt")
    assert rows == [ParsedRow(2, "W-1", 2, 350, "USD", None, None, catalog(title="Über"))]
    assert errors == []


def test_semicolon_decimal_comma_with_a_custom_mapping():
    with pytest.raises(FeedFormatError) as e:
        read(SAMPLES / "semicolon.csv")
    assert "'sku'" in str(e.value) and "'Artikelnummer', 'Bestand', 'Preis', 'Währung'" in str(e.value)
    spec = FeedSpec.from_dict({"mapping": {"fields": {
        "sku": ["Artikelnummer"], "qty": ["Bestand"], "cost": ["Preis"], "currency": ["Währung"]}}})
    rows, errors = read(SAMPLES / "semicolon.csv", spec)
    assert rows == [
        ParsedRow(2, "DE-100", 12, 1250, "EUR"),
        ParsedRow(3, "DE-200", 1200, 123450, "EUR"),
        ParsedRow(4, "DE-300", 3, 750, "EUR"),
    ]
    assert errors == []


def test_pipe_with_images():
    rows, errors = read(SAMPLES / "pipe.csv")
    images = ["https://cdn.example.com/p1a.jpg", "https://cdn.example.com/p1b.jpg"]
    assert rows == [
        ParsedRow(2, "P-1", 9, 1999, "USD", None, None, catalog(images=images)),
        ParsedRow(3, "P-2", 0, 500, "USD", None, None, catalog()),
    ]
    assert errors == []


def test_tsv():
    rows, errors = read(SAMPLES / "tabs.tsv")
    assert rows == [ParsedRow(2, "T-1", 1, 100, "USD"), ParsedRow(3, "T-2", 2, 200, "USD")]
    assert errors == []


def test_lost_leading_zeros_and_bad_gtins_keep_the_row():
    rows, errors = read(SAMPLES / "lost_zeros.csv")
    assert rows == [
        ParsedRow(2, "Z-1", 1, 100, "USD", None, "00012345678905"),
        ParsedRow(3, "Z-2", 1, 100, "USD", None, "00012345678905"),
        ParsedRow(4, "Z-3", 1, 100, "USD", None, "04006381333931"),
        ParsedRow(5, "Z-4", 1, 100, "USD", None, None),
        ParsedRow(6, "Z-5", 1, 100, "USD", None, None),
    ]
    assert brief(errors) == [
        (5, "gtin", "upc: check digit of 12345678906 is 6, expected 5"),
        (6, "gtin", "upc: '1.23457E+11' is in scientific notation: Excel dropped digits"),
    ]
    assert errors[0].raw == "Z-4,1,1.00,12345678906"
    assert not any(is_fatal(e) for e in errors)


def test_malformed_rows():
    rows, errors = read(SAMPLES / "malformed.csv")
    assert rows == [ParsedRow(2, "OK-1", 5, 1000, "USD"), ParsedRow(12, "OK-2", 1, 50, "USD")]
    assert brief(errors) == [
        (3, "sku", "blank sku"),
        (4, "qty", "-3 is negative"),
        (5, "qty", "'lots' is not a whole number"),
        (6, "cost", "blank cost"),
        (7, "cost", "'ten' is not an amount"),
        (8, "cost", "-1.00 is negative"),
        (9, "sku", "duplicate sku, first seen on line 2"),
        (11, None, "row has 4 fields but the header has 3 (an unquoted delimiter inside a value?)"),
        (13, None, "row has 2 fields but the header has 3 (truncated row?)"),
    ]
    assert errors[0].raw == ",5,10.00"
    assert all(is_fatal(e) for e in errors)


@pytest.mark.parametrize("name", ["empty.csv", "header_only.csv"])
def test_empty_and_header_only_yield_nothing(name):
    batches = list(read_feed(io.BytesIO((SAMPLES / name).read_bytes()), name=name, spec=FeedSpec()))
    assert batches == []


def test_xlsx_float_cells():
    rows, errors = read(SAMPLES / "inventory.xlsx")
    assert rows == [
        ParsedRow(2, "X-1", 5, 1250, "USD", None, "00012345678905", catalog(title="Tee")),
        ParsedRow(3, "X-2", 3, 10, "USD", None, None, catalog(title="Mug")),  # 0.1 by repr, exactly
        ParsedRow(5, "X-3", 1, 725, "USD", None, "04006381333931", catalog()),  # row 4 is empty
    ]
    assert brief(errors) == [(6, "qty", "-1 is negative")]


def test_xlsx_from_a_non_seekable_stream_and_a_named_sheet(tmp_path):
    path = samples.xlsx(tmp_path / "inv.xlsx")

    class Pipe(io.RawIOBase):
        def __init__(self, data):
            self._b = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, buf):
            data = self._b.read(len(buf))
            buf[: len(data)] = data
            return len(data)

    spec = FeedSpec(sheet="Inventory")
    rows = [r for b in read_feed(Pipe(path.read_bytes()), name="inv.xlsx", spec=spec) for r in b.rows]
    assert [r.sku for r in rows] == ["X-1", "X-2", "X-3"]
    with pytest.raises(FeedFormatError, match="no sheet 'Nope'"):
        read(path, FeedSpec(sheet="Nope"))


def test_json_with_nested_price_and_currency():
    spec = FeedSpec.from_dict({"mapping": {"preset": "generic", "fields": {
        "cost": ["price.amount"], "currency": ["price.currency"]}}})
    rows, errors = read(SAMPLES / "products.json", spec)
    assert rows == [
        ParsedRow(1, "J-1", 4, 1999, "EUR", None, "04006381333931", catalog(
            title="Lamp", images=["https://x.example/a.jpg", "https://x.example/b.jpg"])),
        ParsedRow(2, "J-2", 0, 500, "EUR", None, None, catalog()),
    ]
    assert brief(errors) == [(3, "qty", "'n/a' is not a whole number")]
    assert errors[0].raw.startswith('{"sku": "J-3"')


def test_json_top_level_array_and_json_path():
    data = b'[{"sku": "A", "qty": 1, "cost": 2.5}, 7]'
    rows, errors = read(data, name="x.json")
    assert rows == [ParsedRow(1, "A", 1, 250, "USD")]
    assert brief(errors) == [(2, None, "not a JSON object")]
    nested = b'{"data": {"items": [{"sku": "A", "qty": 1, "cost": 1}]}, "a": [], "b": []}'
    with pytest.raises(FeedFormatError, match="set json_path"):
        read(nested, name="x.json")
    rows, _ = read(nested, FeedSpec(json_path="data.items"), name="x.json")
    assert rows == [ParsedRow(1, "A", 1, 100, "USD")]


def test_jsonl():
    rows, errors = read(SAMPLES / "stock.jsonl")
    assert rows == [
        ParsedRow(1, "L-1", 2, 350, "USD"),
        ParsedRow(3, "L-2", 1, 425, "USD", 5),
        ParsedRow(5, "L-4", 8, 100, "USD"),
    ]
    assert brief(errors) == [(4, None, "invalid JSON: Expecting value")]


def test_jsonl_later_objects_may_add_keys():
    data = b'{"sku": "A", "qty": 1, "cost": 1}\n{"sku": "B", "qty": 2, "cost": 2, "upc": "012345678905"}\n'
    rows, errors = read(data, name="x.jsonl")
    assert rows == [
        ParsedRow(1, "A", 1, 100, "USD"), ParsedRow(2, "B", 2, 200, "USD", None, "00012345678905")]
    assert errors == []


@pytest.mark.parametrize(
    "name, head, fmt",
    [
        ("a.csv", b"sku,qty\n", "csv"),
        ("a.txt", b"sku\tqty\n", "csv"),
        ("feed", b"PK\x03\x04rest", "xlsx"),
        ("a.csv", b"PK\x03\x04rest", "xlsx"),
        ("a.json", b'[{"a": 1}]', "json"),
        ("a", b'\xef\xbb\xbf {\n "products": []}', "json"),
        ("a", b'{"a": 1}\n{"a": 2}\n', "jsonl"),
        ("a.json", b'{"a": []}', "json"),
        ("a", b'{"a": []}\n', "json"),
        ("a.jsonl", b'{"a": 1}\n', "jsonl"),
        ("a.dat", b"ISA*00*          *00*", "x12"),
        ("a.xlsx.gz", b"", "xlsx"),
        ("a.unknown", b"x,y\n", "csv"),
    ],
)
def test_sniff_format(name, head, fmt):
    assert sniff_format(name, head) == fmt


def test_sniff_rejects_legacy_xls():
    with pytest.raises(FeedFormatError, match="legacy .xls"):
        sniff_format("a.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")


@pytest.mark.parametrize(
    "fmt, data, message",
    [
        ("csv", b"<!DOCTYPE html><html>Login</html>", "HTML"),
        ("csv", b'[{"sku": 1}]', "JSON"),
        ("csv", b"PK\x03\x04\x00\x00", "zip"),
        ("csv", b"\x00\x01\x02\x00binary", "binary"),
        ("xlsx", b"sku,qty,cost\n", "not a zip"),
        ("xlsx", b"PK\x03\x04garbage", "not a readable XLSX"),
        ("json", b"sku,qty,cost\n", "does not start with JSON"),
        ("json", b'[{"sku": 1,]', "not valid JSON"),
        ("jsonl", b"{not json}\n", "not JSON Lines"),
    ],
)
def test_wrong_format_raises(fmt, data, message):
    with pytest.raises(FeedFormatError, match=message):
        read(data, FeedSpec(format=fmt))


def test_gzip_is_undone():
    data = gzip.compress((SAMPLES / "tabs.tsv").read_bytes())
    rows, _ = read(data, name="tabs.tsv.gz")
    assert [r.sku for r in rows] == ["T-1", "T-2"]


def test_batches_stream_and_keep_line_numbers():
    data = b"sku,qty,cost\n" + b"".join(b"S%d,%d,1.00\n" % (i, i) for i in range(25)) + b"S3,1,1\n"
    batches = list(read_feed(io.BytesIO(data), name="f.csv", spec=FeedSpec(), batch_size=10))
    assert [(len(b.rows), len(b.errors)) for b in batches] == [(10, 0), (10, 0), (5, 1)]  # records per batch
    assert [r.line for b in batches for r in b.rows] == list(range(2, 27))
    assert brief(batches[-1].errors) == [(27, "sku", "duplicate sku, first seen on line 5")]
    one = read_feed(io.BytesIO(b"sku,qty,cost\nA,1,1\n"), name="f.csv", spec=FeedSpec(), batch_size=1)
    assert list(one) == [FeedBatch([ParsedRow(2, "A", 1, 100, "USD")], [])]


def test_fast_and_general_paths_agree():
    lines = ["sku,qty,cost"]
    cells = ["1", "", "1.0", "-1", "x", "1,200", "12.5", "12.505", "12.515", "$3", "", "-0.01", "1e2", "NaN",
             "Infinity", " 7 ", "0.001", "1_000"]
    for i, a in enumerate(cells):
        for j, b in enumerate(cells):
            lines.append(f'S{i}-{j},"{a}","{b}"')
    lines.append("S0-0,1,1")  # duplicate
    data = ("\n".join(lines) + "\n").encode()
    fast = read(data)
    # an extra mapped column turns the fast path off; rows then carry an empty catalog
    slow_rows, slow_errors = read(data.replace(b"sku,qty,cost", b"sku,qty,cost,brand"))
    assert fast[0] == [r._replace(catalog=None) for r in slow_rows]
    assert brief(fast[1]) == brief(slow_errors)


def test_headerless_with_positions():
    spec = FeedSpec.from_dict(
        {"has_header": False, "mapping": {"fields": {"sku": [2], "qty": [3], "cost": [1]}}})
    rows, errors = read(b"1.50,A,3\n2.00,B,x\n", spec)
    assert rows == [ParsedRow(1, "A", 3, 150, "USD")]
    assert brief(errors) == [(2, "qty", "'x' is not a whole number")]


def test_transforms_defaults_status_and_stock_only():
    spec = FeedSpec.from_dict({
        "currency": "EUR",
        "mapping": {
            "fields": {"sku": ["code"], "qty": ["stock"], "cost": ["cents"], "status": ["state"]},
            "defaults": {"lead_time_days": "4"},
            "transforms": {"cost": {"scale": "0.01"}, "sku": {"strip_prefix": "ACME-"},
                           "qty": {"value_map": {"In Stock": "10"}}},
        },
    })
    data = b"code,stock,cents,state\nACME-1,5,1999,active\nACME-2,In stock,250,Discontinued\nACME-3,1,5,\n"
    rows, errors = read(data, spec)
    assert rows == [
        ParsedRow(2, "1", 5, 1999, "EUR", 4, None, catalog(status="active")),
        ParsedRow(3, "2", 0, 250, "EUR", 4, None, catalog(status="Discontinued")),  # discontinued -> 0
        ParsedRow(4, "3", 1, 5, "EUR", 4, None, catalog()),
    ]
    assert errors == []
    stock_only = FeedSpec.from_dict(
        {"mapping": {"fields": {"sku": ["sku"], "qty": ["qty"]}, "stock_only": True}})
    rows, errors = read(b"sku,qty\nA,1\n", stock_only)
    assert rows == [ParsedRow(2, "A", 1, None, "USD")]


def test_currency_column_and_codes_in_amounts():
    data = b"sku,qty,cost,currency\nA,1,12.50,eur\nB,1,USD 3,EUR\nC,1,JPY 1200,\nD,1,1,XXQ\n"
    rows, errors = read(data)
    assert rows == [ParsedRow(2, "A", 1, 1250, "EUR"), ParsedRow(4, "C", 1, 1200, "JPY")]
    assert brief(errors) == [
        (3, "cost", "'USD 3' is in USD but the currency column says EUR"),
        (5, "currency", "'XXQ' is not an ISO 4217 currency code"),
    ]


def test_catalog_fields_with_options_and_prices():
    data = (b"sku,qty,cost,msrp,map,option1 name,option1 value,option2 name,option2 value,weight,"
            b"parent sku,brand\n"
            b"T-M,1,5,$19.99,15.00,Size,M,Color,Black,0.4 lb,T,Acme\n"
            b"T-L,1,5,abc,,,L,,,,T,Acme\n")
    rows, errors = read(data)
    assert rows == [
        ParsedRow(2, "T-M", 1, 500, "USD", None, None, catalog(
            msrp_minor=1999, map_minor=1500, options={"Size": "M", "Color": "Black"}, weight="0.4",
            weight_unit="lb", parent_sku="T", brand="Acme")),
        ParsedRow(3, "T-L", 1, 500, "USD", None, None, catalog(options={"option1": "L"}, parent_sku="T",
                                                               brand="Acme")),
    ]
    assert brief(errors) == [(3, "msrp", "'abc' is not an amount")]
    assert not is_fatal(errors[0])


def test_long_sku_and_raw_truncation():
    sku = "S" * 201
    rows, errors = read(f"sku,qty,cost,description\n{sku},1,1,{'d' * 300}\n".encode())
    assert rows == []
    assert brief(errors) == [(2, "sku", "sku is longer than 200 characters")]
    assert len(errors[0].raw) == 200


def test_x12_is_routed_to_the_846_reader(monkeypatch):
    seen = {}

    def read_846(stream, *, name, spec, batch_size):
        seen.update(data=stream.read(), name=name, batch_size=batch_size)
        yield FeedBatch([ParsedRow(1, "X", 1, None, "USD")], [])

    module = types.ModuleType("dropbridge.connectors.suppliers.edi_x12.inbound")
    module.read_846 = read_846
    monkeypatch.setitem(sys.modules, "dropbridge.connectors.suppliers.edi_x12.inbound", module)
    data = b"ISA*00*          *00*          *ZZ*A~"
    batches = list(read_feed(io.BytesIO(data), name="inv.edi", spec=FeedSpec(), batch_size=7))
    assert batches == [FeedBatch([ParsedRow(1, "X", 1, None, "USD")], [])]
    assert seen == {"data": data, "name": "inv.edi", "batch_size": 7}


def test_dry_run():
    out = dry_run(io.BytesIO((SAMPLES / "lost_zeros.csv").read_bytes()), "lost_zeros.csv", FeedSpec(), rows=4)
    assert [o["line"] for o in out] == [2, 3, 4, 5]
    assert out[0] == {
        "line": 2,
        "raw": {"sku": "Z-1", "qty": "1", "cost": "1.00", "upc": "12345678905"},
        "fields": {
            "sku": {"column": "sku", "raw": "Z-1", "value": "Z-1", "error": None},
            "qty": {"column": "qty", "raw": "1", "value": 1, "error": None},
            "cost": {"column": "cost", "raw": "1.00", "value": 100, "error": None},
            "currency": {"column": None, "raw": None, "value": "USD", "error": None},
            "gtin": {"column": "upc", "raw": "12345678905", "value": "00012345678905", "error": None},
        },
        "kept": True,
        "errors": [],
    }
    assert out[3]["kept"] is True
    assert out[3]["fields"]["gtin"]["error"] == "upc: check digit of 12345678906 is 6, expected 5"
    assert out[3]["errors"] == [
        {"field": "gtin", "reason": "upc: check digit of 12345678906 is 6, expected 5"}]
    bad = dry_run(io.BytesIO((SAMPLES / "malformed.csv").read_bytes()), "m.csv", FeedSpec(), rows=3)
    assert bad[1]["kept"] is False
    assert bad[1]["fields"]["sku"] == {"column": "sku", "raw": "", "value": None, "error": "blank sku"}
    assert bad[2]["fields"]["qty"]["error"] == "-3 is negative"
    assert dry_run(io.BytesIO(b""), "e.csv", FeedSpec()) == []


def test_non_fatal_classification():
    assert is_fatal(RowError(1, "qty", "x"))
    assert is_fatal(RowError(1, None, "x"))
    assert not is_fatal(RowError(1, "gtin", "x"))


def test_dry_run_table_is_flat_strings():
    from dropbridge.connectors.formats.feeds.reader import dry_run_table

    preview = dry_run(io.BytesIO((SAMPLES / "malformed.csv").read_bytes()), "m.csv", FeedSpec(), rows=20)
    table = dry_run_table(preview)
    assert table[0] == {"line": "2", "kept": "yes", "sku": "'OK-1' -> OK-1", "qty": "'5' -> 5",
                        "cost": "'10.00' -> 1000", "currency": "USD", "row errors": ""}
    assert table[1]["sku"] == "'' -> ERROR blank sku"
    by_line = {r["line"]: r for r in table}
    assert by_line["11"]["row errors"].startswith("row has 4 fields but the header has 3")
    assert all(isinstance(v, str) for row in table for v in row.values())
