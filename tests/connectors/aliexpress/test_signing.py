"""IOP request signing against vectors made outside this code: the sha256 ones with `openssl dgst -sha256
-hmac` over the string the SDK builds (shared/contracts/suppliers.md 3.1), the md5 (legacy TOP) ones as
published with the research note the contract cites (computed there by running a working client's sign())."""

from __future__ import annotations

import pytest

from dropbridge.connectors.suppliers.aliexpress.signing import sign, string_to_sign, verify

BUSINESS = {"app_key": "12345678", "format": "json", "method": "aliexpress.ds.product.get",
            "partner_id": "iop-sdk-python-20220609", "product_id": "1005003784285827", "session": "test-access-token",
            "sign_method": "sha256", "simplify": "false", "ship_to_country": "US", "timestamp": "1700000000000"}
SYSTEM = {"app_key": "12345678", "format": "json", "method": "/auth/token/refresh",
          "partner_id": "iop-sdk-python-20220609", "refresh_token": "500017000abcdef", "sign_method": "sha256",
          "simplify": "false", "timestamp": "1700000000000"}


def test_business_method_sha256_matches_openssl():
    # printf '%s' 'app_key12345678formatjsonmethodaliexpress.ds.product.get...sessiontest-access-token
    # ship_to_countryUSsign_methodsha256simplifyfalsetimestamp1700000000000' | openssl dgst -sha256 -hmac helloworld
    # (ASCII order: "ship_to_country" sorts before "sign_method")
    assert string_to_sign("aliexpress.ds.product.get", BUSINESS).endswith(
        "sessiontest-access-tokenship_to_countryUSsign_methodsha256simplifyfalsetimestamp1700000000000")
    assert sign("helloworld", "aliexpress.ds.product.get", BUSINESS) == \
        "5B44E9875DC5D42D2C60574BA0D660562CAD3AA16109611A0C23DB2F76A6D512"


def test_system_path_is_signed_with_the_path_in_front():
    assert string_to_sign("/auth/token/refresh", SYSTEM).startswith("/auth/token/refreshapp_key12345678")
    assert sign("helloworld", "/auth/token/refresh", SYSTEM) == \
        "D0504EDD794461C36EAC5C53FCE7CDFD04C4B10432987E853921ECE5CDE51BB0"


def test_legacy_md5_vectors_published_with_the_research_note():
    assert sign("testsecret", "x.y", {"foo": "1", "bar": "2", "foo_bar": "3", "foobar": "4"}, "md5") == \
        "54C22189FE38F1B7E6E4D701FB82851E"
    params = {"app_key": "12345678", "method": "aliexpress.ds.product.get", "timestamp": "1700000000000",
              "format": "json", "v": "2.0", "sign_method": "md5", "partner_id": "taobao-sdk-python-20200924",
              "session": "test-access-token", "product_id": "1005001234567890", "ship_to_country": "GB",
              "target_currency": "GBP", "target_language": "en_US"}
    assert sign("my_app_secret_123", "aliexpress.ds.product.get", params, "md5") == "3C285A05E7275C1E100E170EFA715F1E"


def test_sign_itself_and_nulls_are_left_out_and_keys_sort_as_ascii():
    with_sign = {**BUSINESS, "sign": "ANYTHING", "absent": None}
    assert sign("helloworld", "aliexpress.ds.product.get", with_sign) == sign("helloworld",
                                                                            "aliexpress.ds.product.get", BUSINESS)
    assert string_to_sign("a.b", {"b": "2", "B": "1", "a_": "3", "a": "4"}) == "B1a4a_3b2"


def test_verify_accepts_both_methods_and_refuses_any_change():
    signed = {**BUSINESS, "sign": sign("helloworld", "aliexpress.ds.product.get", BUSINESS)}
    assert verify("helloworld", "aliexpress.ds.product.get", signed)
    assert verify("helloworld", "aliexpress.ds.product.get", {**signed, "sign": signed["sign"].lower()})
    assert not verify("other-secret", "aliexpress.ds.product.get", signed)
    assert not verify("helloworld", "aliexpress.ds.product.get", {**signed, "product_id": "1"})
    assert not verify("helloworld", "aliexpress.ds.product.get", {**signed, "sign_method": "sha1"})
    md5 = {**BUSINESS, "sign_method": "md5"}
    assert verify("helloworld", "x", {**md5, "sign": sign("helloworld", "x", md5, "md5")})
    with pytest.raises(ValueError):
        sign("s", "x", {}, "sha1")
