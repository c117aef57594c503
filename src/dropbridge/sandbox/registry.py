"""Every emulator by the name `dropbridge sandbox run NAME` knows it: a factory building it with settings that
make it usable by hand (credentials of its own, a little stock), and nothing started at import time."""

from __future__ import annotations

import importlib
import secrets
from collections.abc import Callable
from typing import Any

from .kit import Emulator


def _rest(webhook_url: str | None = None) -> Emulator:
    from .rest_supplier import RestSupplierEmulator

    return RestSupplierEmulator(api_key=secrets.token_hex(12), webhook_url=webhook_url,
                                webhook_secret=secrets.token_hex(16), name="rest", ship_after_seconds=30,
                                stock={"TEE-BLK-M": 100, "MUG-WHT": 50},
                                prices={"TEE-BLK-M": "8.50", "MUG-WHT": "3.20"})


def _aliexpress(webhook_url: str | None = None) -> Emulator:
    # AliExpress's message push is not emulated (its signature is unverified): tracking is polled.
    from .aliexpress import AliExpressEmulator, generate

    return AliExpressEmulator(products=generate(3, 4), auto_pay_allowed=True, ship_after_seconds=30)
def _printful(webhook_url: str | None = None) -> Emulator:
    from .printful import PrintfulEmulator
    return PrintfulEmulator(api_token=secrets.token_hex(16), webhook_url=webhook_url, ship_after_seconds=30)


def _shopify(webhook_url: str | None = None) -> Emulator:
    from .shopify import ShopifyEmulator

    return ShopifyEmulator(shop="sandbox")


def _woocommerce(webhook_url: str | None = None) -> Emulator:
    from .woocommerce import WooCommerceEmulator

    return WooCommerceEmulator()


def _bigcommerce(webhook_url: str | None = None) -> Emulator:
    from .bigcommerce import BigCommerceEmulator

    return BigCommerceEmulator()


def _headless(webhook_url: str | None = None) -> Emulator:
    from .headless_store import HeadlessStoreEmulator

    return HeadlessStoreEmulator(secrets.token_hex(16))


def _edi_partner(webhook_url: str | None = None) -> Emulator:
    from .edi_partner import EdiPartnerEmulator

    return EdiPartnerEmulator(ship_after_seconds=30, stock={"TEE-BLK-M": 100, "MUG-WHT": 50})
def _cjdropshipping(webhook_url: str | None = None) -> Emulator:
    from .cjdropshipping import CjEmulator
    # An Advanced-level account (6 requests a second) with a balance, so its orders are paid and ship.
    return CjEmulator(api_key=f"CJ{secrets.randbelow(10**7):07d}@api@{secrets.token_hex(16)}", products=3,
                      variants_per_product=4, qps=6, ship_after_seconds=5, webhook_url=webhook_url)
def _mail(webhook_url: str | None = None) -> Emulator:
    from .mail import MailEmulator
    # By hand: the supplier confirms after 5 s and ships after 20 s, so each step can be watched.
    return MailEmulator(confirm_after=5.0, ship_after=20.0)


# name -> "module:factory"; each factory takes keyword options (webhook_url) and returns an Emulator.
EMULATORS: dict[str, str] = {
    "rest": f"{__name__}:_rest",
    "printful": f"{__name__}:_printful",
    "shopify": f"{__name__}:_shopify",
    "woocommerce": f"{__name__}:_woocommerce",
    "bigcommerce": f"{__name__}:_bigcommerce",
    "headless": f"{__name__}:_headless",
    "edi-partner": f"{__name__}:_edi_partner",
    "aliexpress": f"{__name__}:_aliexpress",
    "cjdropshipping": f"{__name__}:_cjdropshipping",
    "mail": f"{__name__}:_mail",
}


def names() -> list[str]:
    return sorted(EMULATORS)


def build(name: str, **options: Any) -> Emulator:
    target = EMULATORS.get(name)
    if target is None:
        raise KeyError(f"no emulator named {name!r}; one of {', '.join(names())}")
    module, _, attr = target.partition(":")
    factory: Callable[..., Emulator] = getattr(importlib.import_module(module), attr)
    return factory(**options)
