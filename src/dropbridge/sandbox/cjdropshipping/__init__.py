"""Emulator of CJdropshipping API 2.0 (`dropbridge sandbox run cjdropshipping`), built on the emulator kit.

Follows ../shared/contracts/suppliers.md section 2 and section 7; every route under `/api2.0/v1`:
- Envelope `{code, result, message, data, requestId}` on every reply, unknown routes and wrong methods
  too (404/405). Business and auth errors come with HTTP `error_status` (200 by default: [U] in the
  contract); the QPS limit answers 429 with code 1600200 ("Too Many Requests, QPS limit is N time/1second"),
  with `Retry-After` only when `retry_after_header` (CJ documents none).
- Tokens: `POST /authentication/getAccessToken {"apiKey"}` once per `token_interval` (300 s), `refreshAccessToken
  {"refreshToken"}` `refresh_per_minute` (5) times a minute; access tokens live `access_ttl` (15 days), refresh
  tokens `refresh_ttl` (180 days); a refresh revokes the old access token (`invalidate_on_refresh`). Every
  other route needs `CJ-Access-Token`: empty 1600002, unknown or expired 1600001.
- Limits: `qps` requests in any second per account (1 Free, 2 Plus, 4 Prime, 6 Advanced), and optionally
  `daily_limit` calls per endpoint per day.
- Catalog: `GET /product/listV2?page=1..1000&size=1..100&keyWord&categoryId&countryCode` (data.content[]
  .productList[]), `GET /product/query?pid|productSku|variantSku`, `GET /product/variant/query?pid|variantSku`,
  `GET /product/variant/queryByVid?vid`, stock per warehouse `GET /product/stock/getInventoryByPid?pid`,
  `queryByVid?vid`, `queryBySku?sku` (CJ's own and factory stock, CN and US warehouses). The catalog is
  generated (`products` x `variants_per_product`) or given (`catalog`).
- `POST /logistic/freightCalculate`: CJPacket Ordinary and DHL everywhere, USPS+ within the US; `GET
  /logistic/trackInfo?trackNumber=..`.
- `POST /shopping/order/createOrderV2`: required fields checked; `logisticName` must be one freightCalculate
  offers for the route; stock taken from `fromCountryCode`'s warehouse (1603001 when short); `payType` 2 pays
  from the balance (left UNPAID when short), 3 only creates (CREATED), 1 leaves it UNPAID with a pay link. A
  repeated orderNumber makes a second order (`duplicate_order_number="reject"` refuses it instead: [U]).
  `GET /shopping/order/getOrderDetail?orderId=<CJ id or orderNumber>` (an unknown one: null data, or an error
  with `order_not_found="error"`: [U]), `GET /shopping/order/list`, `DELETE /shopping/order/deleteOrder?orderId`
  (before payment only), `POST /shopping/pay/payBalance {"orderId"}`, `GET /shopping/pay/getBalance`.
- Paid orders ship after `ship_after_seconds` with a tracking number; CJ then sends ORDER and LOGISTICS messages
  `{messageId, type, messageType, openId, params}` (params [U]) to the URLs `POST /webhook/set` registered (or
  to `webhook_url?token=<webhook_secret>` given at start), retried on `webhook_retry_delays`.
- Faults (`POST /_control/faults {"mode", "operation", "count", "seconds"}`) per operation: `orders.create`,
  `orders.detail`, `orders.cancel`, `orders.pay`, `catalog`, `freight`, `tracking`, `webhooks`, `auth`; modes
  none, hang_after_accept, timeout_before_accept, error_500, rate_limit, reject, token_expired (every access
  token issued expires now; refresh tokens stay good). Also `/_control/orders`, `/_control/ship/{orderId}`,
  `/_control/pay/{orderId}`, `/_control/expire-tokens`, `/_control/calls`, `/_control/deliveries`,
  `/_control/reset`.
"""

from .emulator import CjEmulator

__all__ = ["CjEmulator"]
