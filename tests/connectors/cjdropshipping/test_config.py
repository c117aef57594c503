"""`supplier add --kind cjdropshipping` is validated by the registry: each wrong key named, nothing else."""

from __future__ import annotations

import pytest

from dropbridge.connectors.registry import Registry
from dropbridge.domain.errors import ValidationError


@pytest.mark.parametrize(("credentials", "config", "field"), [
    ({}, {}, "credentials.api_key"),
    ({"api_key": "k", "password": "p"}, {}, "credentials.password"),  # CJ's password login is gone
    ({"api_key": "k"}, {"qps": 7}, "config.qps"),  # 6 is the highest documented level
    ({"api_key": "k"}, {"from_country_code": "China"}, "config.from_country_code"),
    ({"api_key": "k"}, {"catalog_page_size": 200}, "config.catalog_page_size"),  # listV2 takes at most 100
    ({"api_key": "k"}, {"pay_by_card": True}, "config.pay_by_card"),
])
def test_wrong_settings_are_refused_naming_the_key(credentials, config, field):
    with pytest.raises(ValidationError) as info:
        Registry.default().validate("supplier", "cjdropshipping", "", credentials, config)
    assert info.value.field == field


def test_no_url_is_needed_and_the_settings_read_back_as_given():
    clean = Registry.default().validate("supplier", "cjdropshipping", "", {"api_key": "k", "webhook_secret": "w"},
                                        {"pay_from_balance": True, "qps": 2, "from_country_code": "us"})
    assert clean == {"pay_from_balance": True, "qps": 2.0, "from_country_code": "US"}
    connector = Registry.default().build("supplier", "cjdropshipping", "", {"api_key": "k"}, clean)
    assert str(connector.client._http.base_url) == "https://developers.cjdropshipping.com/api2.0/v1/"
    assert (connector.pay_from_balance, connector.from_country, connector.qps) == (True, "US", 2.0)
    connector.close()
