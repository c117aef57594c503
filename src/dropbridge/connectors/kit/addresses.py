"""One address policy for every outbound fetch that merchant data can steer (feed URLs, product images):
public addresses only, unless the deployment allows private ones (DROPBRIDGE_ALLOW_PRIVATE_HOSTS; the older
DROPBRIDGE_IMAGES_ALLOW_PRIVATE_HOSTS means the same).

An IPv6 address that carries an IPv4 one (IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d, NAT64
64:ff9b::/96 and 64:ff9b:1::/48, 6to4 2002::/16, Teredo 2001::/32) is judged by the IPv4 address inside, so
::ffff:127.0.0.1 is loopback. Every redirect hop is resolved and checked again (`open_checked`). The check
resolves the name before httpx connects, so a name that changes its answer in between (DNS rebinding) is not
covered; a network egress policy covers that.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Callable, Iterator, Mapping
from urllib.parse import urlsplit

import httpx

from dropbridge.domain.errors import PermanentError

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_REDIRECTS = 5
NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


class AddressRefused(PermanentError):
    """A fetch the policy will not make. `reason` is short and stable; `detail` says which host and address."""

    def __init__(self, reason: str, detail: str | None = None):
        super().__init__(reason if not detail else f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def embedded_ipv4(ip: IP) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries, if it carries one."""
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if any(ip in net for net in NAT64):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]  # the client's address
    if ip in IPV4_COMPATIBLE and int(ip) > 1:  # ::a.b.c.d (:: and ::1 are IPv6's own)
        return ipaddress.IPv4Address(int(ip))
    return None


def is_public_address(ip: IP) -> bool:
    """Routable on the internet: not loopback, private, link-local (cloud metadata), shared, multicast or
    reserved; an IPv6 address carrying an IPv4 one is judged by the IPv4 address (and must be global too)."""
    inner = embedded_ipv4(ip)
    if inner is not None:
        return inner.is_global and not inner.is_multicast
    return ip.is_global and not ip.is_multicast


def any_address(ip: IP) -> bool:
    return True


class AddressPolicy:
    """Which resolved addresses may be fetched: `allow(ip)`, public ones by default."""

    def __init__(self, allow: Callable[[IP], bool] = is_public_address,
                 resolve: Callable[..., list] = socket.getaddrinfo):
        self.allow = allow
        self.resolve = resolve

    @classmethod
    def from_settings(cls, settings) -> AddressPolicy:
        allowed = bool(getattr(settings, "private_hosts_allowed", False))
        return cls(any_address if allowed else is_public_address)

    def check_url(self, url: str) -> None:
        """Raise AddressRefused unless `url` is http(s) and every address its host resolves to is allowed."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise AddressRefused("not an http(s) URL")
        host = parts.hostname
        try:
            literal = ipaddress.ip_address(host.split("%")[0])
        except ValueError:
            literal = None
        if literal is not None:
            addresses = [literal]
        else:
            try:
                infos = self.resolve(host, parts.port or (443 if parts.scheme == "https" else 80),
                                     proto=socket.IPPROTO_TCP)
            except (OSError, UnicodeError) as exc:
                raise AddressRefused("cannot resolve", f"{host}: {exc}") from None
            addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        for ip in addresses:
            if not self.allow(ip):
                raise AddressRefused("not a public address", f"{host} is {ip}")


@contextlib.contextmanager
def open_checked(client: httpx.Client, url: str, policy: AddressPolicy, *, method: str = "GET",
                 headers: Mapping[str, str] | None = None,
                 max_redirects: int = MAX_REDIRECTS) -> Iterator[httpx.Response]:
    """The streamed response to `url`, redirects followed here with every hop checked by `policy`
    (the client itself must not follow them)."""
    for _ in range(max_redirects + 1):
        policy.check_url(url)
        with client.stream(method, url, headers=dict(headers or {}), follow_redirects=False) as response:
            if response.has_redirect_location:  # 3xx with a Location (a 304 is an answer, not a redirect)
                url = str(response.url.join(response.headers["Location"]))
                continue
            yield response
            return
    raise AddressRefused("too many redirects", f"more than {max_redirects}")
