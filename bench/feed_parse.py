"""Feed parse micro-benchmark: read_feed versus bare csv.reader + int()/Decimal on the same file.

    .venv/bin/python bench/feed_parse.py [ROWS]      (default 200000)

Prints both timings and their ratio. Not part of the test suite; no timed assertions anywhere.
"""

from __future__ import annotations

import csv
import random
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from dropbridge.connectors.formats.feeds.reader import read_feed
from dropbridge.connectors.formats.feeds.spec import FeedSpec


def generate(path: Path, rows: int, seed: int = 7) -> None:
    rnd = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["sku", "qty", "cost"])
        for i in range(rows):
            w.writerow([f"SKU-{i:08d}", rnd.randrange(0, 500), f"{rnd.randrange(100, 100_000) / 100:.2f}"])


def baseline(path: Path) -> int:
    n = 0
    last = None
    with path.open(newline="", encoding="utf-8") as f:
        r = csv.reader(f)
        next(r)
        for row in r:
            last = (row[0].strip(), int(row[1]), Decimal(row[2]))
            n += 1
    assert last is not None
    return n


def ours(path: Path) -> int:
    n = 0
    with path.open("rb") as f:
        for batch in read_feed(f, name=path.name, spec=FeedSpec()):
            n += len(batch.rows)
    return n


def best_of(fn, path: Path, repeat: int = 3) -> tuple[float, int]:
    best, n = float("inf"), 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        n = fn(path)
        best = min(best, time.perf_counter() - t0)
    return best, n


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "feed.csv"
        generate(path, rows)
        t_base, n_base = best_of(baseline, path)
        t_ours, n_ours = best_of(ours, path)
    assert n_base == n_ours == rows, (n_base, n_ours)
    print(f"rows: {rows}")
    print(f"baseline csv.reader + int/Decimal: {t_base:.3f} s ({rows / t_base:,.0f} rows/s)")
    print(f"read_feed:                         {t_ours:.3f} s ({rows / t_ours:,.0f} rows/s)")
    print(f"ratio read_feed / baseline: {t_ours / t_base:.2f}x")


if __name__ == "__main__":
    main()
