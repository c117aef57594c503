"""Example supplier feeds in every shape the readers handle, for tests, the demo and the emulators.

Each writer takes a path and returns it. `write_all(directory)` writes the whole set.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path


def _write(path: Path | str, data: bytes) -> Path:
    p = Path(path)
    p.write_bytes(data)
    return p


def clean_csv(path: Path | str) -> Path:
    """Comma-separated, UTF-8, the generic headers, a quoted title with a comma and a newline."""
    return _write(path, (
        b"SKU,Quantity Available,Cost,UPC,Title\r\n"
        b"TS-BLK-M,42,12.50,012345678905,Tee Black M\r\n"
        b"TS-BLK-L,0,12.50,012345678912,Tee Black L\r\n"
        b'MUG-01,7,"1,234.50",,"Mug, ""big""\r\nceramic"\r\n'
        b"CAP-01,3,$4.9950,,Cap\r\n"
    ))


def bom_csv(path: Path | str) -> Path:
    """UTF-8 with a byte order mark (Excel's "CSV UTF-8") and an accented title."""
    return _write(path, b"\xef\xbb\xbf" + "sku,qty,cost,title\nCAFE-1,5,3.20,Caf\u00e9 cr\u00e8me\n".encode())


def cp1252_csv(path: Path | str) -> Path:
    """Windows-1252 (Excel's plain "CSV" on Windows in Western locales)."""
    return _write(path, "sku,qty,cost,title\nCAFE-2,4,2.10,Caf\u00e9 \u201cnoir\u201d\n".encode("cp1252"))


def semicolon_csv(path: Path | str) -> Path:
    """European Excel: ';' delimiter, decimal comma, '.' thousands, euro amounts."""
    return _write(path, (
        "Artikelnummer;Bestand;Preis;W\u00e4hrung\n"
        "DE-100;12;12,50;EUR\n"
        "DE-200;1.200;1.234,50;EUR\n"
        "DE-300;3;7,5 \u20ac;EUR\n"
    ).encode())


def pipe_csv(path: Path | str) -> Path:
    """'|' delimiter; images listed with ',' inside a cell."""
    return _write(path, (
        b"item_sku|qty_avail|price|images\n"
        b"P-1|9|19.99|https://cdn.example.com/p1a.jpg,https://cdn.example.com/p1b.jpg\n"
        b"P-2|0|5.00|\n"
    ))


def tsv(path: Path | str) -> Path:
    """Tab-separated."""
    return _write(path, b"sku\tqty\tcost\nT-1\t1\t1.00\nT-2\t2\t2.00\n")


def lost_zeros_csv(path: Path | str) -> Path:
    """UPCs and EANs after a trip through Excel: leading zeros gone, some with ".0", one bad."""
    return _write(path, (
        b"sku,qty,cost,upc\n"
        b"Z-1,1,1.00,12345678905\n"  # UPC-A 012345678905
        b"Z-2,1,1.00,12345678905.0\n"
        b"Z-3,1,1.00,4006381333931\n"  # EAN-13, intact
        b"Z-4,1,1.00,12345678906\n"  # wrong check digit: row kept, gtin None, error reported
        b"Z-5,1,1.00,1.23457E+11\n"  # scientific notation: digits lost
    ))


def malformed_csv(path: Path | str) -> Path:
    """Every kind of bad row, between good ones."""
    return _write(path, (
        b"sku,qty,cost\n"
        b"OK-1,5,10.00\n"
        b",5,10.00\n"  # blank sku
        b"BAD-QTY,-3,10.00\n"
        b"BAD-QTY2,lots,10.00\n"
        b"BAD-COST,5,\n"
        b"BAD-COST2,5,ten\n"
        b"NEG-COST,5,-1.00\n"
        b"OK-1,6,11.00\n"  # duplicate
        b"\n"
        b"SHIFTED,5,10.00,extra\n"
        b"OK-2,1.0,0.5\n"
        b"TRUNC,5\n"
    ))


def empty_file(path: Path | str) -> Path:
    return _write(path, b"")


def header_only_csv(path: Path | str) -> Path:
    return _write(path, b"sku,qty,cost\r\n")


def xlsx(path: Path | str) -> Path:
    """A workbook as Excel types it: UPCs and quantities as floats, a cost as 12.5, a text cost."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Inventory"
    ws.append(["SKU", "Qty", "Cost", "UPC", "Title"])
    ws.append(["X-1", 5.0, 12.5, 12345678905.0, "Tee"])
    ws.append(["X-2", 3, 0.1, None, "Mug"])
    ws.append([None, None, None, None, None])  # an empty row: skipped, numbering kept
    ws.append(["X-3", 1, "$7.25", "4006381333931", None])
    ws.append(["X-4", -1, 2, None, "Bad"])
    wb.save(Path(path))
    return Path(path)


def json_feed(path: Path | str) -> Path:
    """An object holding the product list under "products"; nested price; a 3-decimal amount."""
    return _write(path, (
        b'{"generated": "2024-03-15T14:00:00Z", "products": [\n'
        b' {"sku": "J-1", "inventory": {"quantity": 4}, "price": {"amount": 19.990, "currency": "EUR"},\n'
        b'  "barcode": "4006381333931", "title": "Lamp",\n'
        b'  "images": ["https://x.example/a.jpg", "https://x.example/b.jpg"]},\n'
        b' {"sku": "J-2", "inventory": {"quantity": 0}, "price": {"amount": 5, "currency": "EUR"}},\n'
        b' {"sku": "J-3", "inventory": {"quantity": "n/a"}, "price": {"amount": 1, "currency": "EUR"}}\n'
        b"]}\n"
    ))


def jsonl_feed(path: Path | str) -> Path:
    """One object per line, with a blank line and a broken line."""
    return _write(path, (
        b'{"sku": "L-1", "qty": 2, "cost": "3.50"}\n'
        b"\n"
        b'{"sku": "L-2", "qty": 1, "cost": 4.25, "lead_time": "3-5 days"}\n'
        b'{"sku": "L-3", "qty": 1, "cost": \n'
        b'{"sku": "L-4", "qty": 8, "cost": 1}\n'
    ))


def large_csv(path: Path | str, rows: int = 1000, seed: int = 7) -> Path:
    """sku,qty,cost with `rows` rows, deterministic for a seed (benchmarks, the demo)."""
    rnd = random.Random(seed)
    p = Path(path)
    with p.open("w", encoding="utf-8", newline="") as f:
        f.write("sku,qty,cost\n")
        for i in range(rows):
            f.write(f"SKU-{i:08d},{rnd.randrange(0, 500)},{rnd.randrange(100, 100_000) / 100:.2f}\n")
    return p


SAMPLES: dict[str, Callable[[Path | str], Path]] = {
    "clean.csv": clean_csv,
    "bom.csv": bom_csv,
    "cp1252.csv": cp1252_csv,
    "semicolon.csv": semicolon_csv,
    "pipe.csv": pipe_csv,
    "tabs.tsv": tsv,
    "lost_zeros.csv": lost_zeros_csv,
    "malformed.csv": malformed_csv,
    "empty.csv": empty_file,
    "header_only.csv": header_only_csv,
    "inventory.xlsx": xlsx,
    "products.json": json_feed,
    "stock.jsonl": jsonl_feed,
}


def write_all(directory: Path | str) -> dict[str, Path]:
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    return {name: writer(d / name) for name, writer in SAMPLES.items()}
