"""Schema, migrations and atomic reservations on real SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from dropbridge.domain.model import Supplier, SupplierOffer
from dropbridge.services.connections import add_store, add_supplier, describe
from dropbridge.storage.migrate import current
from dropbridge.storage.tables import metadata


def test_migrations_reach_head_and_match_the_tables(app):
    from alembic.script import ScriptDirectory

    from dropbridge.storage.migrate import alembic_config

    assert current(app.engine) == ScriptDirectory.from_config(alembic_config(app.engine)).get_current_head()
    with app.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    names = set(inspect(app.engine).get_table_names())
    assert {"stores", "suppliers", "supplier_offers", "orders", "order_lines", "reservations", "supplier_orders",
            "shipments", "ledger_entries", "sync_runs", "alerts", "audit_events", "webhook_events", "jobs"} <= names


def test_credentials_are_encrypted_at_rest_and_never_listed(app):
    add_supplier(app.ctx, "acme", "rest", "http://x", {"api_key": "sk_live_very_secret"}, {"currency": "USD"})
    add_store(app.ctx, "shop", "headless", "http://y", {"webhook_secret": "whsec_shh"})
    with app.engine.connect() as conn:
        raw = b"".join(r[0] for r in conn.exec_driver_sql("SELECT credentials FROM suppliers"))
        audit = " ".join(str(r) for r in conn.exec_driver_sql("SELECT detail FROM audit_events"))
    assert b"sk_live_very_secret" not in raw and raw
    assert "sk_live_very_secret" not in audit and "whsec_shh" not in audit
    with app.ctx.uow(read_only=True) as uow:
        sup = uow.suppliers.by_name("acme")
        assert "sk_live" not in str(describe(sup))
        assert app.ctx.vault.decrypt(f"supplier:{sup.id}", sup.credentials) == {"api_key": "sk_live_very_secret"}


def test_concurrent_reservations_never_take_more_than_available(app):
    now = datetime.now(UTC)
    with app.ctx.uow() as uow:
        sup = uow.add(Supplier(name="acme", kind="rest", created_at=now))
        uow.flush()
        offer = uow.add(SupplierOffer(supplier_id=sup.id, supplier_sku="LAST", cost_minor=100, currency="USD",
                                      stock=6, updated_at=now))
        uow.commit()
        offer_id = offer.id
    wins = []
    barrier = threading.Barrier(12)

    def take():
        barrier.wait()
        with app.ctx.uow() as uow:
            ok = uow.offers.try_reserve(offer_id, 1, buffer=1)
            uow.commit()
            wins.append(ok)

    threads = [threading.Thread(target=take) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False] * 7 + [True] * 5  # stock 6 minus a buffer of 1
    with app.ctx.uow(read_only=True) as uow:
        assert uow.get(SupplierOffer, offer_id).reserved == 5


def test_the_head_read_from_the_version_files_is_alembics(app):
    from alembic.script import ScriptDirectory

    from dropbridge.storage.migrate import alembic_config, file_head, stamped

    assert file_head() == ScriptDirectory.from_config(alembic_config(app.engine)).get_current_head()
    assert stamped(app.engine) == [file_head()]


def test_a_database_behind_head_is_still_upgraded(tmp_path, db_url):
    from dropbridge.storage.db import make_engine
    from dropbridge.storage.migrate import file_head, stamped, upgrade

    engine = make_engine(db_url)
    try:
        assert stamped(engine) == []  # an empty database: no alembic_version table yet
        upgrade(engine, "0017_benches")
        assert stamped(engine) == ["0017_benches"]
        upgrade(engine)
        assert stamped(engine) == [file_head()] and current(engine) == file_head()
        assert "supplier_offers" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_a_command_on_a_database_at_head_does_not_import_alembic(tmp_path):
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    code = ("import sys\nfrom dropbridge.storage.db import make_engine\n"
            "from dropbridge.storage.migrate import upgrade\n"
            f"upgrade(make_engine({url!r}))\nprint('alembic' in sys.modules)")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
            for _ in range(2)]
    assert runs == ["True", "False"]  # the first run migrates; the second finds the database at head
