"""A feed config that cannot be used, and dry runs of files that do not fit: a clear error naming the key,
exit 2, no run created (let alone left `running`); a dry run shows what it can with the problem. On SQLite
and PostgreSQL."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select, update

from dropbridge.domain.errors import ConfigurationError
from dropbridge.domain.model import SyncRun
from dropbridge.services.connections import add_supplier
from dropbridge.services.sync_feed import sync_feed
from dropbridge.storage import tables as t

from .cli_tools import cli_env, run_cli

BAD_CONFIGS = [
    ({"delimter": ";"}, "config key 'feed': unknown feed spec keys: ['delimter']"),
    ({"mapping": ["sku", "qty"]}, "config key 'feed': mapping must be a JSON object or a preset name, not list"),
    ({"mapping": {"fields": "sku"}}, "config key 'feed': mapping.fields must be a JSON object, not str"),
    ({"mapping": {"fields": {"sku": {"col": 1}}}}, "mapping.fields.sku must be a column name, a 1-based column "
                                                   "number or a list of them, not {'col': 1}"),
    ({"mapping": {"transforms": {"cost": "x"}}}, "mapping.transforms.cost must be a JSON object, not str"),
    ({"has_header": "yes"}, "feed.has_header must be true or false, not 'yes'"),
    ({"encoding": "klingon"}, "config key 'feed': unknown encoding: klingon"),
    ("csv", "config key 'feed' must be a JSON object, not str"),
]


def stored_bad_config(app, feed) -> None:
    """A config as an older version (or a hand edit) may have stored it: past add_supplier's check."""
    add_supplier(app.ctx, "acme", "rest", "http://x", {"api_key": "k"}, {"currency": "USD"})
    with app.ctx.uow() as uow:
        uow.session.execute(update(t.suppliers).values(config={"currency": "USD", "feed": feed}))
        uow.commit()


def runs(app) -> int:
    with app.ctx.uow(read_only=True) as uow:
        return uow.session.scalar(select(func.count()).select_from(SyncRun))


@pytest.mark.parametrize("feed,message", BAD_CONFIGS)
def test_sync_with_a_bad_feed_config_is_refused_before_any_run(app, feed, message):
    stored_bad_config(app, feed)
    with pytest.raises(ConfigurationError) as exc:
        sync_feed(app.ctx, "acme", io.BytesIO(b"sku,qty,cost\nA,1,1.00\n"), "a.csv")
    assert f"supplier 'acme': {message}" in str(exc.value) or message in str(exc.value)
    assert runs(app) == 0


@pytest.mark.parametrize("feed,message", BAD_CONFIGS[:3])
def test_adding_a_supplier_with_a_bad_feed_config_stores_nothing(app, feed, message):
    with pytest.raises(ConfigurationError, match="config key 'feed'"):
        add_supplier(app.ctx, "acme", "rest", "http://x", {"api_key": "k"}, {"feed": feed})
    with app.ctx.uow(read_only=True) as uow:
        assert uow.suppliers.all() == []


def test_cli_sync_feed_with_a_bad_config_exits_2_naming_the_key(app, tmp_path):
    stored_bad_config(app, {"mapping": {"fields": "sku"}})
    feed = tmp_path / "a.csv"
    feed.write_text("sku,qty,cost\nA,1,1.00\n")
    ran = run_cli(["sync", "feed", "acme", str(feed)], cli_env(app.settings))
    assert ran.returncode == 2
    assert ran.stdout == ""
    assert ran.stderr.strip() == ("error: supplier 'acme': config key 'feed': mapping.fields must be a JSON "
                                  "object, not str")
    assert runs(app) == 0
    add = run_cli(["supplier", "add", "beta", "--kind", "rest", "--config", '{"feed": {"delimter": ";"}}'],
                  cli_env(app.settings))
    assert add.returncode == 2 and "unknown feed spec keys: ['delimter']" in add.stderr
    with app.ctx.uow(read_only=True) as uow:
        assert [s.name for s in uow.suppliers.all()] == ["acme"]


def test_an_unexpected_failure_mid_run_closes_the_run_as_failed(app):
    add_supplier(app.ctx, "acme", "rest", "http://x", {"api_key": "k"}, {"currency": "USD"})

    class Broken(io.BytesIO):
        def read(self, *args):
            if self.tell() > 0:
                raise OSError("disk gone")
            return super().read(*args)

    with pytest.raises(OSError, match="disk gone"):
        sync_feed(app.ctx, "acme", Broken(b"sku,qty,cost\n" + b"A,1,1.00\n" * 20_000), "a.csv")
    with app.ctx.uow(read_only=True) as uow:
        run = uow.session.scalars(select(SyncRun)).one()
    assert (run.status, run.report["reason"]) == ("failed", "interrupted: OSError")


def test_dry_run_with_a_mapping_that_does_not_fit_shows_the_rows_and_the_problem(app, tmp_path):
    add_supplier(app.ctx, "acme", "rest", "http://x", {"api_key": "k"},
                 {"currency": "USD", "feed": {"mapping": {"fields": {"sku": ["Item #"]}}}})
    feed = tmp_path / "other.csv"
    feed.write_text("code,units,price\nA-1,4,1.50\n")
    ran = run_cli(["sync", "feed", "acme", str(feed), "--dry-run"], cli_env(app.settings))
    assert ran.returncode == 1, ran.stderr
    assert "Traceback" not in ran.stdout + ran.stderr
    flat = " ".join(ran.stdout.split())
    assert "first rows as they are in the file" in flat and "A-1" in flat and "units" in flat
    assert ("problem: no column for required field 'sku' (aliases tried: 'Item #'); headers seen: 'code', "
            "'units', 'price'") in " ".join(ran.stdout.split())
    assert runs(app) == 0


def test_dry_run_of_an_x12_846_shows_its_items(app):
    from pathlib import Path

    add_supplier(app.ctx, "acme", "rest", "http://x", {"api_key": "k"}, {"currency": "USD"})
    sample = Path(__file__).parents[1] / "edi" / "samples" / "846.edi"
    ran = run_cli(["sync", "feed", "acme", str(sample), "--dry-run"], cli_env(app.settings))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "846.edi: first rows as dropbridge reads them" in " ".join(ran.stdout.split())
    assert "42" in ran.stdout  # the first item's quantity
    assert runs(app) == 0
    other = Path(__file__).parents[1] / "edi" / "samples" / "850.edi"
    ran = run_cli(["sync", "feed", "acme", str(other), "--dry-run"], cli_env(app.settings))
    assert ran.returncode == 1
    assert "problem: 850.edi: the interchange holds no 846 transaction set" in " ".join(ran.stdout.split())
