"""Local fakes of the providers Backout calls out to (dev and tests only, never deployed).

Each fake is a stateful ``ThreadingHTTPServer`` on ``127.0.0.1`` and a random
port (``.url``, ``.start()``, ``.stop()``, usable as a context manager) that
keeps the provider's documented contract as far as Backout uses it: states,
error names and codes, idempotency keys (same key -> same answer, no second
effect) and credential checks (401). Each keeps a ``ledger`` of the effects
it performed, and has fault knobs: ``fail_next(n, status)`` and
``drop_next_response(n)`` (the effect happens, the answer is a 500).

| fake | adapter |
| --- | --- |
| :class:`FakePayPal` | :class:`backout.adapters.paypal_gateway.PayPalGateway` |
| :class:`FakeShopify` | :class:`backout.adapters.shopify.ShopifyClient` |
| :class:`FakeOzon` | :class:`backout.adapters.ozon.OzonClient` |
| :class:`FakeTikTok` | :class:`backout.adapters.tiktok.TikTokClient` |
| :class:`FakeCarrier` | :class:`backout.adapters.carrier.CarrierClient` (an invented contract, to be replaced) |
| :class:`FakeEasyPost` | :class:`backout.adapters.easypost.EasyPostClient` (return shipments; not wired into the saga yet) |

(WooCommerce's fake is ``backout_dev.processes.FakeWooCommerce``.)
"""

from backout_dev.fakes._base import FakeServer, Request, Response
from backout_dev.fakes.carrier import FakeCarrier
from backout_dev.fakes.easypost import FakeEasyPost
from backout_dev.fakes.ozon import FakeOzon
from backout_dev.fakes.paypal import FakePayPal
from backout_dev.fakes.shopify import FakeShopify
from backout_dev.fakes.tiktok import FakeTikTok

__all__ = ["FakeCarrier", "FakeEasyPost", "FakeOzon", "FakePayPal", "FakeServer", "FakeShopify", "FakeTikTok", "Request", "Response"]
