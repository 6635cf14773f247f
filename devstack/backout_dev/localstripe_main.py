"""Start localstripe (dev only, its own process) without the costs that grow with its store.

localstripe's ``Store.__setitem__`` (and a middleware after every POST) pickles
the *entire* store to ``/tmp/localstripe.pickle``. Each write therefore costs
time in proportion to everything created so far: a 10,000-order soak spent
its first quarter hour creating PaymentIntents, and every localstripe on the
machine rewrites the same file. The local stack starts a fresh store each
time (``--from-scratch``) and never reads the file back, so the dump is
switched off here.

Listing also scans the whole store: ``StripeObject._api_list_all`` walks every
object to find one type's, and every Charge export (inside every
PaymentIntent answer) lists its refunds that way, several times. At soak
size that made each request cost milliseconds per thousand objects. The
launcher keeps an index by object type, and one of refunds by charge, and
answers those lists from it with localstripe's own validation, order and
``List`` paging. Everything else is localstripe's own ``server.start()``.

localstripe settles every refund at once and cannot fail one. The launcher
adds what Stripe documents and the local stack needs (:func:`_refund_controls`),
driven from the test process through dev-only endpoints under localstripe's
own unauthenticated ``/_config/`` prefix (``LocalStripe`` in ``processes.py``):

* ``POST /_config/backout/hold_refunds`` ``{"payment_intent", "hold"}``: refunds
  created on a held PaymentIntent start ``pending`` (Refund object, ``status``:
  "pending, requires_action, succeeded, failed, or canceled",
  https://docs.stripe.com/api/refunds/object);
* ``POST /_config/backout/refunds/{id}/status`` ``{"status", "failure_reason"}``:
  pending -> succeeded / failed / canceled, and succeeded -> failed (a refund
  can fail after it appeared succeeded: https://docs.stripe.com/refunds#failed-refunds);
  answers the refund as a webhook carries it;
* ``GET /_config/backout/refunds?payment_intent=``: those refunds, any status.

Every refund carries ``failure_reason`` and ``failure_balance_transaction``
(null until it fails). A charge's ``amount_refunded`` (and so ``refunded``)
counts ``succeeded`` and ``pending`` refunds, as Stripe's does: a pending refund
is already taken from the balance and only waits to be sent; a failed or
canceled one gives the money back to the balance and stops counting.

    python -m backout_dev.localstripe_main --port 8420 --from-scratch
"""

from __future__ import annotations

from typing import Any


def _index_store(resources: Any) -> None:
    """Answer type lists and refunds-by-charge from indexes kept as the store changes."""
    by_type: dict[str, dict[str, Any]] = {}
    unindexed_refunds: list[Any] = []  # created, not yet filed under their charge
    refunds_by_charge: dict[str, list[Any]] = {}

    def setitem(self: Any, key: str, value: Any) -> None:
        dict.__setitem__(self, key, value)
        kind = key.split(":", 1)[0]
        by_type.setdefault(kind, {})[key] = value
        if kind == "refund":
            unindexed_refunds.append(value)

    def delitem(self: Any, key: str) -> None:
        value = self[key]
        dict.__delitem__(self, key)
        by_type.get(key.split(":", 1)[0], {}).pop(key, None)
        for refunds in refunds_by_charge.values():
            if value in refunds:
                refunds.remove(value)
        if value in unindexed_refunds:
            unindexed_refunds.remove(value)

    def clear(self: Any) -> None:  # DELETE /_config/data
        dict.clear(self)
        by_type.clear()
        unindexed_refunds.clear()
        refunds_by_charge.clear()

    def refunds_of(charge: str) -> list[Any]:
        while unindexed_refunds and getattr(unindexed_refunds[0], "charge", None) is not None:
            refund = unindexed_refunds.pop(0)
            refunds_by_charge.setdefault(refund.charge, []).append(refund)
        return refunds_by_charge.get(charge, [])

    def list_all(cls: Any, url: str, limit: Any = None, starting_after: Any = None, **kwargs: Any) -> Any:
        if kwargs:
            raise resources.UserError(400, "Unexpected " + ", ".join(kwargs.keys()))
        listed = resources.List(url, limit=limit, starting_after=starting_after)
        listed._list = list(by_type.get(cls.object, {}).values())
        return listed

    original_refund_list = resources.Refund.__dict__["_api_list_all"]

    def refund_list(cls: Any, url: str, charge: Any = None, payment_intent: Any = None, limit: Any = None,
                    starting_after: Any = None) -> Any:
        if charge is None and payment_intent is None:
            return original_refund_list.__func__(cls, url, limit=limit, starting_after=starting_after)
        try:
            if charge is not None:
                assert type(charge) is str and charge.startswith("ch_")
                assert payment_intent is None
            else:
                assert type(payment_intent) is str and payment_intent.startswith("pi_")
                charge = resources.PaymentIntent._api_retrieve(payment_intent).latest_charge.id
        except AssertionError:
            raise resources.UserError(400, "Bad request") from None
        resources.Charge._api_retrieve(charge)  # 404 for an unknown charge, as localstripe answers
        listed = resources.List(url, limit=limit, starting_after=starting_after)
        listed._list = sorted(refunds_of(charge), key=lambda r: r.date, reverse=True)
        return listed

    resources.Store.__setitem__ = setitem
    resources.Store.__delitem__ = delitem
    resources.Store.clear = clear
    resources.StripeObject._api_list_all = classmethod(list_all)
    resources.Refund._api_list_all = classmethod(refund_list)


#: Refund statuses that hold the money back from the balance (Stripe's ``amount_refunded``).
COUNTED = ("succeeded", "pending")
#: The moves the controls allow: from the key to any of its values.
MOVES = {"pending": {"succeeded", "failed", "canceled"}, "requires_action": {"succeeded", "failed", "canceled"},
         "succeeded": {"failed"}}
#: Stripe's refund ``failure_reason`` values (https://docs.stripe.com/api/refunds/object).
FAILURE_REASONS = ("lost_or_stolen_card", "expired_or_canceled_card", "charge_for_pending_refund_disputed",
                   "insufficient_funds", "declined", "merchant_request", "unknown")


def webhook_refund(resources: Any, refund: Any) -> dict[str, Any]:
    """The Refund as a webhook's ``data.object`` carries it (the PaymentIntent filled in from the charge)."""
    payment_intent = refund.payment_intent or resources.Charge._api_retrieve(refund.charge).payment_intent
    return {"id": refund.id, "object": "refund", "amount": refund.amount, "currency": refund.currency,
            "status": refund.status, "payment_intent": payment_intent, "charge": refund.charge,
            "metadata": dict(refund.metadata or {}), "reason": getattr(refund, "reason", None),
            "balance_transaction": refund.balance_transaction, "failure_reason": refund.failure_reason,
            "failure_balance_transaction": refund.failure_balance_transaction, "created": refund.created}


def _move(resources: Any, refund: Any, status: str, failure_reason: str | None) -> None:
    """One status change of a stored refund, or a 400 for one Stripe does not make."""
    if status == refund.status:
        return
    if status not in MOVES.get(refund.status, ()):
        raise resources.UserError(400, f"a {refund.status} refund cannot become {status}")
    if failure_reason is not None and (status != "failed" or failure_reason not in FAILURE_REASONS):
        raise resources.UserError(400, f"failure_reason {failure_reason!r} does not fit status {status}")
    if status == "failed":  # the money comes back to the balance: Stripe's refund_failure transaction
        txn = resources.BalanceTransaction(amount=refund.amount, currency=refund.currency, reporting_category="refund",
                                           description="REFUND FAILURE", source=refund.id, type="refund")
        txn.type = txn.reporting_category = "refund_failure"
        refund.failure_balance_transaction = txn.id
        refund.failure_reason = failure_reason or "unknown"
    refund.status = status


def _refund_controls(resources: Any, app: Any) -> None:
    """Pending refunds on held PaymentIntents, later status changes, and ``amount_refunded`` that follows them."""
    from aiohttp import web

    held: set[str] = set()
    original_init = resources.Refund.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.failure_reason = self.failure_balance_transaction = None
        if (self.payment_intent or resources.Charge._api_retrieve(self.charge).payment_intent) in held:
            self.status = "pending"

    def amount_refunded(self: Any) -> int:
        return sum(r.amount for r in self.refunds._list if r.status in COUNTED)

    async def hold(request: Any) -> Any:
        body = await request.json()
        (held.add if body.get("hold", True) else held.discard)(str(body["payment_intent"]))
        return web.json_response({"held": sorted(held)})

    async def set_status(request: Any) -> Any:  # a UserError becomes localstripe's error answer (its middleware)
        body = await request.json()
        refund = resources.Refund._api_retrieve(request.match_info["id"])
        _move(resources, refund, str(body.get("status")), body.get("failure_reason"))
        return web.json_response(webhook_refund(resources, refund))

    async def listed(request: Any) -> Any:
        if "payment_intent" not in request.query:
            raise resources.UserError(400, "payment_intent is required")
        refunds = resources.Refund._api_list_all("/v1/refunds", payment_intent=request.query["payment_intent"])
        return web.json_response({"data": [webhook_refund(resources, r) for r in refunds._list]})

    resources.Refund.__init__ = init
    resources.Charge.amount_refunded = property(amount_refunded)
    app.router.add_post("/_config/backout/hold_refunds", hold)
    app.router.add_post("/_config/backout/refunds/{id}/status", set_status)
    app.router.add_get("/_config/backout/refunds", listed)


#: What Stripe's "Cancel a PaymentIntent" accepts as ``cancellation_reason`` (the seller's reasons;
#: https://docs.stripe.com/api/payment_intents/cancel: "Possible values are duplicate, fraudulent,
#: requested_by_customer, or abandoned"). localstripe refuses the parameter altogether.
SELLER_CANCELLATION_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer", "abandoned"})


def _cancellation_reason(resources: Any) -> None:
    """``POST /v1/payment_intents/{id}/cancel`` takes ``cancellation_reason`` and the intent keeps it."""
    original = resources.PaymentIntent.__dict__["_api_cancel"].__func__

    def cancel(cls: Any, id: Any, cancellation_reason: Any = None, **kwargs: Any) -> Any:
        if cancellation_reason is not None and cancellation_reason not in SELLER_CANCELLATION_REASONS:
            raise resources.UserError(400, f"Invalid cancellation_reason: {cancellation_reason}")
        obj = original(cls, id, **kwargs)
        obj.cancellation_reason = cancellation_reason
        return obj

    resources.PaymentIntent._api_cancel = classmethod(cancel)
    route = "/v1/payment_intents/{id}/cancel"  # the server builds its routes from this list when it is imported
    resources.extra_apis[:] = [(m, u, resources.PaymentIntent._api_cancel if u == route else f)
                               for m, u, f in resources.extra_apis]


def main() -> None:
    """Run localstripe's server with its per-write disk dump disabled, its lists indexed and the refund controls."""
    from localstripe import resources

    _cancellation_reason(resources)  # before the server module reads the routes
    from localstripe import server

    resources.Store.dump_to_disk = lambda self: None  # type: ignore[method-assign]
    _index_store(resources)
    _refund_controls(resources, server.app)
    server.start()


if __name__ == "__main__":
    main()
