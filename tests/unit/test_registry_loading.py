"""The default registry imports a connector package when its kind is first asked for, and still refuses a
package whose SPEC declares capabilities its implementation lacks, or names another kind."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from dropbridge.connectors.registry import STORE_PACKAGES, SUPPLIER_PACKAGES, Registry
from dropbridge.domain.errors import ConfigurationError, ValidationError


def test_a_command_imports_only_the_connectors_it_asks_for():
    code = ("import sys\nfrom dropbridge.connectors.registry import Registry\nr = Registry.default()\n"
            "r.spec('supplier', 'rest')\n"
            "print(sorted(m for m in sys.modules if m.count('.') == 3 and m.startswith('dropbridge.connectors.s')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['dropbridge.connectors.suppliers.rest']"


def test_every_package_loads_under_its_own_name():
    registry = Registry.default()
    loaded = {(s.role, s.name) for s in registry.specs()}
    assert loaded == {("store", p.rsplit(".", 1)[1]) for p in STORE_PACKAGES} | \
        {("supplier", p.rsplit(".", 1)[1]) for p in SUPPLIER_PACKAGES}
    assert [s.name for s in registry.specs("store")] == sorted(p.rsplit(".", 1)[1] for p in STORE_PACKAGES)


def test_an_unknown_kind_names_the_known_ones_without_loading_them():
    registry = Registry([], {("supplier", "acme"): "not.imported", ("supplier", "zeta"): "not.imported.either"})
    with pytest.raises(ValidationError, match="unknown supplier kind 'nope'; one of acme, zeta"):
        registry.spec("supplier", "nope")


@pytest.fixture
def fake_packages(tmp_path, monkeypatch):
    """Connector packages written for the test: one lacking the method its capability needs, one whose SPEC
    names another kind than its package."""
    source = textwrap.dedent("""
        from pydantic import BaseModel
        from dropbridge.connectors.registry import ConnectorSpec
        from dropbridge.services.ports import Capability

        class Config(BaseModel):
            pass

        class Lacking:  # takes orders, yet has no place_order
            pass

        SPEC = ConnectorSpec(name=NAME, role="supplier", capabilities=frozenset({Capability.ORDERS}),
                             config_model=Config, factory=lambda *a: Lacking(), implementation=Lacking)
    """)
    for module, name in (("lacking", "lacking"), ("misnamed", "other")):
        (tmp_path / f"fake_{module}.py").write_text(f"NAME = {name!r}\n" + source)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    for module in ("fake_lacking", "fake_misnamed"):
        sys.modules.pop(module, None)


def test_a_package_declaring_what_it_lacks_is_refused_when_loaded(fake_packages):
    registry = Registry([], {("supplier", "lacking"): "fake_lacking"})
    with pytest.raises(ConfigurationError, match="supplier kind 'lacking' declares what it lacks: .*place_order"):
        registry.spec("supplier", "lacking")
    with pytest.raises(ConfigurationError, match="declares what it lacks"):
        registry.specs()  # still refused: a failed load leaves nothing registered


def test_a_package_naming_another_kind_is_refused(fake_packages):
    registry = Registry([], {("supplier", "misnamed"): "fake_misnamed"})
    with pytest.raises(ConfigurationError, match="fake_misnamed declares supplier kind 'other', not supplier 'mis"):
        registry.spec("supplier", "misnamed")
