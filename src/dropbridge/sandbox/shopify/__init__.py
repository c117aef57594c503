"""Emulator of the Shopify Admin GraphQL API, the OAuth client-credentials grant and order webhooks,
per `../shared/contracts/storefronts.md` §1 and the §4 checklist.

Modules: `graphql` (parser), `cost` and `throttle` (the bucket), `projector` and `executor` (running a
query), `auth` (tokens), `catalog`, `inventory`, `orders`, `webhooks` (the shop's objects and mutations),
`app` (HTTP routes and controls), `emulator` (settings and state).
"""

from .emulator import API_VERSIONS, ShopifyEmulator
from .graphql import GraphQLError, parse
from .orders import DEFAULT_ADDRESS
from .webhooks import TOPICS, sign_webhook

__all__ = ["API_VERSIONS", "DEFAULT_ADDRESS", "TOPICS", "GraphQLError", "ShopifyEmulator", "parse", "sign_webhook"]
