"""The one list of connector kinds. Each connector package declares a `SPEC`: its role, capabilities, typed
config model, credential keys and factory. This registry is what `store add` / `supplier add` validate
against, what routing asks before sending an order, what the contract suites are parametrised over, what
README's configuration reference and `dropbridge connectors` print."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from dropbridge.domain.errors import ConfigurationError, ValidationError
from dropbridge.services.ports import STORE_PORTS, SUPPLIER_PORTS, Capability, ConnectorServices, KindInfo

# Explicit wiring (no import-time discovery): every package here exposes SPEC, named by the package's last part.
STORE_PACKAGES = (
    "dropbridge.connectors.stores.shopify",
    "dropbridge.connectors.stores.woocommerce",
    "dropbridge.connectors.stores.bigcommerce",
    "dropbridge.connectors.stores.headless",
)
SUPPLIER_PACKAGES = (
    "dropbridge.connectors.suppliers.rest",
    "dropbridge.connectors.suppliers.printful",
    "dropbridge.connectors.suppliers.feed",
    "dropbridge.connectors.suppliers.edi_x12",
    "dropbridge.connectors.suppliers.aliexpress",
    "dropbridge.connectors.suppliers.cjdropshipping",
    "dropbridge.connectors.suppliers.email_po",
    "dropbridge.connectors.suppliers.manual",
)


_FEED_CAPABILITIES = frozenset({Capability.CATALOG, Capability.STOCK})


@dataclass(frozen=True)
class ConnectorSpec:
    name: str
    role: str  # "store" | "supplier"
    capabilities: frozenset[Capability]
    config_model: type[BaseModel]
    factory: Callable[[str, Mapping[str, Any], Mapping[str, Any]], Any]  # (base_url, credentials, config)
    credentials: tuple[str, ...] = ()  # required keys
    optional_credentials: tuple[str, ...] = ()
    one_of: tuple[tuple[str, ...], ...] = ()  # alternative required sets (any one complete set will do)
    needs_url: bool = True
    summary: str = ""
    emulator: str | None = None  # the `dropbridge sandbox run` name that emulates it
    offers_by_feed: bool = False  # catalog and stock come as feed files (`sync feed`), not an API pull
    implementation: type | None = field(default=None)  # the connector class, checked against its ports
    mailbox: bool = False  # leaves documents for the scheduler to collect (services/ports.DocumentSource)
    # The factory takes `services=ConnectorServices`: who it is, persisted control numbers, a store for secrets
    # it obtains at run time (access tokens).
    wants_services: bool = False

    def info(self) -> KindInfo:
        return KindInfo(name=self.name, role=self.role, capabilities=self.capabilities,
                        credentials=self.credentials, optional_credentials=self.optional_credentials,
                        config_schema=self.config_model.model_json_schema(), needs_url=self.needs_url,
                        summary=self.summary, offers_by_feed=self.offers_by_feed, mailbox=self.mailbox)


def missing_ports(spec: ConnectorSpec) -> list[str]:
    """The declared capabilities whose protocol the implementation lacks (empty when all are there)."""
    if spec.role != "supplier":
        return _missing_store_ports(spec)
    if spec.implementation is None:
        return ["no implementation class declared"] if spec.capabilities - _FEED_CAPABILITIES else []
    out = []
    for capability in sorted(spec.capabilities):
        if spec.offers_by_feed and capability in (Capability.CATALOG, Capability.STOCK):
            continue
        port = SUPPLIER_PORTS[capability]
        wanted = [name for name in vars(port) if not name.startswith("_") and callable(getattr(port, name))]
        lacking = [name for name in wanted if not callable(getattr(spec.implementation, name, None))]
        if lacking:
            out.append(f"{capability.value} needs {', '.join(lacking)}")
    if spec.mailbox:
        lacking = [name for name in ("collect", "collected") if not callable(getattr(spec.implementation, name, None))]
        if lacking:
            out.append(f"mailbox needs {', '.join(lacking)}")
    return out


def _missing_store_ports(spec: ConnectorSpec) -> list[str]:
    """A store's capabilities beyond the Storefront protocol (prices) each need their protocol's methods."""
    out = []
    for capability in sorted(spec.capabilities & set(STORE_PORTS)):
        port = STORE_PORTS[capability]
        wanted = [name for name in vars(port) if not name.startswith("_") and callable(getattr(port, name))]
        lacking = [name for name in wanted if not callable(getattr(spec.implementation, name, None))]
        if spec.implementation is None or lacking:
            out.append(f"{capability.value} needs {', '.join(lacking) or 'an implementation class'}")
    return out


class Registry:
    """ConnectorDirectory (services/ports.py) over the declared specs. `default()` imports a connector package
    when its kind is first asked for: a `dropbridge` command pays for the connectors it uses, not all twelve.
    Each spec is checked (ports, name) as it is loaded; `specs()` loads and checks them all."""

    def __init__(self, specs: list[ConnectorSpec], packages: Mapping[tuple[str, str], str] | None = None):
        self._specs: dict[tuple[str, str], ConnectorSpec] = {}
        self._packages = dict(packages or {})  # (role, kind) -> package not imported yet
        self._lock = threading.RLock()
        # info() is asked on hot paths (every routing decision asks what a supplier can do) and building a
        # config model's JSON schema costs tens of milliseconds: built once per kind.
        self._infos: dict[tuple[str, str], KindInfo] = {}
        for spec in specs:
            if (spec.role, spec.name) in self._specs or (spec.role, spec.name) in self._packages:
                raise ConfigurationError(f"{spec.role} kind {spec.name!r} registered twice")
            self._add(spec)

    def _add(self, spec: ConnectorSpec) -> None:
        problems = missing_ports(spec)
        if problems:
            raise ConfigurationError(f"{spec.role} kind {spec.name!r} declares what it lacks: {problems}")
        self._specs[(spec.role, spec.name)] = spec

    def _load(self, key: tuple[str, str]) -> None:
        with self._lock:
            package = self._packages.get(key)
            if package is None:
                return
            spec = importlib.import_module(package).SPEC
            if (spec.role, spec.name) != key:
                raise ConfigurationError(f"{package} declares {spec.role} kind {spec.name!r}, not {key[0]} {key[1]!r}")
            self._add(spec)
            del self._packages[key]

    @classmethod
    def default(cls) -> Registry:
        packages = {("store", name.rsplit(".", 1)[1]): name for name in STORE_PACKAGES}
        packages.update({("supplier", name.rsplit(".", 1)[1]): name for name in SUPPLIER_PACKAGES})
        return cls([], packages)

    def specs(self, role: str | None = None) -> list[ConnectorSpec]:
        for key in list(self._packages):
            if role is None or key[0] == role:
                self._load(key)
        return [s for (r, _), s in sorted(self._specs.items()) if role is None or r == role]

    def spec(self, role: str, kind: str) -> ConnectorSpec:
        self._load((role, kind))
        spec = self._specs.get((role, kind))
        if spec is None:
            what = "platform" if role == "store" else "kind"
            known = sorted(name for (r, name) in (*self._specs, *self._packages) if r == role)
            raise ValidationError(f"unknown {role} {what} {kind!r}; one of {', '.join(known)}", what)
        return spec

    # ---- ConnectorDirectory ------------------------------------------------------------------------------

    def kinds(self, role: str) -> list[KindInfo]:
        return [s.info() for s in self.specs(role)]

    def info(self, role: str, kind: str) -> KindInfo:
        found = self._infos.get((role, kind))
        if found is None:
            found = self._infos[(role, kind)] = self.spec(role, kind).info()
        return found

    def validate(self, role: str, kind: str, base_url: str, credentials: Mapping[str, Any],
                 config: Mapping[str, Any]) -> dict[str, Any]:
        spec = self.spec(role, kind)
        if spec.needs_url and not base_url:
            raise ValidationError(f"{kind} needs --url (the platform's base URL)", "url")
        check_credentials(spec, credentials)
        try:
            model = spec.config_model.model_validate(dict(config))
        except PydanticValidationError as exc:
            raise ValidationError(_first_problem(exc, "config"), _first_location(exc, "config")) from None
        return model.model_dump(mode="json", exclude_unset=True)

    def build(self, role: str, kind: str, base_url: str, credentials: Mapping[str, Any],
              config: Mapping[str, Any], services: ConnectorServices | None = None) -> Any:
        spec = self.spec(role, kind)
        if spec.wants_services:
            return spec.factory(base_url, dict(credentials), dict(config), services=services)
        return spec.factory(base_url, dict(credentials), dict(config))


def check_credentials(spec: ConnectorSpec, credentials: Mapping[str, Any]) -> None:
    known = set(spec.credentials) | set(spec.optional_credentials) | {k for group in spec.one_of for k in group}
    for key, value in credentials.items():
        if key not in known:
            raise ValidationError(f"credentials.{key}: not a credential of {spec.name} "
                                  f"(known: {', '.join(sorted(known)) or 'none'})", f"credentials.{key}")
        if not isinstance(value, str) or not value:
            raise ValidationError(f"credentials.{key}: must be a non-empty string", f"credentials.{key}")
    for key in spec.credentials:
        if key not in credentials:
            raise ValidationError(f"credentials.{key}: required by {spec.name}", f"credentials.{key}")
    if spec.one_of and not any(all(k in credentials for k in group) for group in spec.one_of):
        options = " or ".join("+".join(group) for group in spec.one_of)
        raise ValidationError(f"credentials: {spec.name} needs {options}", "credentials")


def _first_location(exc: PydanticValidationError, prefix: str) -> str:
    loc = exc.errors()[0]["loc"]
    return ".".join([prefix, *(str(p) for p in loc)])


def _first_problem(exc: PydanticValidationError, prefix: str) -> str:
    error = exc.errors()[0]
    where = _first_location(exc, prefix)
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown key"
    return f"{where}: {error['msg']}"
