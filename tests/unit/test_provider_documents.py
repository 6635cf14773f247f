"""Issue 14: where our reading of a provider differed from its own documents or SDK.

Each test quotes its source and fails on the old reading."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import stripe

from backout.domain.events import ShipmentStatus
from backout.domain.rules import INTERCEPT_FINAL
from backout.ingress.normalize import aftership
from backout.ingress.normalize.stripe import EXPIRY_REASONS


def test_aftership_returning_to_sender_is_not_returned() -> None:
    """https://www.aftership.com/docs/tracking/2026-07/enum/delivery-sub-statuses lists
    ``Exception_010`` "Returning to sender: the package is on its way back to the sender" and
    ``Exception_011`` "Returned to sender: the returned package has been successfully received by the
    sender". Only the second ends an intercept (rule 2); the first was read as the second, so the
    saga refunded and restocked while the parcel still travelled."""
    returning = aftership.status_for("Exception", "Exception_010")
    returned = aftership.status_for("Exception", "Exception_011")
    assert returned == ShipmentStatus.RETURN_TO_SENDER and returned.value in INTERCEPT_FINAL
    assert returning == ShipmentStatus.EXCEPTION and returning.value not in INTERCEPT_FINAL


def test_stripe_expiry_reasons_are_the_ones_stripe_sets() -> None:
    """stripe-python's ``PaymentIntent.cancellation_reason`` is ``Literal["abandoned", "automatic",
    "duplicate", "expired", "failed_invoice", "fraudulent", "requested_by_customer", "void_invoice"]``
    (stripe/_payment_intent.py); ``expired`` was read as a seller's void, not as a lapsed authorization."""
    source = Path(inspect.getfile(stripe.PaymentIntent)).read_text()
    block = re.search(r"\n    cancellation_reason: Optional\[(.*?)\n    \]", source, re.S)
    assert block is not None, "stripe-python no longer declares PaymentIntent.cancellation_reason this way"
    declared = set(re.findall(r'"([a-z_]+)"', block.group(1)))
    assert {"automatic", "expired", "requested_by_customer"} <= declared
    assert EXPIRY_REASONS == {"automatic", "expired"}  # Stripe's own two; the rest are the seller's reasons
