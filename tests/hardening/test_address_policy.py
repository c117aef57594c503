"""One address policy for every fetch merchant data steers (feed URLs, images): public addresses only unless
allowed, IPv4 inside IPv6 unwrapped, every redirect hop checked, and no remote body quoted in errors or
alerts. The feed URL cases run on SQLite and PostgreSQL."""

from __future__ import annotations

import ipaddress

import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from dropbridge.config import Settings
from dropbridge.connectors.kit.addresses import AddressPolicy, AddressRefused, embedded_ipv4, is_public_address
from dropbridge.domain.errors import ConfigurationError, PermanentError
from dropbridge.domain.model import Alert, SupplierOffer, SyncRun
from dropbridge.sandbox.kit.server import start_server
from dropbridge.services.connections import add_supplier
from dropbridge.services.feed_sources import fetch_due_feeds, fetch_feed_url


@pytest.mark.parametrize("address,public", [
    ("127.0.0.1", False), ("10.1.2.3", False), ("169.254.169.254", False), ("100.64.0.1", False),
    ("::1", False), ("fe80::1", False), ("fc00::1", False),
    ("::ffff:127.0.0.1", False), ("::ffff:169.254.169.254", False), ("::127.0.0.1", False), ("::10.0.0.1", False),
    ("64:ff9b::7f00:1", False), ("64:ff9b::a9fe:a9fe", False), ("64:ff9b:1::a00:1", False),
    ("2002:7f00:1::", False), ("2002:a9fe:a9fe::1", False),
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", False),  # Teredo, client 127.0.0.1
    ("8.8.8.8", True), ("::ffff:8.8.8.8", True), ("64:ff9b::808:808", True), ("2002:808:808::1", True),
    ("2606:4700:4700::1111", True),
])
def test_public_addresses_only_with_ipv4_inside_ipv6_unwrapped(address, public):
    assert is_public_address(ipaddress.ip_address(address)) is public


def test_embedded_ipv4():
    assert str(embedded_ipv4(ipaddress.ip_address("::ffff:10.0.0.1"))) == "10.0.0.1"
    assert str(embedded_ipv4(ipaddress.ip_address("64:ff9b::a00:1"))) == "10.0.0.1"
    assert str(embedded_ipv4(ipaddress.ip_address("2002:a00:1::"))) == "10.0.0.1"
    assert embedded_ipv4(ipaddress.ip_address("2606:4700::1")) is None


def test_a_name_resolving_to_a_mapped_loopback_is_refused():
    policy = AddressPolicy(resolve=lambda host, port, proto: [(10, 1, 6, "", ("::ffff:127.0.0.1", port, 0, 0))])
    with pytest.raises(AddressRefused) as exc:
        policy.check_url("https://feeds.example.com/stock.csv")
    mapped = ipaddress.ip_address("::ffff:127.0.0.1")
    assert (exc.value.reason, exc.value.detail) == ("not a public address", f"feeds.example.com is {mapped}")
    assert isinstance(exc.value, PermanentError)


def test_the_general_setting_and_the_old_image_setting(monkeypatch):
    monkeypatch.delenv("DROPBRIDGE_ALLOW_PRIVATE_HOSTS", raising=False)
    monkeypatch.delenv("DROPBRIDGE_IMAGES_ALLOW_PRIVATE_HOSTS", raising=False)
    assert Settings().private_hosts_allowed is False
    monkeypatch.setenv("DROPBRIDGE_IMAGES_ALLOW_PRIVATE_HOSTS", "true")
    assert Settings().private_hosts_allowed is True
    monkeypatch.delenv("DROPBRIDGE_IMAGES_ALLOW_PRIVATE_HOSTS")
    monkeypatch.setenv("DROPBRIDGE_ALLOW_PRIVATE_HOSTS", "1")
    assert Settings().private_hosts_allowed is True


class Internal:
    """A server on 127.0.0.1 standing for something on the merchant's network."""

    def __init__(self):
        self.hits: list[str] = []
        self.server = start_server(Starlette(routes=[Route("/{path:path}", self.serve)]))

    async def serve(self, request: Request) -> Response:
        self.hits.append(request.url.path)
        if request.url.path == "/hop":
            return RedirectResponse(f"http://127.0.0.2:{self.port}/secret", status_code=302)
        if request.url.path == "/error":
            return Response("root:x:0:0:SECRET-FILE-LINE\n", status_code=500)
        if request.url.path == "/page":
            return Response("<html>SECRET-PAGE-TITLE</html>\n", media_type="text/html")
        if request.url.path == "/internal.csv":
            return Response("internal-hostname,db-password\nfoo,bar\n", media_type="text/csv")
        return Response("sku,qty,cost\nA,1,1.00\n", media_type="text/csv")

    @property
    def port(self) -> int:
        return int(self.server.url.rsplit(":", 1)[1])


@pytest.fixture
def internal():
    host = Internal()
    yield host
    host.server.stop()


def state(app):
    with app.ctx.uow(read_only=True) as uow:
        runs = uow.session.scalar(select(func.count()).select_from(SyncRun))
        offers = uow.session.scalar(select(func.count()).select_from(SupplierOffer))
        alerts = [a.message for a in uow.session.scalars(select(Alert))]
    return runs, offers, alerts


def test_a_feed_url_on_a_private_address_is_never_fetched(app, internal):
    url = f"{internal.server.url}/stock.csv?key=topsecret"
    add_supplier(app.ctx, "acme", "feed", "", {}, {"currency": "USD", "feed_source": {"url": url}})
    with pytest.raises(ConfigurationError) as exc:
        fetch_feed_url(app.ctx, "acme")
    assert str(exc.value) == (f"feed {internal.server.url}/stock.csv?key=***: not a public address: 127.0.0.1 is "
                              "127.0.0.1 (DROPBRIDGE_ALLOW_PRIVATE_HOSTS allows private and loopback addresses)")
    assert internal.hits == []
    assert state(app) == (0, 0, [])
    assert fetch_due_feeds(app.ctx) == {"acme": f"failed: {exc.value}"}  # the scheduler: refused, alerted
    assert internal.hits == []
    runs, offers, alerts = state(app)
    assert (runs, offers) == (0, 0) and len(alerts) == 1 and "topsecret" not in alerts[0]


def test_a_redirect_hop_to_another_private_address_is_refused(app, internal, monkeypatch):
    from dropbridge.connectors.kit import addresses
    from dropbridge.services.feed_sources import set_feed_url

    # Only the first host is allowed (as a merchant's own supplier on the LAN would be): the hop is not.
    only_first = AddressPolicy(lambda ip: str(ip) == "127.0.0.1")
    monkeypatch.setattr(addresses.AddressPolicy, "from_settings", classmethod(lambda cls, settings: only_first))
    add_supplier(app.ctx, "acme", "feed", "", {}, {"currency": "USD"})
    set_feed_url(app.ctx, "acme", f"{internal.server.url}/hop")
    with pytest.raises(ConfigurationError, match="not a public address: 127.0.0.2 is 127.0.0.2"):
        fetch_feed_url(app.ctx, "acme")
    assert internal.hits == ["/hop"]  # the private target behind the redirect was never asked
    assert state(app)[:2] == (0, 0)


def test_errors_and_alerts_never_quote_what_the_server_answered(app, internal):
    app.settings.allow_private_hosts = True  # allowed, so the fetch happens and the answer comes back
    add_supplier(app.ctx, "acme", "feed", "", {}, {"currency": "USD",
                                                   "feed_source": {"url": f"{internal.server.url}/error"}})
    assert fetch_due_feeds(app.ctx) == {"acme": f"failed: feed {internal.server.url}/error: HTTP 500"}
    from dropbridge.services.feed_sources import set_feed_url

    set_feed_url(app.ctx, "acme", f"{internal.server.url}/page")
    outcome = fetch_feed_url(app.ctx, "acme")
    assert outcome.status == "failed"
    runs, offers, alerts = state(app)
    assert (runs, offers) == (1, 0)
    assert len(alerts) == 2
    for text in (*alerts, outcome.reason):
        assert "SECRET" not in text
    assert outcome.reason == "unreadable feed: looks like HTML or XML, not CSV (an error page instead of the feed?)"


def test_a_feed_whose_headers_do_not_fit_is_not_quoted_either(app, internal):
    app.settings.allow_private_hosts = True
    add_supplier(app.ctx, "acme", "feed", "", {}, {"currency": "USD",
                                                   "feed_source": {"url": f"{internal.server.url}/internal.csv"}})
    outcome = fetch_feed_url(app.ctx, "acme")
    assert outcome.status == "failed"
    assert outcome.reason.startswith("unreadable feed: no column for required field 'sku' (aliases tried: ")
    assert "headers seen" not in outcome.reason
    assert "internal-hostname" not in outcome.reason and "db-password" not in outcome.reason
    assert not any("db-password" in a for a in state(app)[2])
