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


def main() -> None:
    """Run localstripe's server with its per-write disk dump disabled and its lists indexed."""
    from localstripe import resources, server

    resources.Store.dump_to_disk = lambda self: None  # type: ignore[method-assign]
    _index_store(resources)
    server.start()


if __name__ == "__main__":
    main()
