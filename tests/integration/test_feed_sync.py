"""Feed sync on real databases: changed rows only, bad rows reported by line, quarantine of short feeds."""

from __future__ import annotations

import io

import pytest

from dropbridge.domain.model import SupplierOffer
from dropbridge.services.connections import add_supplier
from dropbridge.services.order_view import list_alerts, sync_run_detail
from dropbridge.services.sync_feed import sync_feed


def feed(rows, extra=""):
    return io.BytesIO(("sku,qty,cost\n" + "".join(f"{s},{q},{c}\n" for s, q, c in rows) + extra).encode())


def stock(app) -> dict[str, tuple[int, int]]:
    with app.ctx.uow(read_only=True) as uow:
        from sqlalchemy import select

        return {o.supplier_sku: (o.stock, o.cost_minor) for o in uow.session.scalars(select(SupplierOffer))}


@pytest.fixture
def acme(app):
    add_supplier(app.ctx, "acme", "rest", "http://x", {"api_key": "k"},
                 {"currency": "USD", "feed_max_error_rate": 0.2})
    return app


ROWS = [(f"SKU-{i:03d}", i, f"{i}.50") for i in range(1, 21)]


def test_full_then_changed_rows_only(acme):
    app = acme
    first = sync_feed(app.ctx, "acme", feed(ROWS), "a.csv")
    assert (first.status, first.rows_read, first.changed, first.inserted, first.unchanged) == ("applied", 20, 20, 20, 0)
    changed = [(s, q + 1, c) if i % 5 == 0 else (s, q, c) for i, (s, q, c) in enumerate(ROWS)]
    changed[1] = (changed[1][0], changed[1][1], "99.99")  # a price change
    second = sync_feed(app.ctx, "acme", feed(changed[:-1]), "b.csv")  # the last SKU is absent
    assert (second.status, second.changed, second.unchanged, second.zeroed, second.pushes_owed) == (
        "applied", 5, 14, 1, 6)
    s = stock(app)
    assert s["SKU-001"] == (2, 150) and s["SKU-002"] == (2, 9999) and s["SKU-020"] == (0, 2050)


def test_bad_rows_are_reported_with_line_numbers_and_good_rows_apply(acme):
    app = acme
    out = sync_feed(app.ctx, "acme", feed(ROWS[:10], extra="BAD-1,-3,1.00\nBAD-2,4,abc\n"), "c.csv")
    assert (out.status, out.rows_read, out.changed, out.rejected) == ("applied", 12, 10, 2)
    detail = sync_run_detail(app.ctx, out.run_id)
    assert [(r["line"], r["field"]) for r in detail["rejects"]] == [(12, "qty"), (13, "cost")]
    assert "BAD-1" not in stock(app) and len(stock(app)) == 10


def test_truncated_full_feed_is_quarantined_and_changes_nothing(acme):
    app = acme
    sync_feed(app.ctx, "acme", feed(ROWS), "full.csv")
    before = stock(app)
    out = sync_feed(app.ctx, "acme", feed([(s, 0, c) for s, q, c in ROWS[:8]]), "half.csv")
    assert out.status == "quarantined"
    assert "below 50% of the last good run's 20" in out.reason
    assert stock(app) == before
    assert [a["kind"] for a in list_alerts(app.ctx)][:1] == ["feed.quarantined"]
    empty = sync_feed(app.ctx, "acme", io.BytesIO(b""), "empty.csv")
    assert empty.status == "quarantined" and "never zeroes" in empty.reason
    assert stock(app) == before


def test_delta_feed_touches_only_its_rows(acme):
    app = acme
    sync_feed(app.ctx, "acme", feed(ROWS), "full.csv")
    out = sync_feed(app.ctx, "acme", feed([("SKU-003", 0, "3.50")]), "delta.csv", mode="delta")
    assert (out.status, out.changed, out.zeroed) == ("applied", 1, 0)
    s = stock(app)
    assert s["SKU-003"] == (0, 350) and s["SKU-004"] == (4, 450) and len(s) == 20


def test_rejected_rows_download_as_csv_with_line_field_reason_and_raw(acme):
    from dropbridge.services.sync_feed import rejects_csv

    app = acme
    out = sync_feed(app.ctx, "acme", feed(ROWS[:10], extra="BAD-1,-3,1.00\nBAD-2,4,abc\n"), "c.csv")
    text = "".join(rejects_csv(app.ctx, out.run_id))
    lines = text.splitlines()
    assert lines[0] == "line,field,reason,raw"
    assert [ln.split(",")[:2] for ln in lines[1:]] == [["12", "qty"], ["13", "cost"]]
    assert lines[1].endswith(",\"BAD-1,-3,1.00\"") and lines[2].endswith(",\"BAD-2,4,abc\"")
    clean = sync_feed(app.ctx, "acme", feed(ROWS), "d.csv")
    assert list(rejects_csv(app.ctx, clean.run_id)) == ["line,field,reason,raw\n"]


def test_every_rejected_row_is_stored_not_only_the_first_few(acme):
    from dropbridge.services.order_view import sync_run_detail

    app = acme
    bad = "".join(f"BAD-{i},-1,1.00\n" for i in range(30))
    rows = [(f"SKU-{i:04d}", i, "1.00") for i in range(200)]
    out = sync_feed(app.ctx, "acme", feed(rows, extra=bad), "e.csv")
    assert (out.status, out.rejected, len(out.rejects)) == ("applied", 30, 20)
    detail = sync_run_detail(app.ctx, out.run_id, rejects=1000)
    assert [r["line"] for r in detail["rejects"]] == list(range(202, 232))


def test_two_concurrent_syncs_of_one_supplier_serialise_and_count_exactly(acme):
    import threading

    app = acme
    sync_feed(app.ctx, "acme", feed(ROWS), "full.csv")
    changed = [(s, q + 100, c) if i < 5 else (s, q, c) for i, (s, q, c) in enumerate(ROWS)]
    barrier = threading.Barrier(2)
    results, failures = [], []

    def run(name):
        try:
            barrier.wait()
            results.append(sync_feed(app.ctx, "acme", feed(changed[:-1]), name))
        except BaseException as exc:  # surfaced below with the thread's error
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(f"t{i}.csv",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert failures == []
    # Whichever applied second saw the first's result: nothing left to change or zero.
    assert sorted((r.status, r.changed, r.zeroed, r.unchanged) for r in results) == [
        ("applied", 0, 0, 19), ("applied", 5, 1, 14)]
    s = stock(app)
    assert s["SKU-001"] == (101, 150) and s["SKU-006"] == (6, 650) and s["SKU-020"] == (0, 2050)


def test_full_feed_with_new_absent_and_changed_skus_counts_each_once(acme):
    app = acme
    first = [(f"SKU-{i:03d}", 0 if i == 20 else i, f"{i}.50") for i in range(1, 21)]
    sync_feed(app.ctx, "acme", feed(first), "a.csv")
    second = [(s, q + 1 if i < 3 else q, c) for i, (s, q, c) in enumerate(first[:18])]
    out = sync_feed(app.ctx, "acme", feed(second + [("NEW-1", 5, "1.00"), ("NEW-2", 0, "2.00")]), "b.csv")
    # SKU-019 and SKU-020 are absent, but SKU-020 had no stock left to zero.
    assert (out.status, out.changed, out.inserted, out.zeroed, out.unchanged) == ("applied", 5, 2, 1, 15)
    s = stock(app)
    assert (s["SKU-001"], s["SKU-004"], s["SKU-019"], s["SKU-020"], s["NEW-1"]) == (
        (2, 150), (4, 450), (0, 1950), (0, 2050), (5, 100))


def absent(app) -> dict[str, object]:
    with app.ctx.uow(read_only=True) as uow:
        from sqlalchemy import select

        return {o.supplier_sku: o.absent_since for o in uow.session.scalars(select(SupplierOffer))
                if o.absent_since is not None}


def test_a_sku_missing_from_a_full_feed_is_marked_absent_until_it_returns(acme):
    """The mark is what tells follow_variants the supplier dropped the SKU: set by the full feed that first lacks
    it (whether or not it had stock to zero), kept while it stays out, cleared by any feed that lists it again,
    even with nothing else changed; a delta feed marks nothing. The counts stay stock counts."""
    app = acme
    first = [(f"SKU-{i:03d}", 0 if i == 20 else i, f"{i}.50") for i in range(1, 21)]
    sync_feed(app.ctx, "acme", feed(first), "a.csv")
    assert absent(app) == {}
    out = sync_feed(app.ctx, "acme", feed(first[:17]), "b.csv")  # 018, 019 (stock) and 020 (none) absent
    assert (out.changed, out.zeroed, out.unchanged) == (0, 2, 17)
    marked = absent(app)
    assert sorted(marked) == ["SKU-018", "SKU-019", "SKU-020"]
    from dropbridge.services.queries.offers import list_offers

    shown = {r["supplier_sku"]: r["absent_since"] for r in list_offers(app.ctx, supplier="acme")}
    assert [sku for sku, since in sorted(shown.items()) if since] == sorted(marked) and shown["SKU-001"] is None
    again = sync_feed(app.ctx, "acme", feed(first[:17]), "c.csv")
    assert (again.changed, again.zeroed) == (0, 0) and absent(app) == marked  # still absent since the first
    delta = sync_feed(app.ctx, "acme", feed(first[:3]), "d.csv", mode="delta")
    assert (delta.changed, absent(app)) == (0, marked)  # a delta feed says nothing of the SKUs it leaves out
    # SKU-020 comes back as it was (no stock): only its mark changes; SKU-019 comes back in a delta feed.
    back = sync_feed(app.ctx, "acme", feed(first[:17] + [first[19]]), "e.csv")
    assert (back.changed, back.zeroed) == (1, 0)
    assert sorted(absent(app)) == ["SKU-018", "SKU-019"]
    sync_feed(app.ctx, "acme", feed([first[18]]), "f.csv", mode="delta")
    assert sorted(absent(app)) == ["SKU-018"] and stock(app)["SKU-019"] == (19, 1950)


def test_duplicates_and_odd_lines_between_plain_runs_keep_their_line_numbers(acme):
    app = acme
    plain = [f"SKU-{i:03d},{i},{i}.50" for i in range(1, 21)]
    lines = plain[:5] + ['"SKU-Q",3,3.50', "SKU-001,9,9.99", "BAD-1,-1,1.00"] + plain[5:] + ["SKU-Q,7,7.00"]
    out = sync_feed(app.ctx, "acme", io.BytesIO(("sku,qty,cost\n" + "\n".join(lines) + "\n").encode()), "d.csv")
    assert (out.status, out.rows_read, out.rejected, out.changed) == ("applied", 24, 3, 21)
    assert [r[:2] for r in out.rejects] == [(8, "sku"), (9, "qty"), (25, "sku")]
    assert (out.rejects[0][2], out.rejects[2][2]) == (
        "duplicate sku, first seen on line 2", "duplicate sku, first seen on line 7")
    s = stock(app)
    assert (s["SKU-001"], s["SKU-Q"], s["SKU-020"]) == ((1, 150), (3, 350), (20, 2050))

