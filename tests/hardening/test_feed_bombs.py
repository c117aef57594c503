"""Feed files made to exhaust memory: each is synced by `dropbridge sync feed` in a subprocess whose peak RSS
(its own ru_maxrss) stays under 500 MB, and is refused with a reason naming the limit; nothing is stored."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dropbridge.domain.model import SupplierOffer, SyncRun
from dropbridge.services.connections import add_supplier

from .cli_tools import cli_env, run_cli

MAX_RSS_MB = 500
LIMIT_TEXT = "256 MiB limit once decompressed (DROPBRIDGE_FEED_MAX_BYTES)"
CELL_TEXT = "longer than the 1 MiB limit for one value"


def gzip_of(path: Path, header: bytes, line: bytes, count: int, tail: bytes = b"") -> Path:
    """`header` + `line` * count + `tail`, gzipped in pieces (never whole in memory)."""
    per = max(1, (1 << 20) // len(line))
    block = line * per
    with gzip.open(path, "wb", compresslevel=9) as fh:
        fh.write(header)
        left = count
        while left >= per:
            fh.write(block)
            left -= per
        fh.write(line * left + tail)
    return path


WORKBOOK = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/sharedStrings.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
        '</Types>'),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'officeDocument" Target="xl/workbook.xml"/></Relationships>'),
    "xl/workbook.xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'),
    "xl/_rels/workbook.xml.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'worksheet" Target="worksheets/sheet1.xml"/>'
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'sharedStrings" Target="sharedStrings.xml"/></Relationships>'),
}
SHEET_HEAD = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
              '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
ROWS = ('<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c></row>'
        '<row r="2"><c r="A2" t="s"><v>3</v></c><c r="B2"><v>5</v></c><c r="C2"><v>1.5</v></c></row>')
SHEET_TAIL = "</sheetData></worksheet>"
STRINGS_HEAD = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                '<si><t>sku</t></si><si><t>qty</t></si><si><t>cost</t></si>')


def workbook(path: Path, *, sheet_filler: tuple[str, int] | None = None,
             string_filler: tuple[str, int] | None = None) -> Path:
    """A minimal XLSX; `*_filler` = (text, count) streamed into the sheet (between rows) or into a shared
    string, so a part of hundreds of MB is written without ever being held."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for name, text in WORKBOOK.items():
            zf.writestr(name, text)
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as part:
            part.write((SHEET_HEAD + ROWS).encode())
            if sheet_filler:
                _fill(part, *sheet_filler)
            part.write(SHEET_TAIL.encode())
        with zf.open("xl/sharedStrings.xml", "w", force_zip64=True) as part:
            part.write(STRINGS_HEAD.encode())
            part.write(b"<si><t>")
            if string_filler:
                _fill(part, *string_filler)
            else:
                part.write(b"SKU-1")
            part.write(b"</t></si></sst>")
    return path


def _fill(part, text: str, count: int) -> None:
    block = text.encode() * max(1, (1 << 20) // len(text))
    per = len(block) // len(text.encode())
    while count >= per:
        part.write(block)
        count -= per
    part.write(text.encode() * count)


@pytest.fixture
def acme(app):
    add_supplier(app.ctx, "acme", "rest", "http://x", {"api_key": "k"}, {"currency": "USD"})
    return app


def sync(app, path: Path):
    return run_cli(["sync", "feed", "acme", str(path)], cli_env(app.settings), timeout=180)


def assert_refused(app, ran, reason: str) -> None:
    print(f"peak RSS {ran.max_rss_mb:.0f} MB")
    assert ran.max_rss_mb < MAX_RSS_MB, f"peak RSS {ran.max_rss_mb:.0f} MB"
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "failed - read 0, changed 0" in ran.stdout
    assert reason in ran.stdout.replace("\n", " ")
    with app.ctx.uow(read_only=True) as uow:
        runs = uow.session.scalars(select(SyncRun)).all()
        offers = uow.session.scalar(select(func.count()).select_from(SupplierOffer))
    assert [(r.status, r.rows_read) for r in runs] == [("failed", 0)]
    assert reason in runs[0].report["reason"]
    assert offers == 0


def test_gzip_of_20m_duplicate_rows_is_refused_at_the_size_limit(acme, tmp_path):
    bomb = gzip_of(tmp_path / "dups.csv.gz", b"sku,qty,cost\n", b"DUPLICATE-1,5,1.00\n", 20_000_000)
    assert bomb.stat().st_size < 1_000_000
    assert_refused(acme, sync(acme, bomb), LIMIT_TEXT)


def test_gzip_of_300mb_json_is_refused_at_the_size_limit(acme, tmp_path):
    bomb = gzip_of(tmp_path / "big.json.gz", b"[", b'{"sku": "A-1", "qty": 1, "cost": "1.00"},', 7_500_000,
                   b'{"sku": "B", "qty": 1, "cost": "1.00"}]')
    assert bomb.stat().st_size < 1_000_000
    assert_refused(acme, sync(acme, bomb), LIMIT_TEXT)


def test_json_holding_one_huge_string_is_refused_at_the_value_limit(acme, tmp_path):
    bomb = gzip_of(tmp_path / "string.json.gz", b'[{"sku": "A-1", "qty": 1, "cost": "1.00", "title": "',
                   b"\\\"x", 30_000_000, b'"}]')  # 90 MB, escaped quotes included: under the size limit
    assert_refused(acme, sync(acme, bomb), "a JSON string or value is " + CELL_TEXT)


def test_xlsx_of_300mb_whitespace_is_refused_at_the_size_limit(acme, tmp_path):
    bomb = workbook(tmp_path / "spaces.xlsx", sheet_filler=(" ", 300_000_000))
    assert bomb.stat().st_size < 2_000_000
    assert_refused(acme, sync(acme, bomb), "the workbook's XML is larger than the " + LIMIT_TEXT[:13])


def test_xlsx_whitespace_under_the_size_limit_is_refused_too(acme, tmp_path):
    one_run = workbook(tmp_path / "run.xlsx", sheet_filler=(" ", 100_000_000))
    assert_refused(acme, sync(acme, one_run), "whitespace run in xl/worksheets/sheet1.xml is " + CELL_TEXT)


def test_xlsx_whitespace_in_many_small_runs_is_refused(acme, tmp_path):
    many = workbook(tmp_path / "many.xlsx", sheet_filler=(" " * 1000 + "<x/>", 60_000))
    assert_refused(acme, sync(acme, many), "xl/worksheets/sheet1.xml is 99% whitespace")


def test_xlsx_with_a_300mb_shared_string_is_refused(acme, tmp_path):
    bomb = workbook(tmp_path / "string.xlsx", string_filler=("A", 300_000_000))
    assert_refused(acme, sync(acme, bomb), "the workbook's XML is larger than the 256 MiB limit")



def test_xlsx_with_a_100mb_shared_string_is_refused_at_the_value_limit(acme, tmp_path):
    bomb = workbook(tmp_path / "string.xlsx", string_filler=("A", 100_000_000))
    assert_refused(acme, sync(acme, bomb), "shared string or whitespace run in xl/sharedStrings.xml is " + CELL_TEXT)


def test_a_small_workbook_built_the_same_way_syncs(acme, tmp_path):
    ran = sync(acme, workbook(tmp_path / "ok.xlsx"))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "applied - read 1, changed 1" in ran.stdout


def test_a_csv_line_without_end_is_refused(acme, tmp_path):
    bomb = gzip_of(tmp_path / "line.csv.gz", b"sku,qty,cost\nA,1,", b"9", 100_000_000)
    assert_refused(acme, sync(acme, bomb), "line 2 is longer than the 8 MiB limit for one line")


def test_millions_of_duplicates_under_the_limit_are_counted_not_held(acme, tmp_path):
    feed = gzip_of(tmp_path / "dups.csv.gz", b"sku,qty,cost\n", b"DUPLICATED-SKU-0001,5,1.00\n", 1_500_000)
    ran = sync(acme, feed)
    print(f"peak RSS {ran.max_rss_mb:.0f} MB")
    assert ran.max_rss_mb < MAX_RSS_MB, f"peak RSS {ran.max_rss_mb:.0f} MB"
    assert ran.returncode == 1
    assert "quarantined - read 1,500,000, changed 0, unchanged 0, zeroed 0, rejected 1,499,999" in ran.stdout
    with acme.ctx.uow(read_only=True) as uow:
        run = uow.session.scalars(select(SyncRun)).one()
        stored = len(uow.sync_runs.rejects(run.id))
    assert (run.status, run.rejected, stored) == ("quarantined", 1_499_999, 100_000)
