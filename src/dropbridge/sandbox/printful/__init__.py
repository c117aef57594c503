"""Emulator of Printful's API (v1 and v2), the `printful` supplier connector's counterpart.

What it implements, by contract point (`../shared/contracts/suppliers.md` section 1, emulator notes in 7):
- 1.1 Bearer token auth on every route; `X-PF-Store-Id` must name this store when sent.
- 1.2 v1 envelopes `{"code", "result", "paging"?}`, v2 `{"data", "paging"?, "_links"}`; 4xx errors in the
  `{"code", "result", "error": {"reason", "message"}}` shape the published documents give both versions, v2
  5xx as ProblemDetails; unknown routes answer 404 in the same envelope.
- 1.3 A token bucket of `rate_limit_per_minute` (120 by default) per token with `X-Ratelimit-*` headers and 429
  with `Retry-After`; catalog calls refused are locked out 60 s; shipping rates for more than 100 items 5/60 s.
- 1.4/1.5 v2 catalog products, variants, prices (per technique, placements priced extra) and availability per
  selling region; the store's own products (v1 sync products on catalog variants, with print files).
- 1.6 Shipping rates (v2 snake_case, v1 camelCase) from the emulator's own rate table.
- 1.7 Orders through v2 (catalog items with placements; created as drafts, `/confirmation`) and v1 (any item
  kind, `?confirm=`); `external_id` unique per store (OR-13), orders read by id or `@external_id` through either
  version; costs "calculating" for `cost_delay_seconds`, then done (and `order_updated` sent); v1 DELETE
  cancels a draft or pending order; only drafts confirm (OR-1).
- 1.8 Shipments `ship_after_seconds` after confirmation (or `/_control/ship/{id}`), in v1 `shipments[]` with
  tracking numbers and in v2 `/shipments` (without one: `v2_shipment_tracking_number` is the [U] setting).
- 1.9 v2 webhook configuration (secret key shown once); events signed with `x-pf-webhook-signature` (hex
  HMAC-SHA256 of the raw body; `signing_key` "hex" decodes the secret first [C], "text" does not) and
  `x-pf-webhook-public-key`; failed deliveries retried (scaled-down delays) with `retries` counting up.

Unverified points are settings: `signing_key`, `v2_shipment_tracking_number`, `refuse_out_of_stock`.
Faults (`POST /_control/faults {"mode", "operation", "count", "seconds", "retry_after"}`): operations
`orders.create`, `orders.confirm`, `orders.read`, `orders.cancel`, `catalog`, `store`, `shipping`, `webhooks`;
modes none, hang_after_accept, timeout_before_accept, error_500, rate_limit, reject, token_expired. Also
`GET /_control/orders`, `POST /_control/ship/{id}`, `POST /_control/status/{id} {"status", "reason"}`,
`POST /_control/stock {"variant_id", "availability", "region"?}`, `GET /_control/calls`,
`GET /_control/deliveries`, `POST /_control/reset`.
"""

from .emulator import PrintfulEmulator

__all__ = ["PrintfulEmulator"]
